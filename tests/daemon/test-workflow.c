/*
 * The workflow engine (xmaintd/workflow.c, wfstate.c, journal.c) with
 * kinds of scripted steps instead of wfsteps.c's: each step logs that it
 * ran or was undone, fails or waits when told.  Workflows are started the
 * way a restarted daemon resumes them, from journals; worker contexts are
 * fake ports (tests/unit/fake-port.c).  Checked: the steps run in order;
 * a rollback cleans up after the failed step, then undoes only the
 * finished steps, newest first, each once, also when resumed after a
 * restart; nothing is undone past the point of no
 * return; a failed undo ends the workflow failed; an abort is taken while
 * a step runs and refused once the point of no return is passed or the
 * workflow has ended; the journal records it all.
 *
 * Exit: 0 all passed, 1 some failed, 99 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <CUnit/Basic.h>

#include "workflow.h"
#include "unit.h"
#include "../cunit-report.h"

G_DEFINE_QUARK(xmaintd-error-quark, xmd_error)

/* ---- what the engine calls outside its files ------------------------------ */

void xmd_domain_recheck(xmd *d, uint32_t domid)
{
}

void xmd_fault_point(const char *point, gboolean after)
{
}

/* ---- scripted steps --------------------------------------------------------- */

#define NSTEPS 4

static GMutex log_lock;
static GString *log_text;            /* "run:s1 undo:s1 ..." */
static const char *fail_run;         /* this step's run fails */
static const char *fail_undo;        /* this step's undo fails */
static const char *fail_clean;       /* this step's cleanup fails */
static gint hold[NSTEPS];            /* atomic: step i waits while set */
static gint started[NSTEPS];         /* atomic: step i has begun */

static void note(const char *what, const char *step)
{
    g_mutex_lock(&log_lock);
    g_string_append_printf(log_text, "%s%s:%s", log_text->len ? " " : "", what, step);
    g_mutex_unlock(&log_lock);
}

static gboolean run_i(xmd_wf *w, int i, GError **error)
{
    char name[4];

    snprintf(name, sizeof(name), "s%d", i + 1);
    g_atomic_int_set(&started[i], 1);
    while (g_atomic_int_get(&hold[i]))
        g_usleep(1000);
    note("run", name);
    if (fail_run && !strcmp(fail_run, name)) {
        g_set_error(error, XMD_ERROR, 1, "%s failed as told", name);
        return FALSE;
    }
    return TRUE;
}

/* what: "undo" or "clean"; fails when `fail` names the step */
static gboolean back_i(int i, const char *what, const char *fail, GError **error)
{
    char name[4];

    snprintf(name, sizeof(name), "s%d", i + 1);
    note(what, name);
    if (fail && !strcmp(fail, name)) {
        g_set_error(error, XMD_ERROR, 1, "%s of %s failed as told", what, name);
        return FALSE;
    }
    return TRUE;
}

#define STEP(n) \
    static gboolean run_s##n(xmd_wf *w, GError **e) { return run_i(w, n - 1, e); } \
    static gboolean undo_s##n(xmd_wf *w, GError **e) { return back_i(n - 1, "undo", fail_undo, e); } \
    G_GNUC_UNUSED static gboolean clean_s##n(xmd_wf *w, GError **e) \
    { return back_i(n - 1, "clean", fail_clean, e); }
STEP(1) STEP(2) STEP(3) STEP(4)

/* s4 leaves nothing behind when it fails */
static const xmd_wf_step steps[NSTEPS] = {
    { "s1", run_s1, undo_s1, clean_s1 }, { "s2", run_s2, undo_s2, clean_s2 },
    { "s3", run_s3, undo_s3, clean_s3 }, { "s4", run_s4, undo_s4, NULL },
};

/* t-late: no way back after s4 (a failing s1..s4 rolls back); t-early:
 * none after s2 */
static const xmd_wf_kind kinds[] = {
    { "t-late", steps, NSTEPS, "s4" },
    { "t-early", steps, NSTEPS, "s2" },
};

const xmd_wf_kind *xmd_wf_kind_find(const char *type)
{
    for (guint i = 0; type && i < G_N_ELEMENTS(kinds); i++)
        if (!strcmp(kinds[i].name, type))
            return &kinds[i];
    return NULL;
}

/* ---- the daemon around it ---------------------------------------------------- */

static xmd d;

static int fake_ctx_open(maint_ctx **ctx_r, xentoollog_logger *lg, unsigned flags)
{
    maint__port port;

    fake_port_new(&port);
    return maint__ctx_from_port(ctx_r, lg, &port);
}

static char *journal_file(const char *id)
{
    g_autofree char *name = g_strdup_printf("%s.journal", id);

    return g_build_filename(d.state_dir, "workflows", name, NULL);
}

/* A journal: the start record of a `type` workflow, then `records`. */
static void write_journal(const char *id, const char *type, const char *records)
{
    g_autofree char *path = journal_file(id);
    g_autofree char *text = g_strdup_printf(
        "{\"time\":1,\"event\":\"start\",\"type\":\"%s\",\"domain\":\"g\","
        "\"substitute\":\"g-sub\",\"args\":{\"type\":\"%s\",\"domain\":\"g\"}}\n%s",
        type, type, records);

    CU_ASSERT_FATAL(g_file_set_contents(path, text, -1, NULL));
}

static char *journal_text(const char *id)
{
    g_autofree char *path = journal_file(id);
    char *text = NULL;

    g_file_get_contents(path, &text, NULL, NULL);
    return text ? text : g_strdup("");
}

static void reset(void)
{
    g_mutex_lock(&log_lock);
    g_string_truncate(log_text, 0);
    g_mutex_unlock(&log_lock);
    fail_run = fail_undo = fail_clean = NULL;
    for (int i = 0; i < NSTEPS; i++) {
        g_atomic_int_set(&hold[i], 0);
        g_atomic_int_set(&started[i], 0);
    }
}

/* Wait (10 s at most) until the one workflow's state is `state`. */
static gboolean wait_state(const char *state)
{
    g_autofree char *want = g_strdup_printf("\"state\":\"%s\"", state);

    for (int i = 0; i < 1000; i++) {
        g_autofree char *json = xmd_workflows_json(&d);

        if (strstr(json, want))
            return TRUE;
        g_usleep(10000);
    }
    return FALSE;
}

static char *release_and_log(int i, const char *state);

/* Resume journal `id`, wait for `state`, stop (threads joined); the log. */
static char *run_to(const char *id, const char *state)
{
    char *text;

    xmd_workflows_init(&d);
    text = release_and_log(0, state);    /* nothing held */
    if (!text[0] || getenv("TEST_VERBOSE"))
        fprintf(stderr, "\n%s: %s\n", id, text);
    return text;
}

static void forget_journal(const char *id)
{
    xmd_journal_remove(&d, id);
}

/* ---- the cases -------------------------------------------------------------------- */

/* A workflow resumed from a journal runs to an end; what ran, what the
 * journal says. */
typedef struct wf_case {
    const char *id, *kind, *fail_run, *fail_undo, *fail_clean;
    const char *records;               /* the journal after its start record */
    const char *end, *log;
    const char *has[3], *lacks[2];     /* in the journal afterwards, or not */
} wf_case;

#define J_DONE(s) "{\"event\":\"done\",\"step\":\"" s "\"}\n"
#define EV(e, s) "\"event\":\"" e "\",\"step\":\"" s "\""

static const wf_case cases[] = {
    /* every step, in order */
    { "w-all", "t-late", NULL, NULL, NULL, "", "done", "run:s1 run:s2 run:s3 run:s4",
      { EV("done", "s4"), "\"event\":\"end\",\"state\":\"done\"" }, { NULL } },
    /* s3 fails: cleaned up after, never undone; s4 never ran; s2 before s1 */
    { "w-fail", "t-late", "s3", NULL, NULL, "", "rolled-back",
      "run:s1 run:s2 run:s3 clean:s3 undo:s2 undo:s1",
      { EV("fail", "s3"), EV("undone", "s2"), "\"state\":\"rolled-back\"" },
      { EV("undone", "s4"), EV("done", "s3") } },
    /* a first step that fails: its cleanup, nothing finished to undo */
    { "w-first", "t-late", "s1", NULL, NULL, "", "rolled-back", "run:s1 clean:s1",
      { EV("fail", "s1") }, { NULL } },
    /* a failing step without a cleanup */
    { "w-last", "t-late", "s4", NULL, NULL, "", "rolled-back",
      "run:s1 run:s2 run:s3 run:s4 undo:s3 undo:s2 undo:s1", { NULL }, { NULL } },
    /* no rollback past the point of no return, no cleanup either */
    { "w-late", "t-early", "s3", NULL, NULL, "", "failed", "run:s1 run:s2 run:s3",
      { EV("fail", "s3") }, { "\"event\":\"rollback\"" } },
    /* a failed undo ends it failed */
    { "w-undo", "t-late", "s3", "s1", NULL, "", "failed",
      "run:s1 run:s2 run:s3 clean:s3 undo:s2 undo:s1", { EV("undo-failed", "s1") }, { NULL } },
    /* a failed cleanup too, before anything else is undone */
    { "w-clean", "t-late", "s3", NULL, "s3", "", "failed", "run:s1 run:s2 run:s3 clean:s3",
      { EV("undo-failed", "s3") }, { EV("undone", "s2") } },
    /* killed mid-step: that step again, not the finished ones */
    { "w-kill", "t-late", NULL, NULL, NULL,
      "{\"event\":\"begin\",\"step\":\"s1\"}\n" J_DONE("s1")
      "{\"event\":\"begin\",\"step\":\"s2\"}\n",
      "done", "run:s2 run:s3 run:s4", { NULL }, { NULL } },
    /* killed once the rollback was decided: the cleanup, then the undos */
    { "w-rb0", "t-late", NULL, NULL, NULL,
      J_DONE("s1") J_DONE("s2") "{\"event\":\"fail\",\"step\":\"s3\"}\n"
      "{\"event\":\"rollback\"}\n",
      "rolled-back", "clean:s3 undo:s2 undo:s1", { NULL }, { NULL } },
    /* killed mid-rollback: what was taken back stays so */
    { "w-rb", "t-late", NULL, NULL, NULL,
      J_DONE("s1") J_DONE("s2") "{\"event\":\"fail\",\"step\":\"s3\"}\n"
      "{\"event\":\"rollback\"}\n" "{\"event\":\"undone\",\"step\":\"s3\"}\n"
      "{\"event\":\"undone\",\"step\":\"s2\"}\n",
      "rolled-back", "undo:s1", { EV("undone", "s1") }, { NULL } },
};

static void test_cases(void)
{
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        const wf_case *c = &cases[i];
        g_autofree char *log = NULL, *j = NULL;

        reset();
        fail_run = c->fail_run;
        fail_undo = c->fail_undo;
        fail_clean = c->fail_clean;
        write_journal(c->id, c->kind, c->records);
        log = run_to(c->id, c->end);
        if (strcmp(log, c->log))
            fprintf(stderr, "\n%s: ran '%s', not '%s'\n", c->id, log, c->log);
        CU_ASSERT_STRING_EQUAL(log, c->log);
        j = journal_text(c->id);
        for (guint k = 0; k < G_N_ELEMENTS(c->has) && c->has[k]; k++)
            CU_ASSERT_PTR_NOT_NULL(strstr(j, c->has[k]));
        for (guint k = 0; k < G_N_ELEMENTS(c->lacks) && c->lacks[k]; k++)
            CU_ASSERT_PTR_NULL(strstr(j, c->lacks[k]));
        forget_journal(c->id);
    }
}

static void test_ended_not_resumed(void)
{
    g_autofree char *log = NULL;
    g_autofree char *json = NULL;

    reset();
    write_journal("w-over", "t-late",
                  "{\"event\":\"done\",\"step\":\"s1\"}\n{\"event\":\"end\",\"state\":\"failed\"}\n");
    xmd_workflows_init(&d);
    json = xmd_workflows_json(&d);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"id\":\"w-over\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"state\":\"failed\""));
    xmd_workflows_fini(&d);
    g_mutex_lock(&log_lock);
    CU_ASSERT_STRING_EQUAL(log_text->str, "");
    g_mutex_unlock(&log_lock);
    forget_journal("w-over");
}

/* Resume a `kind` workflow that stops in step i (0-based) until let go. */
static void start_held(const char *id, const char *kind, int i)
{
    reset();
    g_atomic_int_set(&hold[i], 1);
    write_journal(id, kind, "");
    xmd_workflows_init(&d);
    for (int k = 0; k < 1000 && !g_atomic_int_get(&started[i]); k++)
        g_usleep(10000);
    CU_ASSERT_FATAL(g_atomic_int_get(&started[i]));
}

/* Let step i go; the log once the workflow reached `state` and stopped. */
static char *release_and_log(int i, const char *state)
{
    char *log;

    g_atomic_int_set(&hold[i], 0);
    CU_ASSERT(wait_state(state));
    xmd_workflows_fini(&d);
    g_mutex_lock(&log_lock);
    log = g_strdup(log_text->str);
    g_mutex_unlock(&log_lock);
    return log;
}

/* An abort while s2 runs: s2 finishes, s3 never starts (nothing to clean
 * up), s2 and s1 undone. */
static void test_abort(void)
{
    g_autoptr(GError) e = NULL;
    g_autofree char *log = NULL;

    start_held("w-abort", "t-late", 1);
    CU_ASSERT(xmd_workflow_abort(&d, "w-abort", &e));
    CU_ASSERT_FALSE(xmd_workflow_abort(&d, "nope", NULL));
    log = release_and_log(1, "rolled-back");
    CU_ASSERT_STRING_EQUAL(log, "run:s1 run:s2 undo:s2 undo:s1");
    forget_journal("w-abort");
}

/* Past the point of no return an abort is refused and changes nothing;
 * once it ended, too. */
static void test_abort_refused(void)
{
    g_autoptr(GError) e = NULL, e2 = NULL;
    g_autofree char *log = NULL;

    start_held("w-noabort", "t-early", 2);
    CU_ASSERT_FALSE(xmd_workflow_abort(&d, "w-noabort", &e));
    CU_ASSERT_PTR_NOT_NULL(e && strstr(e->message, "has moved the applications"));
    g_atomic_int_set(&hold[2], 0);
    CU_ASSERT(wait_state("done"));
    CU_ASSERT_FALSE(xmd_workflow_abort(&d, "w-noabort", &e2));
    CU_ASSERT_PTR_NOT_NULL(e2 && strstr(e2->message, "has ended"));
    log = release_and_log(2, "done");
    CU_ASSERT_STRING_EQUAL(log, "run:s1 run:s2 run:s3 run:s4");
    forget_journal("w-noabort");
}

int main(void)
{
    g_autofree char *dir = g_dir_make_tmp("xmd-workflow-XXXXXX", NULL);
    g_autofree char *wdir = NULL;
    CU_pSuite s;
    int failed;

    if (!dir)
        return 99;
    wdir = g_build_filename(dir, "workflows", NULL);
    g_mkdir_with_parents(wdir, 0700);
    log_text = g_string_new("");
    d.state_dir = dir;
    d.wf_retention_s = 3600;
    d.ctx_open = fake_ctx_open;
    if (fake_ctx_open(&d.ctx, NULL, 0) != MAINT_OK || CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    s = CU_add_suite("workflow engine", NULL, NULL);
    if (!s)
        return 99;
    CU_add_test(s, "steps in order; a failed one cleaned up, the finished ones undone "
                "newest first, once; none past the point of no return; resumed mid-step "
                "and mid-rollback",
                test_cases);
    CU_add_test(s, "an ended workflow is listed, not resumed", test_ended_not_resumed);
    CU_add_test(s, "an abort while a step runs rolls back after it", test_abort);
    CU_add_test(s, "an abort past the point of no return is refused", test_abort_refused);
    failed = cunit_run_and_report();
    maint_ctx_close(d.ctx);
    if (!failed) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
        if (system(cmd)) { /* best effort */ }
    }
    g_string_free(log_text, TRUE);
    return failed < 0 ? 99 : failed ? 1 : 0;
}
