/*
 * The workflows' journals: STATE_DIR/workflows/ID.journal, one JSON record
 * a line, each written with one write() and fsync'd before the workflow
 * goes on.  A daemon that dies mid-step finds the journal on restart and
 * runs the step again (steps are idempotent) or finishes a rollback it had
 * begun.
 *
 *   start    type, domain, substitute, args (the first record)
 *   begin / done / fail STEP          a step's course
 *   rollback / undone / undo-failed   the rollback's
 *   intent   STEP uuid name           a domain it is about to make: written
 *                                     before anything is created, so after a
 *                                     crash the domain is known as ours in
 *                                     whatever state it was left
 *   intent   STEP seq domid           an agent command it is about to send:
 *                                     after a crash it is waited for, not
 *                                     sent again
 *   created  STEP domid uuid          a domain the workflow made
 *   app, domain, resume               for the administrator
 *   end      state                    the last record
 */
#define G_LOG_DOMAIN "xmaintd-workflow"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <yajl/yajl_tree.h>

#include "workflow.h"

void xmd_wf_json_names(maint__json *j, xmd_wf *w)
{
    static const char *const keys[] = { "type", "domain", "substitute" };
    const char *values[] = { w->type, w->domain, w->substitute };

    for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
        maint__json_kv_string(j, keys[i], values[i]);
    }
}

char *xmd_journal_path(xmd *d, const char *id)
{
    g_autofree char *name = g_strdup_printf("%s.journal", id);
    return g_build_filename(d->state_dir, "workflows", name, NULL);
}

void xmd_journal_kv(xmd_wf *w, const char *event, const char *step, const char *const *kv)
{
    g_autofree char *path = xmd_journal_path(w->d, w->id);
    g_autofree char *dir = g_path_get_dirname(path);
    maint__json *j = maint__json_new();
    g_autofree char *nl = NULL;
    char *line;
    int fd;

    maint__json_map_open(j);
    maint__json_kv_int(j, "time", g_get_real_time() / 1000);
    maint__json_kv_string(j, "event", event);
    if (!strcmp(event, "start")) {
        xmd_wf_json_names(j, w);
        maint__json_key(j, "args");
        maint__json_raw(j, w->args);
    }
    if (step) {
        maint__json_kv_string(j, "step", step);
    }
    for (; kv && kv[0]; kv += 2) {
        maint__json_kv_string(j, kv[0], kv[1]);
    }
    maint__json_map_close(j);
    line = maint__json_finish(j);
    /* one write a record: the main thread may add one (xmd_workflow_note) */
    nl = line ? g_strdup_printf("%s\n", line) : NULL;
    g_mkdir_with_parents(dir, 0700);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || !nl || write(fd, nl, strlen(nl)) < 0 || fsync(fd) < 0)
        g_warning("workflow %s: cannot write its journal %s: %s", w->id, path,
                  g_strerror(errno));
    if (fd >= 0)
        close(fd);
    free(line);
}

void xmd_journal_began(xmd_wf *w, const char *step, gint64 when)
{
    if (!g_hash_table_contains(w->began, step))
        g_hash_table_insert(w->began, g_strdup(step), g_memdup2(&when, sizeof(when)));
}

void xmd_journal(xmd_wf *w, const char *event, const char *step, const char *key,
                 const char *value)
{
    const char *kv[] = { key, value, NULL };

    xmd_journal_kv(w, event, step, kv);
}

void xmd_journal_remove(xmd *d, const char *id)
{
    static const char *const suffixes[] = { ".journal", ".config.json", ".recreated" };

    for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        g_autofree char *name = g_strdup_printf("%s%s", id, suffixes[i]);
        g_autofree char *path = g_build_filename(d->state_dir, "workflows", name, NULL);

        if (unlink(path) < 0 && errno != ENOENT)
            g_warning("cannot remove %s: %s", path, g_strerror(errno));
    }
}

/* ---- replay ----------------------------------------------------------------- */

/* A string member of a record, or NULL. */
static const char *member(yajl_val v, const char *key)
{
    const char *p[] = { key, NULL };
    yajl_val m = yajl_tree_get(v, p, yajl_t_string);

    return m ? YAJL_GET_STRING(m) : NULL;
}

/* The start record: a workflow, its arguments checked again. */
static xmd_wf *replay_start(xmd *d, const char *path, guint line, yajl_val v,
                           xmd_journal_make_fn make)
{
    const char *pa[] = { "args", NULL };
    const char *type = member(v, "type"), *dom = member(v, "domain"),
               *sub = member(v, "substitute");
    yajl_val a = yajl_tree_get(v, pa, yajl_t_object);
    g_autofree char *base = g_path_get_basename(path);
    char *dot = strstr(base, ".journal"), *why = NULL;
    maint__args args;
    xmd_wf *w = NULL;

    if (!type || !dom || !sub || !a || !dot)
        return NULL;
    if (maint__args_parse("workflow-start", a, &args, &why) == MAINT_OK) {
        *dot = 0;
        w = make(d, base, type, dom, sub, &args);
    } else {
        g_warning("%s: line %u: %s", path, line, why);
    }
    free(why);
    maint__args_dispose(&args);
    return w;
}

static void replay_created(xmd_wf *w, yajl_val v)
{
    const char *di = member(v, "domid"), *u = member(v, "uuid");
    xmd_sd_created c = { 0 };
    guint64 id;

    if (di && u && g_ascii_string_to_unsigned(di, 10, 1, 0x7fef, &id, NULL) &&
        g_uuid_string_is_valid(u)) {
        c.domid = (uint32_t)id;
        g_strlcpy(c.uuid, u, sizeof(c.uuid));
        g_array_append_val(w->created, c);
    }
}

/* One record after the start record. */
static void replay_record(xmd_wf *w, yajl_val v)
{
    const char *ev = member(v, "event"), *st = member(v, "step");

    if (!ev)
        return;
    if (!strcmp(ev, "done") && st) {
        g_hash_table_add(w->done, g_strdup(st));
    } else if (!strcmp(ev, "undone") && st) {
        g_hash_table_add(w->undone, g_strdup(st));
    } else if (!strcmp(ev, "fail") && st) {
        /* the kind's own name of it (the journal's string goes) */
        for (guint i = 0; i < w->kind->nr_steps; i++)
            if (!strcmp(w->kind->steps[i].name, st))
                w->failed_step = w->kind->steps[i].name;
    } else if (!strcmp(ev, "created")) {
        replay_created(w, v);
    } else if (!strcmp(ev, "intent") && st && !strcmp(st, "substitute")) {
        const char *u = member(v, "uuid");

        if (u && g_uuid_string_is_valid(u))
            g_strlcpy(w->sub_uuid, u, sizeof(w->sub_uuid));
    } else if (!strcmp(ev, "intent") && st && member(v, "seq")) {
        const char *q = member(v, "seq");
        guint64 n;

        if (g_ascii_string_to_unsigned(q, 10, 1, G_MAXUINT64, &n, NULL))
            g_hash_table_insert(w->cmd_seq, g_strdup(st), g_strdup(q));
    } else if (!strcmp(ev, "begin") && st) {
        const char *pt[] = { "time", NULL };
        yajl_val t = yajl_tree_get(v, pt, yajl_t_number);

        if (t && YAJL_IS_INTEGER(t))
            xmd_journal_began(w, st, YAJL_GET_INTEGER(t));
    } else if (!strcmp(ev, "rollback")) {
        w->rolling_back = TRUE;
    } else if (!strcmp(ev, "end")) {
        const char *s = member(v, "state");

        w->state = WF_FAILED;
        for (unsigned k = 0; s && k < G_N_ELEMENTS(xmd_wf_state_names); k++)
            if (!strcmp(s, xmd_wf_state_names[k]))
                w->state = (xmd_wf_state)k;
        if (w->state == WF_RUNNING)
            w->state = WF_FAILED;
    }
}

xmd_wf *xmd_journal_replay(xmd *d, const char *path, xmd_journal_make_fn make)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    xmd_wf *w = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char err[128];
        yajl_val v;
        const char *ev;

        if (!lines[i][0])
            continue;
        v = yajl_tree_parse(lines[i], err, sizeof(err));
        if (!v) {
            /* a torn last line (killed mid-write): the rest is what counts */
            g_warning("%s: line %u unreadable; ignored", path, i + 1);
            continue;
        }
        ev = member(v, "event");
        if (!w && ev && !strcmp(ev, "start"))
            w = replay_start(d, path, i + 1, v, make);
        else if (w)
            replay_record(w, v);
        yajl_tree_free(v);
    }
    if (!w) {
        g_warning("%s: no start record; ignored", path);
    } else if (w->state != WF_RUNNING) {
        /* ended when its last record was written (the retention's clock:
         * the file's, whatever time a record claims) */
        GStatBuf st;

        w->ended_ms = g_stat(path, &st) == 0 && st.st_mtime > 0 ?
                      (gint64)st.st_mtime * 1000 : g_get_real_time() / 1000;
    }
    return w;
}
