/*
 * domains.c's one list of domain-lifecycle observers, on a fake port
 * (tests/unit/fake-port.c) without a hypervisor: every observer hears of a
 * domain's arrival, shutdown and going; its going is told once per domain,
 * whether libxl's death event or @releaseDomain (a rescan) comes first; a
 * recheck asked from another thread reaches them on the main loop.
 *
 * Exit: 0 all passed, 1 some failed, 99 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <CUnit/Basic.h>

#include "xmaintd.h"
#include "schema.h"
#include "unit.h"
#include "../cunit-report.h"

G_DEFINE_QUARK(xmaintd-error-quark, xmd_error)

static xmd d;
static fake_port *fp;

/* What the observers heard, "A:arrived:5 B:gone:5:died ...". */
static GString *heard;

static void hear(const char *who, const char *what, uint32_t domid, const char *more)
{
    g_string_append_printf(heard, "%s%s:%s:%u%s%s", heard->len ? " " : "", who, what, domid,
                           more ? ":" : "", more ? more : "");
}

#define OBSERVER(X) \
    static void X##_arrived(xmd *d_, xmd_domain *dom) { hear(#X, "arrived", dom->domid, NULL); } \
    static void X##_gone(xmd *d_, uint32_t domid, xmd_domain *dom, const char *why) \
    { \
        CU_ASSERT_PTR_NOT_NULL(dom); \
        hear(#X, "gone", domid, why); \
    } \
    static void X##_shutdown(xmd *d_, uint32_t domid, int reason) \
    { \
        g_autofree char *r = g_strdup_printf("%d", reason); \
        hear(#X, "shutdown", domid, r); \
    } \
    static void X##_released(xmd *d_, xmd_domain *dom) { hear(#X, "released", dom->domid, NULL); } \
    static const xmd_domain_observer X = { X##_arrived, X##_gone, X##_shutdown, X##_released };
OBSERVER(A)
OBSERVER(B)

static void domain_up(uint32_t domid)
{
    g_autofree char *home = g_strdup_printf("/local/domain/%u", domid);
    g_autofree char *name = g_strdup_printf("/local/domain/%u/name", domid);
    g_autofree char *n = g_strdup_printf("g%u", domid);
    maint_domain_info info;

    maint_domain_info_init(&info);
    info.domid = domid;
    fake_port_add_domain(fp, &info);         /* the hypervisor has it */
    fake_port_put(fp, home, "");
    fake_port_put(fp, name, n);
}

/* The toolstack removes its home: @releaseDomain, a rescan. */
static void domain_released(uint32_t domid)
{
    g_autofree char *home = g_strdup_printf("/local/domain/%u", domid);

    fake_port_remove_domain(fp, domid);
    d.ctx->port.ops->xs_rm(d.ctx->port.priv, MAINT__XS_NO_TXN, home);
    xmd_domains_rescan(&d);
}

static void expect(const char *want)
{
    if (strcmp(heard->str, want))
        fprintf(stderr, "\nheard '%s'\nwanted '%s'\n", heard->str, want);
    CU_ASSERT_STRING_EQUAL(heard->str, want);
    g_string_truncate(heard, 0);
}

static void test_arrival(void)
{
    g_autofree char *hid = g_strdup_printf(MAINT_XS_HOST_ID_FMT, 5u);

    domain_up(5);
    domain_up(6);
    xmd_domains_rescan(&d);
    CU_ASSERT_PTR_NOT_NULL(xmd_domain_find(&d, 5));
    CU_ASSERT_STRING_EQUAL(fake_port_get(fp, hid), d.host_id);    /* its tree */
    /* both domains, each to both observers, in the order registered */
    CU_ASSERT_PTR_NOT_NULL(strstr(heard->str, "A:arrived:5 B:arrived:5"));
    CU_ASSERT_PTR_NOT_NULL(strstr(heard->str, "A:arrived:6 B:arrived:6"));
    CU_ASSERT_EQUAL(strlen(heard->str), strlen("A:arrived:5 B:arrived:5 A:arrived:6 B:arrived:6"));
    g_string_truncate(heard, 0);
    xmd_domains_rescan(&d);                  /* nothing new */
    expect("");
}

static void test_death_then_release(void)
{
    xmd_domain_died(&d, 5);                  /* libxl's death event */
    expect("A:gone:5:died B:gone:5:died");
    CU_ASSERT_PTR_NULL(xmd_domain_find(&d, 5));
    domain_released(5);                      /* then @releaseDomain */
    expect("");
    xmd_domain_died(&d, 5);                  /* and a stray second event */
    expect("");
}

static void test_release_then_death(void)
{
    domain_released(6);
    expect("A:gone:6:departed B:gone:6:departed");
    xmd_domain_died(&d, 6);
    expect("");
}

static void test_shutdown(void)
{
    xmd_domain_shut_down(&d, 7, 2);
    expect("A:shutdown:7:2 B:shutdown:7:2");
}

static gpointer recheck_thread(gpointer data)
{
    xmd_domain_recheck(&d, GPOINTER_TO_UINT(data));
    return NULL;
}

static void test_recheck(void)
{
    g_thread_join(g_thread_new("recheck", recheck_thread, GUINT_TO_POINTER(8)));
    expect("");                              /* not in that thread */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    expect("A:shutdown:8:-1 B:shutdown:8:-1");
}

static void test_fini(void)
{
    domain_up(9);
    xmd_domains_rescan(&d);
    g_string_truncate(heard, 0);
    xmd_domains_fini(&d);                    /* the daemon stops: 9 lives on */
    expect("A:released:9 B:released:9");
}

static const struct {
    const char *name;
    CU_TestFunc fn;
} tests[] = {
    { "arrival: every observer, once", test_arrival },
    { "death, then @releaseDomain: gone once", test_death_then_release },
    { "@releaseDomain, then death: gone once", test_release_then_death },
    { "shutdown to every observer", test_shutdown },
    { "a recheck from a thread, on the main loop", test_recheck },
    { "the daemon stops: released", test_fini },
};

int main(void)
{
    maint__port port;
    CU_pSuite s;
    int failed;

    heard = g_string_new("");
    fp = fake_port_new(&port);
    if (maint__ctx_from_port(&d.ctx, NULL, &port) != MAINT_OK ||
        CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    d.host_id = g_strdup("6b9a8f52-8f1c-4d0e-9d5e-2a54c1d0b7a1");
    d.cpu_signature = g_strdup("test");
    xmd_domain_observe(&d, &A);
    xmd_domain_observe(&d, &B);
    xmd_domains_init(&d);
    s = CU_add_suite("domain observers", NULL, NULL);
    if (!s)
        return 99;
    for (guint i = 0; i < G_N_ELEMENTS(tests); i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return 99;
    failed = cunit_run_and_report();
    maint_ctx_close(d.ctx);
    g_free(d.host_id);
    g_free(d.cpu_signature);
    g_string_free(heard, TRUE);
    return failed < 0 ? 99 : failed ? 1 : 0;
}
