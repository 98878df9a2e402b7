/* Spec scenarios S06, S24, S10 and S11 in both modes (examples/demo/spec_scenarios.c),
 * through the header only. */
#include "ctest.h"
#include "spec_scenarios.h"

int fm_ctest_spec_scenarios(char *msg, size_t msglen)
{
    int checks = 0;

    if (fm_run_spec_scenarios(NULL, msg, msglen, &checks) != 0)
        return 1;
    FM_CHECK(checks > 0, "fm_run_spec_scenarios made no field comparison");
    return 0;
}
