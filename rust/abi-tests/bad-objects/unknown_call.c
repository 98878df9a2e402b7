/* Bad kernel object: calls a function that is not on the allow-list. */
extern int printk(const char *fmt, ...);

int fm_bad_unknown_call(int x)
{
    return printk("x=%d\n", x);
}
