/* Runs the relaxed got_forms.o: exit 0 only if all three rewritten forms still work. */
#include <stdio.h>
#include <string.h>

void *fm_copy_twice(void *dst, const void *src, unsigned long n);
int fm_get_global(void);

int fm_global = 4242;

int main(void)
{
    char buf[8] = { 0 };

    fm_copy_twice(buf, "abc", 3);
    if (strcmp(buf, "abcabc") != 0 || fm_get_global() != 4242) {
        printf("relaxed object misbehaves: buf=\"%s\" global=%d\n", buf, fm_get_global());
        return 1;
    }
    printf("ok\n");
    return 0;
}
