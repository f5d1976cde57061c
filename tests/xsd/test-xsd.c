/*
 * test-xsd.c - proves the xenstored test harness (xsd.h): the daemon it
 * starts behaves like xenstored on a Xen host for everything the project's
 * tests rely on.
 *
 * Exit: 0 all passed, 1 some failed, 77 skipped (no xenstored, or no
 * xenstore-read for the child-process check: the reason is printed), 99 the
 * harness broke.  XMAINT_REQUIRE_XENHOST=1 (CI) makes a skip a hard error.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <xenstore.h>

#include "xsd.h"
#include "../cunit-report.h"

#define EVENT_TIMEOUT_MS 5000

static struct xsd *xsd;     /* the instance the suite runs against */
static const char *skipped; /* why a check could not run, or NULL */

static const char *env_path(void)
{
    const char *p = getenv("XENSTORED_PATH");

    return p ? p : "(unset)";
}

static struct xs_handle *open_or_die(void)
{
    struct xs_handle *h = xs_open(0);   /* through XENSTORED_PATH */

    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    return h;
}

static bool read_is(struct xs_handle *h, const char *path, const char *want)
{
    unsigned int len;
    char *v = xs_read(h, XBT_NULL, path, &len);
    bool ok = v && len == strlen(want) && !memcmp(v, want, len);

    if (!ok)
        fprintf(stderr, "read %s: got '%s', want '%s'\n", path,
                v ? v : "(null)", want);
    free(v);
    return ok;
}

/* Wait for a watch event on PATH with TOKEN; other events are skipped. */
static bool wait_event(struct xs_handle *h, const char *path,
                       const char *token)
{
    struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
    unsigned int n;
    char **ev;
    bool match;

    while (poll(&pfd, 1, EVENT_TIMEOUT_MS) == 1) {
        ev = xs_read_watch(h, &n);
        if (!ev)
            return false;
        match = !strcmp(ev[XS_WATCH_PATH], path) &&
                !strcmp(ev[XS_WATCH_TOKEN], token);
        free(ev);
        if (match)
            return true;
    }
    fprintf(stderr, "no watch event %s (token %s)\n", path, token);
    return false;
}

/* Set a watch and swallow the event xenstored fires when it is set. */
static bool watch(struct xs_handle *h, const char *path, const char *token)
{
    return xs_watch(h, path, token) && wait_event(h, path, token);
}

static void test_read_write(void)
{
    struct xs_handle *h = open_or_die();
    unsigned int n, len;
    char **dir;
    char *v;

    CU_ASSERT_TRUE(xs_write(h, XBT_NULL, "/test/rw/a", "1", 1));
    CU_ASSERT_TRUE(xs_write(h, XBT_NULL, "/test/rw/b", "two", 3));
    CU_ASSERT_TRUE(xs_mkdir(h, XBT_NULL, "/test/rw/c"));
    CU_ASSERT_TRUE(read_is(h, "/test/rw/b", "two"));
    CU_ASSERT_TRUE(read_is(h, "/test/rw/c", ""));

    dir = xs_directory(h, XBT_NULL, "/test/rw", &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    CU_ASSERT_EQUAL(n, 3);
    free(dir);

    CU_ASSERT_TRUE(xs_rm(h, XBT_NULL, "/test/rw/a"));
    v = xs_read(h, XBT_NULL, "/test/rw/a", &len);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(errno, ENOENT);
    free(v);
    CU_ASSERT_TRUE(xs_rm(h, XBT_NULL, "/test/rw"));
    CU_ASSERT_PTR_NULL(xs_directory(h, XBT_NULL, "/test/rw", &n));
    xs_close(h);
}

static void test_permissions(void)
{
    struct xs_handle *h = open_or_die();
    struct xs_permissions set[3] = {
        { .id = 5, .perms = XS_PERM_NONE },     /* owner */
        { .id = 7, .perms = XS_PERM_READ },
        { .id = 9, .perms = XS_PERM_READ | XS_PERM_WRITE },
    };
    struct xs_permissions *got;
    unsigned int n, i;

    CU_ASSERT_TRUE_FATAL(xs_write(h, XBT_NULL, "/test/perm", "x", 1));
    CU_ASSERT_TRUE_FATAL(xs_set_permissions(h, XBT_NULL, "/test/perm",
                                            set, 3));
    got = xs_get_permissions(h, XBT_NULL, "/test/perm", &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    for (i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(got[i].id, set[i].id);
        CU_ASSERT_EQUAL(got[i].perms, set[i].perms);
    }
    free(got);
    xs_close(h);
}

static void test_watch(void)
{
    struct xs_handle *h = open_or_die();
    struct xs_handle *w = open_or_die();

    CU_ASSERT_TRUE_FATAL(watch(w, "/test/watch", "tok"));
    CU_ASSERT_TRUE(xs_write(h, XBT_NULL, "/test/watch/x", "1", 1));
    CU_ASSERT_TRUE(wait_event(w, "/test/watch/x", "tok"));
    CU_ASSERT_TRUE(xs_rm(h, XBT_NULL, "/test/watch"));
    CU_ASSERT_TRUE(wait_event(w, "/test/watch", "tok"));
    CU_ASSERT_TRUE(xs_unwatch(w, "/test/watch", "tok"));
    xs_close(w);
    xs_close(h);
}

static void test_transaction_conflict(void)
{
    struct xs_handle *h1 = open_or_die();
    struct xs_handle *h2 = open_or_die();
    unsigned int len;
    xs_transaction_t t;
    char *v;

    CU_ASSERT_TRUE_FATAL(xs_write(h1, XBT_NULL, "/test/tx", "a", 1));
    t = xs_transaction_start(h1);
    CU_ASSERT_FATAL(t != XBT_NULL);
    v = xs_read(h1, t, "/test/tx", &len);
    CU_ASSERT_PTR_NOT_NULL(v);
    free(v);
    CU_ASSERT_TRUE(xs_write(h1, t, "/test/tx", "b", 1));
    CU_ASSERT_TRUE(xs_write(h2, XBT_NULL, "/test/tx", "c", 1));
    errno = 0;
    CU_ASSERT_FALSE(xs_transaction_end(h1, t, false));
    CU_ASSERT_EQUAL(errno, EAGAIN);
    CU_ASSERT_TRUE(read_is(h1, "/test/tx", "c"));
    xs_close(h2);
    xs_close(h1);
}

static void test_introduce(void)
{
    struct xs_handle *h = open_or_die();
    char *path;

    CU_ASSERT_TRUE_FATAL(watch(h, "@introduceDomain", "intro"));
    CU_ASSERT_EQUAL_FATAL(xsd_introduce(xsd, 5), 0);
    CU_ASSERT_TRUE(wait_event(h, "@introduceDomain", "intro"));
    CU_ASSERT_TRUE(xs_is_domain_introduced(h, 5));
    CU_ASSERT_TRUE(read_is(h, "/local/domain/5/domid", "5"));
    CU_ASSERT_TRUE(read_is(h, "/local/domain/5/name", "xsd-5"));
    path = xs_get_domain_path(h, 5);
    CU_ASSERT_STRING_EQUAL(path ? path : "", "/local/domain/5");
    free(path);
    xs_close(h);
}

static void test_kill(void)
{
    struct xs_handle *h = open_or_die();

    CU_ASSERT_TRUE_FATAL(xs_is_domain_introduced(h, 5));
    CU_ASSERT_TRUE_FATAL(watch(h, "@releaseDomain", "rel"));
    CU_ASSERT_EQUAL_FATAL(xsd_kill_domain(xsd, 5), 0);
    CU_ASSERT_TRUE(wait_event(h, "@releaseDomain", "rel"));
    CU_ASSERT_FALSE(xs_is_domain_introduced(h, 5));
    /* A dead domid can be built again. */
    CU_ASSERT_EQUAL(xsd_introduce(xsd, 5), 0);
    CU_ASSERT_TRUE(xs_is_domain_introduced(h, 5));
    CU_ASSERT_EQUAL(xsd_kill_domain(xsd, 5), 0);
    xs_close(h);
}

static void test_shutdown(void)
{
    struct xs_handle *h = open_or_die();

    CU_ASSERT_EQUAL_FATAL(xsd_introduce(xsd, 6), 0);
    CU_ASSERT_TRUE_FATAL(watch(h, "@releaseDomain", "rel"));
    CU_ASSERT_EQUAL_FATAL(xsd_shutdown_domain(xsd, 6), 0);
    CU_ASSERT_TRUE(wait_event(h, "@releaseDomain", "rel"));
    CU_ASSERT_TRUE(xs_is_domain_introduced(h, 6));   /* not destroyed yet */
    CU_ASSERT_EQUAL(xsd_kill_domain(xsd, 6), 0);
    CU_ASSERT_TRUE(wait_event(h, "@releaseDomain", "rel"));
    xs_close(h);
}

/*
 * Domids at or above XSD_MAX_DOMID (default 64) do not exist for the shim:
 * xenstored drops such a domain on the next VIRQ_DOM_EXC.
 */
static void test_domid_limit(void)
{
    struct xs_handle *h = open_or_die();

    CU_ASSERT_EQUAL_FATAL(xsd_introduce(xsd, 100), 0);
    CU_ASSERT_EQUAL_FATAL(xsd_introduce(xsd, 7), 0);
    CU_ASSERT_TRUE_FATAL(watch(h, "@releaseDomain", "rel"));
    CU_ASSERT_EQUAL_FATAL(xsd_shutdown_domain(xsd, 7), 0);   /* VIRQ */
    CU_ASSERT_TRUE(wait_event(h, "@releaseDomain", "rel"));
    CU_ASSERT_FALSE(xs_is_domain_introduced(h, 100));
    CU_ASSERT_TRUE(xs_is_domain_introduced(h, 7));
    CU_ASSERT_EQUAL(xsd_kill_domain(xsd, 7), 0);
    xs_close(h);
}

/* A child process finds the daemon through XENSTORED_PATH. */
static void test_child_process(void)
{
    struct xs_handle *h = open_or_die();
    char buf[64] = "";
    FILE *p;

    CU_ASSERT_STRING_EQUAL(env_path(), xsd_socket(xsd));
    CU_ASSERT_TRUE_FATAL(xs_write(h, XBT_NULL, "/test/cli", "hello", 5));
    xs_close(h);
    if (system("command -v xenstore-read >/dev/null 2>&1") != 0) {
        skipped = "xenstore-read (Debian package xenstore-utils) is not in PATH: "
                  "the child-process check did not run";
        return;
    }
    p = popen("xenstore-read /test/cli", "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof(buf), p));
    CU_ASSERT_EQUAL(pclose(p), 0);
    CU_ASSERT_STRING_EQUAL(buf, "hello\n");
}

static void test_two_instances(void)
{
    struct xsd *other = NULL;
    struct xs_handle *a = NULL, *b = NULL;
    unsigned int len;
    char *dir, *v;

    CU_ASSERT_EQUAL_FATAL(xsd_start(&other), 0);
    CU_ASSERT_STRING_NOT_EQUAL(xsd_dir(other), xsd_dir(xsd));
    CU_ASSERT_STRING_EQUAL(env_path(), xsd_socket(other));
    a = xsd_open(xsd);
    b = xsd_open(other);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(b);
    if (a && b) {
        CU_ASSERT_TRUE(xs_write(a, XBT_NULL, "/test/only-a", "a", 1));
        v = xs_read(b, XBT_NULL, "/test/only-a", &len);
        CU_ASSERT_PTR_NULL(v);
        free(v);
        CU_ASSERT_TRUE(xs_write(b, XBT_NULL, "/test/both", "b", 1));
        CU_ASSERT_TRUE(xs_write(a, XBT_NULL, "/test/both", "a", 1));
        CU_ASSERT_TRUE(read_is(b, "/test/both", "b"));
        CU_ASSERT_EQUAL(xsd_introduce(other, 9), 0);
        CU_ASSERT_TRUE(xs_is_domain_introduced(b, 9));
        CU_ASSERT_FALSE(xs_is_domain_introduced(a, 9));
    }
    if (a)
        xs_close(a);
    if (b)
        xs_close(b);

    dir = strdup(xsd_dir(other));
    xsd_stop(other);
    xsd_stop(other);                    /* idempotent */
    CU_ASSERT_PTR_NULL(getenv("XENSTORED_PATH"));
    if (!getenv("XSD_KEEP"))
        CU_ASSERT_NOT_EQUAL(access(dir, F_OK), 0);
    free(dir);
    /* The first one is untouched. */
    setenv("XENSTORED_PATH", xsd_socket(xsd), 1);
    a = open_or_die();
    CU_ASSERT_TRUE(read_is(a, "/test/both", "a"));
    xs_close(a);
}

static const struct {
    const char *name;
    CU_TestFunc fn;
} tests[] = {
    { "read, write, rm, directory", test_read_write },
    { "permissions", test_permissions },
    { "watches fire", test_watch },
    { "transaction conflict gives EAGAIN", test_transaction_conflict },
    { "introduce fires @introduceDomain", test_introduce },
    { "killing fires @releaseDomain", test_kill },
    { "shutdown fires @releaseDomain", test_shutdown },
    { "domids from XSD_MAX_DOMID up do not exist", test_domid_limit },
    { "child processes reach the daemon", test_child_process },
    { "two instances are independent", test_two_instances },
};

int main(void)
{
    unsigned int i;
    int failed;
    CU_pSuite suite;
    int rc;

    rc = xsd_start(&xsd);
    if (rc) {
        printf("%s: %s\n", rc == XSD_ERROR_MISSING ? "SKIP" : "ERROR",
               "cannot start xenstored (reason above)");
        return xsd_exit_code(rc);
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    suite = CU_add_suite("xsd", NULL, NULL);
    if (!suite)
        return 99;
    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        if (!CU_add_test(suite, tests[i].name, tests[i].fn))
            return 99;

    failed = cunit_run_and_report();
    xsd_stop(xsd);
    if (failed)
        return failed < 0 ? 99 : 1;
    if (skipped) {
        bool strict = getenv("XMAINT_REQUIRE_XENHOST") &&
                      !strcmp(getenv("XMAINT_REQUIRE_XENHOST"), "1");

        printf("%s: %s%s\n", strict ? "ERROR" : "SKIP", skipped,
               strict ? " (XMAINT_REQUIRE_XENHOST=1: a skip is an error)" : "");
        return strict ? 99 : 77;
    }
    return 0;
}
