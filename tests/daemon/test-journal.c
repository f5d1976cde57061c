/*
 * Workflow retention against Debian's real xenstored (tests/xsd/) and the
 * real xmaintd: an ended workflow's journal and its node under
 * /local/domain/0/xmaint/workflow go after --workflow-retention (counted
 * from the journal's last write), at start-up and while the daemon runs;
 * at most the newest 64 ended workflows are kept; a node without a journal
 * goes at start-up; ended workflows are listed, never resumed.
 *
 * Exit: 0 all passed, 1 some failed, 77 skipped (no xenstored), 99 error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib.h>
#include <CUnit/Basic.h>
#include <xenstore.h>

#include "internal.h"
#include "schema.h"
#include "xsd.h"
#include "daemon-env.h"
#include "../cunit-report.h"

#define BULK 70                  /* ended workflows beyond the bound of 64 */

static struct daemon_env env;
static GPid daemon_pid;

static void daemon_up(const char *retention)
{
    const char *e = getenv("XMAINTD");
    g_autofree char *opt = retention ? g_strdup_printf("--workflow-retention=%s", retention)
                                     : g_strdup("--verbose");
    const char *argv[] = { e ? e : XMAINTD_BIN, "--foreground", "--pidfile", "",
                           "--state-dir", env.state_dir, "--log-file", env.log_path,
                           opt, NULL };

    CU_ASSERT_FATAL(g_spawn_async(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                  NULL, NULL, &daemon_pid, NULL));
    if (!daemon_env_wait_up(&env, daemon_pid))
        CU_FAIL_FATAL("xmaintd did not come up");
}

static char *journal_file(const char *id)
{
    g_autofree char *name = g_strdup_printf("%s.journal", id);

    return g_build_filename(env.state_dir, "workflows", name, NULL);
}

/* A journal of an os-patch of domain `id`: ended (done) age_s ago by its
 * file's time, or begun and not ended. */
static void write_journal(const char *id, bool ended, long age_s)
{
    g_autofree char *path = journal_file(id);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *text = g_strdup_printf(
        "{\"time\":1,\"event\":\"start\",\"type\":\"os-patch\",\"domain\":\"%s\","
        "\"substitute\":\"%s-sub\",\"args\":{\"type\":\"os-patch\",\"domain\":\"%s\","
        "\"patch\":\"true\"}}\n{\"time\":2,\"event\":\"%s\",%s}\n", id, id, id,
        ended ? "end" : "begin", ended ? "\"state\":\"done\"" : "\"step\":\"substitute\"");
    struct timeval tv[2];

    CU_ASSERT_EQUAL_FATAL(g_mkdir_with_parents(dir, 0700), 0);
    CU_ASSERT_FATAL(g_file_set_contents(path, text, -1, NULL));
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= age_s;
    tv[1] = tv[0];
    CU_ASSERT_EQUAL(utimes(path, tv), 0);
}

static char *node(const char *id)
{
    g_autofree char *path = g_strdup_printf(MAINT_XS_WORKFLOW_FMT, id);
    unsigned len;

    return xs_read(env.xs, XBT_NULL, path, &len);
}

static bool has_node(const char *id)
{
    char *v = node(id);

    free(v);
    return v != NULL;
}

static void put_node(const char *id)
{
    g_autofree char *path = g_strdup_printf(MAINT_XS_WORKFLOW_FMT, id);

    CU_ASSERT(xs_write(env.xs, XBT_NULL, path, "{}", 2));
}

static bool has_journal(const char *id)
{
    g_autofree char *path = journal_file(id);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

static char *workflow_list(void)
{
    char *result = NULL, *error = NULL;

    CU_ASSERT_EQUAL(maint_request(env.ctx, "workflow-list", NULL, 5000, &result, &error),
                    MAINT_OK);
    free(error);
    return result ? result : strdup("");
}

static bool listed(const char *list, const char *id)
{
    g_autofree char *quoted = g_strdup_printf("\"id\":\"%s\"", id);

    return strstr(list, quoted) != NULL;
}

static bool log_has(const char *needle)
{
    g_autofree char *text = NULL;

    return g_file_get_contents(env.log_path, &text, NULL, NULL) && strstr(text, needle);
}

/* How long after its end the daemon says it forgot workflow id (s), or -1. */
static long forgotten_after(const char *id)
{
    g_autofree char *text = NULL;
    g_autofree char *needle = g_strdup_printf("workflow %s: ended ", id);
    const char *p;

    if (!g_file_get_contents(env.log_path, &text, NULL, NULL) || !(p = strstr(text, needle)))
        return -1;
    return strtol(p + strlen(needle), NULL, 10);
}

static void test_start_prunes(void)
{
    char *list;
    unsigned nbulk = 0;

    write_journal("old", true, 2 * 24 * 3600);      /* beyond a day */
    put_node("old");
    write_journal("recent", true, 60);
    put_node("ghost");                               /* no journal */
    for (int i = 0; i < BULK; i++) {
        g_autofree char *id = g_strdup_printf("bulk%02d", i);
        write_journal(id, true, 100 + i);            /* bulk00 the newest */
    }
    daemon_up(NULL);                                 /* default retention: a day */
    list = workflow_list();
    CU_ASSERT(!listed(list, "old"));
    CU_ASSERT(!has_journal("old"));
    CU_ASSERT(!has_node("old"));
    CU_ASSERT(!has_node("ghost"));
    CU_ASSERT(listed(list, "recent"));
    CU_ASSERT(has_journal("recent"));
    CU_ASSERT(!log_has("resuming os-patch of recent"));
    /* the newest 64 ended ones: recent and bulk00..62 */
    for (int i = 0; i < BULK; i++) {
        g_autofree char *id = g_strdup_printf("bulk%02d", i);

        nbulk += listed(list, id);
        CU_ASSERT_EQUAL(listed(list, id), i < 63);
        CU_ASSERT_EQUAL(has_journal(id), i < 63);
    }
    CU_ASSERT_EQUAL(nbulk, 63);
    free(list);
    CU_ASSERT_EQUAL(WEXITSTATUS(daemon_env_stop(&daemon_pid, SIGTERM)), 0);
}

/* With a retention of 5 s, what ended before the start goes at once and a
 * workflow that ends while the daemon runs goes 5 s after its end. */
static void test_retention_passes(void)
{
    gint64 t0;
    char *list, **names;
    unsigned nr = 0;
    bool gone = false;

    write_journal("later", false, 0);
    put_node("recent");
    daemon_up("5");
    t0 = g_get_monotonic_time();
    list = workflow_list();
    CU_ASSERT(!listed(list, "recent"));
    CU_ASSERT(!has_journal("recent") && !has_node("recent"));
    CU_ASSERT(!has_journal("bulk00"));
    /* "later" resumed, failed (no hypervisor), listed until its time is up */
    CU_ASSERT(log_has("resuming os-patch of later"));
    CU_ASSERT(listed(list, "later"));
    free(list);
    while (!gone && g_get_monotonic_time() - t0 < 20 * G_USEC_PER_SEC) {
        g_usleep(100000);
        gone = !has_journal("later") && !has_node("later");
    }
    CU_ASSERT(gone);
    /* 5 s at least after its end */
    CU_ASSERT(g_get_monotonic_time() - t0 >= 4500000);
    /* its end 5 s back at least (the check runs every second) */
    CU_ASSERT(forgotten_after("later") >= 5);
    list = workflow_list();
    CU_ASSERT_STRING_EQUAL(list, "[]");
    free(list);
    names = xs_directory(env.xs, XBT_NULL, MAINT_XS_WORKFLOWS, &nr);
    CU_ASSERT_EQUAL(nr, 0);
    free(names);
    CU_ASSERT_EQUAL(WEXITSTATUS(daemon_env_stop(&daemon_pid, SIGTERM)), 0);
}

static void test_option(void)
{
    const char *e = getenv("XMAINTD");
    const char *bad[] = { e ? e : XMAINTD_BIN, "--workflow-retention=-1", NULL };
    const char *help[] = { e ? e : XMAINTD_BIN, "--help", NULL };
    g_autofree char *out = NULL, *err = NULL;
    int status;

    CU_ASSERT(g_spawn_sync(NULL, (char **)bad, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    CU_ASSERT_PTR_NOT_NULL(err && strstr(err, "--workflow-retention"));
    g_free(out);
    g_free(err);
    CU_ASSERT(g_spawn_sync(NULL, (char **)help, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "--workflow-retention=SECONDS"));
}

int main(void)
{
    CU_pSuite s;
    int rc = daemon_env_open(&env, "xmaintd-journal-XXXXXX"), failed;

    if (rc)
        return rc;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    s = CU_add_suite("workflow retention", NULL, NULL);
    if (!s)
        return 99;
    CU_add_test(s, "start-up: old ones go, 64 kept, orphans go, ended ones not resumed",
                test_start_prunes);
    CU_add_test(s, "a short retention: what ends goes once its time is up",
                test_retention_passes);
    CU_add_test(s, "--workflow-retention checked and in --help", test_option);
    failed = cunit_run_and_report();
    daemon_env_stop(&daemon_pid, SIGTERM);
    return daemon_env_close(&env, failed);
}
