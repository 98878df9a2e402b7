/* Bad kernel object (built with -fPIC): reaches a global through the GOT. */
extern int fm_some_global;

int fm_bad_got(void)
{
    return fm_some_global;
}
