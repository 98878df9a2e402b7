/* Helpers for the C tests of rust/abi-tests (see tests/c_tests.rs for the harness).
 * A test is `int fm_ctest_<name>(char *msg, size_t msglen)`: 0 on success; on failure it
 * writes a NUL-terminated message into msg and returns non-zero. FM_CHECK does that. */
#ifndef FM_CTEST_H
#define FM_CTEST_H

#include <stdio.h>
#include <stddef.h>
#include "foliomap.h"

/* Fails the test with "file:line: `cond`: <printf-style message>". */
#define FM_CHECK(cond, ...)                                                               \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            int fm_n_ = snprintf(msg, msglen, "%s:%d: `%s`: ", __FILE__, __LINE__, #cond); \
            if (fm_n_ >= 0 && (size_t)fm_n_ < msglen)                                    \
                snprintf(msg + fm_n_, msglen - (size_t)fm_n_, __VA_ARGS__);              \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

/* Fails unless two integers are equal; prints both. */
#define FM_CHECK_EQ(a, b)                                                                 \
    FM_CHECK((long long)(a) == (long long)(b), "%s = %lld, expected %s = %lld", #a,        \
             (long long)(a), #b, (long long)(b))

/* Fails unless an fm_* call returned FM_OK. */
#define FM_CHECK_OK(call) FM_CHECK_EQ((call), FM_OK)

#endif
