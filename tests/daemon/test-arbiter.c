/*
 * The hot-standby arbiter (xmaintd/arbiter.c) under random sequences of
 * requests, releases, faults and daemon restarts, its table kept in the real
 * xenstored the way xmaintd keeps it (restart: written, read back by a new
 * arbiter).  The oracle is a model of its own (struct model, below), kept
 * from the rules in arbiter.h and not from the arbiter's code: after every
 * step every grant the model has seen is in the table and the table holds
 * nothing else, the domains' targets are the model's, the host is never
 * overcommitted and no memory appears or vanishes, no target exceeds its
 * static maximum, a failover could be carried out at once, a refused step
 * changed nothing, and what the rules forbid is refused.
 * XMAINT_PROPERTY_SEQS sets the number of sequences (default 100000).
 */
#include <stdbool.h>
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

static const char *app_name(unsigned i)
{
    static const char *names[] = { "web", "db", "cache", "queue", "auth", "search" };
    return names[i % 6];
}

/* ---- the model ------------------------------------------------------------ */

#define NDOM 5                           /* domids 1/2 and 3/4 paired, 5 in none */
#define NAPP 6

typedef struct model {
    uint64_t host_kb;
    uint64_t target[NDOM + 1], max[NDOM + 1];   /* by domid */
    bool failed[NDOM + 1];                       /* an active that failed over */
    struct { bool held; uint32_t owner; uint64_t kb; } grant[NAPP];  /* by app */
} model;

static uint32_t standby_of(uint32_t active)
{
    return active == 1 ? 2 : active == 3 ? 4 : 0;
}

/* Only the active of a pair that has not failed over is granted memory. */
static bool live_active(const model *m, uint32_t dom)
{
    return standby_of(dom) && !m->failed[dom];
}

static bool holds(const model *m, uint32_t dom, unsigned app)
{
    return m->grant[app].held && m->grant[app].owner == dom;
}

/* An area and its memory go from its owner to `to`. */
static void model_move(model *m, unsigned app, uint32_t to)
{
    m->target[m->grant[app].owner] -= m->grant[app].kb;
    m->target[to] += m->grant[app].kb;
    m->grant[app].owner = to;
}

static void model_pair(model *m, uint32_t active, uint64_t target, uint64_t max,
                       uint64_t standby_max, uint64_t standby_min)
{
    m->target[active] = target;
    m->max[active] = max;
    m->target[standby_of(active)] = standby_min;  /* a standby waits at its minimum */
    m->max[standby_of(active)] = standby_max;
}

/*
 * What the rules allow of a step, and its effect on the model when the
 * arbiter carried it out (rc 0).  Returns NULL, or what was wrong.
 */
static const char *model_step(model *m, int kind, uint32_t dom, unsigned app, uint64_t kb,
                              bool major, int rc)
{
    switch (kind) {
    case 0: case 1: case 2:             /* request: the memory rules may refuse too */
        if (rc == 0 && (!live_active(m, dom) || m->grant[app].held))
            return "granted to a domain that is not a live active, or twice";
        if (rc == 0) {
            m->grant[app].held = true;
            m->grant[app].owner = dom;
            m->grant[app].kb = kb;
            m->target[dom] += kb;
        }
        return NULL;
    case 4:                             /* release: always, by the holder only */
        if ((rc == 0) != holds(m, dom, app))
            return rc ? "the holder could not release its area" : "released by another domain";
        if (rc == 0) {
            m->target[dom] -= m->grant[app].kb;
            m->grant[app].held = false;
        }
        return NULL;
    case 5:                             /* the active's OS fails */
        if ((rc == 0) != live_active(m, dom))
            return rc ? "a live active's failover was refused" : "a failover of no live active";
        if (rc == 0) {
            for (unsigned i = 0; i < NAPP; i++)
                if (holds(m, dom, i))
                    model_move(m, i, standby_of(dom));
            m->target[dom] = 0;         /* its memory is the host's again */
            m->failed[dom] = true;
        }
        return NULL;
    case 6:                             /* an application fails */
        if (!major)
            return (rc == 0) != holds(m, dom, app) ? "a minor fault misjudged" : NULL;
        if ((rc == 0) != (holds(m, dom, app) && live_active(m, dom)))
            return rc ? "a major fault of a live active's area was refused"
                      : "an area moved that its domain could not give up";
        if (rc == 0)
            model_move(m, app, standby_of(dom));
        return NULL;
    default:                            /* refused by construction, or a restart */
        return NULL;
    }
}

/* The arbiter against the model.  Returns NULL, or what broke. */
static const char *model_check(const model *m, arb *a)
{
    uint64_t used = 0;
    unsigned rows = 0;

    for (unsigned i = 0; i < NAPP; i++) {
        const arb_area *ar;

        if (!m->grant[i].held)
            continue;
        rows++;
        ar = arb_area_find(a, app_name(i));
        if (!ar)
            return "a grant is not in the table";
        if (ar->owner != m->grant[i].owner || ar->kb != m->grant[i].kb)
            return "a grant is in the table with another owner or size";
    }
    if (a->nr_areas != rows)
        return "the table holds an area nobody was granted";
    if (a->nr_pairs != 2)
        return "a pair appeared or vanished";
    for (unsigned i = 0; i < a->nr_pairs; i++) {
        const arb_pair *p = &a->pairs[i];

        if (p->active > NDOM || standby_of(p->active) != p->standby ||
            p->active_target_kb != m->target[p->active] ||
            p->standby_target_kb != m->target[p->standby])
            return "a domain's target is not what its grants and faults make it";
    }
    for (uint32_t d = 1; d <= NDOM; d++) {
        if (m->target[d] > m->max[d])
            return "a target exceeds its static maximum";
        used += m->target[d];
    }
    if (used > m->host_kb)
        return "the host is overcommitted";
    if (a->free_kb != m->host_kb - used)
        return "free memory is not what the domains leave (memory created or lost)";
    /* either active may fail now: its areas fit the free memory and its standby */
    for (uint32_t d = 1; d <= NDOM; d++) {
        uint64_t moving = 0;

        if (!live_active(m, d))
            continue;
        for (unsigned i = 0; i < NAPP; i++)
            if (holds(m, d, i))
                moving += m->grant[i].kb;
        if (moving > m->host_kb - used || m->target[standby_of(d)] + moving > m->max[standby_of(d)])
            return "a failover would overcommit the host or its standby";
    }
    return NULL;
}

/* ---- the sequences -------------------------------------------------------- */

static uint64_t rnd(uint64_t n)
{
    return n ? (uint64_t)random() % n : 0;
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
    model m = { .host_kb = 8ull << 20 };        /* 8 GiB under management */
    uint64_t host = m.host_kb;
    uint64_t reserve = (256 + rnd(768)) << 10;
    unsigned steps = 1 + (unsigned)rnd(12);
    const char *why;

    /* two pairs: domids 1/2 and 3/4, targets taken from the host */
    arb_init(&a, host - 4 * (512ull << 10), reserve);
    CU_ASSERT_EQUAL_FATAL(arb_pair_add(&a, 1, 512 << 10, 2048 << 10, 2, 512 << 10, 2048 << 10,
                                       64 << 10, &why), 0);
    CU_ASSERT_EQUAL_FATAL(arb_pair_add(&a, 3, 512 << 10, 1024 << 10, 4, 512 << 10, 1024 << 10,
                                       128 << 10, &why), 0);
    model_pair(&m, 1, 512 << 10, 2048 << 10, 2048 << 10, 64 << 10);
    model_pair(&m, 3, 512 << 10, 1024 << 10, 1024 << 10, 128 << 10);
    CU_ASSERT_PTR_NULL_FATAL(model_check(&m, &a));
    for (unsigned s = 0; s < steps; s++) {
        char *before = arb_to_json(&a), *after;
        uint32_t dom = 1 + (uint32_t)rnd(5);    /* 5: in no pair */
        unsigned ai = (unsigned)rnd(NAPP);
        const char *app = app_name(ai), *wrong;
        int kind = (int)rnd(9), rc = 0;
        bool major = false;
        uint64_t kb = 0;

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
            major = rnd(2);
            rc = arb_fail_app(&a, dom, app, major ? ARB_MAJOR : ARB_MINOR, &why);
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
        wrong = model_step(&m, kind, dom, ai, kb, major, rc);
        if (!wrong)
            wrong = model_check(&m, &a);
        if (!wrong && arb_check(&a, host, &why) != 0)
            wrong = why;                /* the arbiter's own check must agree */
        if (wrong) {
            fprintf(stderr, "\nsequence %u step %u (kind %d, d%u, %s): %s\n%s\n", seq, s,
                    kind, dom, app, wrong, after);
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
