/* The three GOT-relative forms scripts/lib/relax-gotpcrel.py rewrites (built with
 * -fpic -fno-plt): call *memcpy@GOTPCREL, a tail jmp *memcpy@GOTPCREL and
 * mov fm_global@GOTPCREL(%rip), %reg. */
#include <string.h>

extern int fm_global;

void *fm_copy_twice(void *dst, const void *src, unsigned long n)
{
    memcpy(dst, src, n);
    return memcpy((char *)dst + n, src, n);
}

int fm_get_global(void)
{
    return fm_global;
}
