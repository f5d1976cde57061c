/*
 * The hot-standby arbiter (xmaintd/arbiter.c) under random sequences of
 * requests, releases, faults and daemon restarts, its table kept in the real
 * xenstored the way xmaintd keeps it (restart: written, read back by a new
 * arbiter).  After every step: the host is never overcommitted, no memory
 * appears or vanishes, no area has two owners, every grant is in the table,
 * no target exceeds its static maximum, and a refused step changed nothing.
 * XMAINT_PROPERTY_SEQS sets the number of sequences (default 100000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include <xenstore.h>

#include "../cunit-report.h"
#include "../xsd/xsd.h"
#include "arbiter.h"

#define TABLE "/local/domain/0/xmaint/standby/table"

static struct xsd *xsd;
static struct xs_handle *xs;
static unsigned long restarts, grants, refusals, failovers;

static uint64_t rnd(uint64_t n)
{
    return n ? (uint64_t)random() % n : 0;
}

static const char *app_name(unsigned i)
{
    static const char *names[] = { "web", "db", "cache", "queue", "auth", "search" };
    return names[i % 6];
}

/* Write the table to xenstore and read it into a fresh arbiter. */
static void restart(arb *a)
{
    char *json = arb_to_json(a), *back, *again;
    unsigned len;
    const char *why = NULL;
    arb fresh;

    CU_ASSERT_FATAL(json != NULL);
    CU_ASSERT_FATAL(xs_write(xs, XBT_NULL, TABLE, json, (unsigned)strlen(json)));
    back = xs_read(xs, XBT_NULL, TABLE, &len);
    CU_ASSERT_FATAL(back != NULL);
    CU_ASSERT_EQUAL_FATAL(arb_from_json(&fresh, back, &why), 0);
    again = arb_to_json(&fresh);
    CU_ASSERT_STRING_EQUAL(again, json);
    *a = fresh;
    free(json);
    free(back);
    free(again);
    restarts++;
}

static void one_sequence(unsigned seq)
{
    arb a;
    uint64_t host = 8ull << 20;                 /* 8 GiB under management */
    uint64_t reserve = (256 + rnd(768)) << 10;
    unsigned steps = 1 + (unsigned)rnd(12);
    const char *why;

    /* two pairs: domids 1/2 and 3/4, targets taken from the host */
    arb_init(&a, host - 4 * (512ull << 10), reserve);
    CU_ASSERT_EQUAL_FATAL(arb_pair_add(&a, 1, 512 << 10, 2048 << 10, 2, 512 << 10, 2048 << 10,
                                       64 << 10, &why), 0);
    CU_ASSERT_EQUAL_FATAL(arb_pair_add(&a, 3, 512 << 10, 1024 << 10, 4, 512 << 10, 1024 << 10,
                                       128 << 10, &why), 0);
    CU_ASSERT_EQUAL_FATAL(arb_check(&a, host, &why), 0);
    for (unsigned s = 0; s < steps; s++) {
        char *before = arb_to_json(&a), *after;
        uint32_t dom = 1 + (uint32_t)rnd(5);    /* 5: in no pair */
        const char *app = app_name((unsigned)rnd(6));
        int kind = (int)rnd(9), rc = 0;
        uint64_t kb;

        why = NULL;
        switch (kind) {
        case 0: case 1: case 2:
            kb = (1 + rnd(300)) << 10;
            rc = arb_request(&a, dom, app, kb, &why);
            grants += rc == 0;
            break;
        case 3:
            /* absurd and hostile sizes */
            kb = rnd(2) ? 0 : (ARB_MAX_KB + 1 + rnd(1000));
            rc = arb_request(&a, dom, app, kb, &why);
            CU_ASSERT_EQUAL(rc, -1);
            break;
        case 4:
            rc = arb_release(&a, dom, app, &why);
            break;
        case 5:
            rc = arb_fail_os(&a, dom, &why);
            failovers += rc == 0;
            break;
        case 6:
            rc = arb_fail_app(&a, dom, app, rnd(2) ? ARB_MAJOR : ARB_MINOR, &why);
            break;
        case 7:
            /* a request naming a bad application */
            rc = arb_request(&a, dom, rnd(2) ? "" : "../../etc", 1024, &why);
            CU_ASSERT_EQUAL(rc, -1);
            break;
        default:
            restart(&a);
            break;
        }
        after = arb_to_json(&a);
        if (rc != 0) {
            refusals++;
            CU_ASSERT_PTR_NOT_NULL(why);
            /* a refusal changes nothing */
            CU_ASSERT_STRING_EQUAL(after, before);
        }
        if (arb_check(&a, host, &why) != 0) {
            fprintf(stderr, "\nsequence %u step %u (kind %d): %s\n%s\n", seq, s, kind, why, after);
            CU_FAIL_FATAL("an invariant broke");
        }
        free(before);
        free(after);
    }
}

static void test_random_sequences(void)
{
    const char *env = getenv("XMAINT_PROPERTY_SEQS");
    unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 100000;

    srandom(env && getenv("XMAINT_PROPERTY_SEED") ? (unsigned)atoi(getenv("XMAINT_PROPERTY_SEED")) : 4242);
    for (unsigned i = 0; i < n; i++)
        one_sequence(i);
    printf("\n%u sequences: %lu grants, %lu refusals, %lu failovers, %lu restarts through xenstored\n",
           n, grants, refusals, failovers, restarts);
    CU_ASSERT(grants > 0 && refusals > 0 && failovers > 0 && restarts > 0);
}

static void test_rules(void)
{
    arb a;
    const char *why;
    uint64_t host = 4ull << 20;

    arb_init(&a, host - (1536ull << 10), 512 << 10);
    CU_ASSERT_EQUAL(arb_pair_add(&a, 1, 1024 << 10, 2048 << 10, 2, 512 << 10, 2048 << 10,
                                 64 << 10, &why), 0);
    /* the standby went down to its minimum: its memory is the host's again */
    CU_ASSERT_EQUAL(a.pairs[0].standby_target_kb, 64u << 10);
    CU_ASSERT_EQUAL(arb_check(&a, host, &why), 0);
    /* beyond static max; beyond the reserve's cover; the standby asking */
    CU_ASSERT_EQUAL(arb_request(&a, 1, "web", 1100 << 10, &why), -1);
    CU_ASSERT_EQUAL(arb_request(&a, 1, "web", 600 << 10, &why), -1);
    CU_ASSERT_EQUAL(arb_request(&a, 2, "web", 100 << 10, &why), -1);
    CU_ASSERT_EQUAL(arb_request(&a, 9, "web", 100 << 10, &why), -1);
    /* a grant, then the same name again */
    CU_ASSERT_EQUAL(arb_request(&a, 1, "web", 300 << 10, &why), 0);
    CU_ASSERT_EQUAL(arb_request(&a, 1, "web", 10 << 10, &why), -1);
    CU_ASSERT_EQUAL(a.pairs[0].active_target_kb, 1324u << 10);
    /* the active fails: the standby holds web, the active's memory is back */
    CU_ASSERT_EQUAL(arb_fail_os(&a, 1, &why), 0);
    CU_ASSERT_EQUAL(a.pairs[0].standby_target_kb, 364u << 10);
    CU_ASSERT_EQUAL(a.pairs[0].active_target_kb, 0u);
    CU_ASSERT_EQUAL(arb_area_find(&a, "web")->owner, 2u);
    CU_ASSERT_EQUAL(arb_check(&a, host, &why), 0);
    CU_ASSERT_EQUAL(arb_fail_os(&a, 1, &why), -1);
    /* dissolving the failed-over pair takes its areas out of the table */
    CU_ASSERT_EQUAL(arb_pair_remove(&a, 2, &why), -1);
    CU_ASSERT_EQUAL(arb_pair_remove(&a, 1, &why), 0);
    CU_ASSERT_EQUAL(a.nr_pairs, 0u);
    CU_ASSERT_EQUAL(a.nr_areas, 0u);
    CU_ASSERT_PTR_NULL(arb_area_find(&a, "web"));
    /* malformed tables are refused */
    CU_ASSERT_EQUAL(arb_from_json(&a, "{\"free_kb\":-1}", &why), -1);
    CU_ASSERT_EQUAL(arb_from_json(&a, "[]", &why), -1);
    CU_ASSERT_EQUAL(arb_from_json(&a, "{\"free_kb\":1,\"reserve_kb\":0,\"pairs\":[],"
                                      "\"areas\":[{\"name\":\"a/b\",\"kb\":1,\"owner\":1,"
                                      "\"failover\":0}]}", &why), -1);
}

int main(void)
{
    int failed, rc;
    CU_pSuite s;

    rc = xsd_start(&xsd);
    if (rc)
        return xsd_exit_code(rc);
    xs = xsd_open(xsd);
    if (!xs) {
        fprintf(stderr, "cannot reach the test xenstored\n");
        return 99;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    s = CU_add_suite("hot-standby arbiter", NULL, NULL);
    CU_add_test(s, "rules", test_rules);
    CU_add_test(s, "random sequences with restarts through xenstored", test_random_sequences);
    failed = cunit_run_and_report();
    xs_close(xs);
    xsd_stop(xsd);
    return failed < 0 ? 99 : failed ? 1 : 0;
}
