/* Smoke test of the C ABI: the header compiles with -std=c11 -Wall -Wextra -Werror and the
 * library links and answers. */
#include <string.h>
#include "ctest.h"

int fm_ctest_version(char *msg, size_t msglen)
{
    const char *v = fm_version();

    FM_CHECK(v != NULL, "fm_version() returned NULL");
    FM_CHECK(strlen(v) > 0 && strlen(v) < 32, "implausible version string \"%s\"", v);
    FM_CHECK(v[0] >= '0' && v[0] <= '9', "version \"%s\" does not start with a digit", v);
    return 0;
}
