/* Smoke test of the C ABI: the header compiles with -std=c11 -Wall -Wextra -Werror and the
 * library links and answers. */
#include <stdint.h>
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

/* A folio through the API: init, map as a new anon folio, query; bad arguments are
 * refused with the documented status and change nothing. */
int fm_ctest_folio_basics(char *msg, size_t msglen)
{
    fm_folio folio;
    fm_page pages[16];
    fm_rmap_outcome out;
    fm_query q;
    uint32_t mm = 1;

    FM_CHECK_EQ(fm_folio_init(NULL, FM_MODE_PMC, 4, 0, pages, 16), FM_ERR_NULL_POINTER);
    FM_CHECK_EQ(fm_folio_init(&folio, FM_MODE_PMC, 10, 0, pages, 16), FM_ERR_BAD_ORDER);
    FM_CHECK_EQ(fm_folio_init(&folio, 7, 4, 0, pages, 16), FM_ERR_BAD_MODE);
    FM_CHECK_EQ(fm_folio_init(&folio, FM_MODE_PMC, 4, 0, pages, 8), FM_ERR_PAGES_TOO_SMALL);

    FM_CHECK_OK(fm_folio_init(&folio, FM_MODE_PMC, 4, 0, pages, 16));
    FM_CHECK_EQ(folio.magic, FM_FOLIO_MAGIC);
    FM_CHECK_EQ(folio.refcount, 1);
    FM_CHECK_EQ(folio.large_mapcount, -1);
    FM_CHECK_EQ(pages[15].mapcount, FM_PAGE_INIT.mapcount);

    FM_CHECK_EQ(fm_folio_add_new_anon(&folio, 0, FM_RMAP_EXCLUSIVE, &out), FM_ERR_BAD_MM_ID);
    FM_CHECK_EQ(folio.large_mapcount, -1);
    FM_CHECK_OK(fm_folio_add_new_anon(&folio, mm, FM_RMAP_EXCLUSIVE, &out));
    FM_CHECK_EQ(out.ret, 0);
    FM_CHECK_EQ(out.nr_pages, 16);
    FM_CHECK_EQ(out.mapcount_after, 16);

    FM_CHECK_OK(fm_folio_query(&folio, 3, &q));
    FM_CHECK_EQ(q.mapcount, 16);
    FM_CHECK(q.mapped, "a mapped folio reports !mapped");
    FM_CHECK(!q.maybe_mapped_shared, "one mm, yet maybe_mapped_shared");
    FM_CHECK(q.anon_exclusive, "RMAP_EXCLUSIVE did not set PageAnonExclusive");
    FM_CHECK_EQ(q.precise_page_mapcount, 1);
    FM_CHECK_EQ(fm_folio_query(&folio, 16, &q), FM_ERR_BAD_RANGE);
    return 0;
}
