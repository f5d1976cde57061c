/*
 * The workflow kinds, each a table of steps {name, run, undo}:
 *
 *   hw-remove   substitute (PCI hidden, devices removed) -> move apps -> retire
 *   hw-add      substitute with the new device (the original never sees it)
 *               -> move -> retire
 *   os-upgrade  substitute (new kernel/ramdisk/disks) -> move -> retire
 *   os-patch    substitute (same image) -> patch in it -> move -> retire
 *   app-maint   substitute -> change the second instance -> cut over -> retire
 *   reconfigure substitute -> move -> the original restarted with overrides
 *               -> move back -> retire the substitute
 *
 * A rollback first cleans up after the step that failed (a half-done move
 * brings the applications it moved home), then undoes the finished steps,
 * newest first; a step that never ran is never undone.
 */
#define G_LOG_DOMAIN "xmaintd-workflow"
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "workflow.h"
#include "schema.h"

#define AGENT_TIMEOUT_MS    (120 * 1000)
#define CMD_TIMEOUT_MS      (120 * 1000)
#define RETIRE_TIMEOUT_MS   (120 * 1000)

/* ---- moving the applications ---------------------------------------------- */

static void say(void *user, const char *msg)
{
    xmd_wf_progress(user, NULL, "%s", msg);
}

/* The applications to move: the source's list, or the target's if the
 * source is gone (a rollback from a dead substitute). */
static gboolean apps_of(xmd_wf *w, const char *src_name, gboolean src_alive, uint32_t src,
                        uint32_t dst, gboolean rollback, maint_app **apps_r, unsigned *n_r,
                        GError **error)
{
    if (maint_agent_apps(w->ctx, src_alive ? src : dst, apps_r, n_r) != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "cannot read the applications of %s", src_name);
        return FALSE;
    }
    if (!src_alive && !rollback) {
        free(*apps_r);
        *apps_r = NULL;
        g_set_error(error, XMD_ERROR, 1, "%s is not running", src_name);
        return FALSE;
    }
    return TRUE;
}

/* Move every application src announces to dst. */
static gboolean move_all(xmd_wf *w, const char *src_name, const char *dst_name,
                         gboolean rollback, GError **error)
{
    xmd_appmove m = { .d = w->d, .ctx = w->ctx, .say = say, .user = w,
                      .drain_ms = (unsigned)maint__args_int(&w->argv, "drain_ms", 2000) };
    uint32_t src = 0, dst;
    maint_app *apps = NULL;
    unsigned n = 0, moved = 0;
    gboolean src_alive, ok = TRUE;

    if (!xmd_wf_lookup(w, dst_name, &dst)) {
        g_set_error(error, XMD_ERROR, 1, "%s is not running", dst_name);
        return FALSE;
    }
    src_alive = xmd_wf_lookup(w, src_name, &src);
    if (maint_agent_wait_ready(w->ctx, dst, AGENT_TIMEOUT_MS) != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "the agent in %s is not ready", dst_name);
        return FALSE;
    }
    if (!apps_of(w, src_name, src_alive, src, dst, rollback, &apps, &n, error))
        return FALSE;
    for (unsigned i = 0; i < n && ok; i++) {
        if (!rollback && xmd_wf_aborted(w)) {
            g_set_error(error, XMD_ERROR, 1, "aborted by the administrator");
            ok = FALSE;
            break;
        }
        ok = xmd_app_move(&m, &apps[i], src_name, src, dst_name, dst, src_alive, error);
        if (ok) {
            moved++;
            xmd_journal(w, "app", NULL, "app", apps[i].name);
        }
    }
    if (ok)
        xmd_wf_progress(w, NULL, "%u application(s) now in %s", moved, dst_name);
    free(apps);
    return ok;
}

/* ---- substitute ------------------------------------------------------------ */

static void substitute_progress(void *user, const char *stage, int pct)
{
    xmd_wf_progress(user, NULL, "substitute: %s (%d%%)", stage, pct);
}

/* The substitute's options from the arguments; the string arrays live in
 * the caller's buffers. */
typedef struct sub_bufs {
    const char *hide[MAINT_HIDE_MAX_PCI], *sets[32], *disks[8], *remove[16], *add[16];
} sub_bufs;

static gboolean substitute_opts(xmd_wf *w, maint_substitute_opts *o, sub_bufs *b,
                                GError **error)
{
    const maint__args *a = &w->argv;
    unsigned nh = maint__args_strv(a, "hide_pci", b->hide, MAINT_HIDE_MAX_PCI);

    maint_substitute_opts_init(o);
    o->name = w->substitute;
    for (unsigned i = 0; i < nh; i++)
        if (maint_hide_spec_add_pci(&o->hide, b->hide[i]) != MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "bad PCI address %s", b->hide[i]);
            return FALSE;
        }
    o->kernel = maint__args_str(a, "kernel");
    o->ramdisk = maint__args_str(a, "ramdisk");
    o->cmdline = maint__args_str(a, "cmdline");
    o->firmware = maint__args_str(a, "firmware");
    o->vcpus = (unsigned)maint__args_int(a, "vcpus", 0);
    o->memory_kb = (uint64_t)maint__args_int(a, "memory_kb", 0);
    o->nr_disks = maint__args_strv(a, "disks", b->disks, G_N_ELEMENTS(b->disks));
    o->disks = o->nr_disks ? b->disks : NULL;
    /* reconfigure's overrides are for the original, not its stand-in */
    o->nr_sets = strcmp(w->type, "reconfigure") ?
                 maint__args_strv(a, "sets", b->sets, G_N_ELEMENTS(b->sets)) : 0;
    o->sets = o->nr_sets ? b->sets : NULL;
    o->nr_remove = maint__args_strv(a, "remove", b->remove, G_N_ELEMENTS(b->remove));
    o->remove = o->nr_remove ? b->remove : NULL;
    o->nr_add = maint__args_strv(a, "add", b->add, G_N_ELEMENTS(b->add));
    o->add = o->nr_add ? b->add : NULL;
    o->mac = MAINT_MAC_NEW;
    return TRUE;
}

/* The domain with this UUID, whatever its name and state (a half-built one
 * may have no name yet): TRUE with its id and state. */
static gboolean own_domain(xmd_wf *w, const char *uuid, uint32_t *domid_r,
                           maint_domain_state *state_r)
{
    maint_domain_info *list = NULL;
    unsigned n = 0;
    gboolean found = FALSE;

    if (!uuid[0] || maint_domain_list(w->ctx, &list, &n) != MAINT_OK)
        return FALSE;
    for (unsigned i = 0; i < n && !found; i++) {
        if (!g_ascii_strcasecmp(list[i].uuid, uuid)) {
            *domid_r = list[i].domid;
            *state_r = list[i].state;
            found = TRUE;
        }
    }
    maint_domain_list_free(list, n);
    return found;
}

static gboolean own_substitute(xmd_wf *w, uint32_t *domid_r, maint_domain_state *state_r)
{
    return own_domain(w, w->sub_uuid, domid_r, state_r);
}

static gboolean runs(maint_domain_state st)
{
    return st == MAINT_DOMAIN_STATE_RUNNING || st == MAINT_DOMAIN_STATE_BLOCKED;
}

/* Ours from before a restart: adopted when it runs and its agent comes up
 * within what is left of the step's time; destroyed otherwise (half built,
 * left paused, shut down, dying), at once. */
static gboolean adopt_substitute(xmd_wf *w)
{
    unsigned boot_ms = (unsigned)maint__args_int(&w->argv, "timeout_ms", 600000);
    maint_domain_state st;
    uint32_t sub;

    if (!own_substitute(w, &sub, &st))
        return FALSE;
    if (runs(st) && maint_agent_wait_ready(w->ctx, sub, xmd_wf_time_left(w, "substitute",
                                                                         boot_ms, 10000))
                    == MAINT_OK) {
        xmd_wf_progress(w, NULL, "substitute %s (d%u) from before the restart adopted",
                        w->substitute, sub);
        xmd_wf_record_created(w, "substitute", sub);
        return TRUE;
    }
    xmd_wf_progress(w, NULL, "substitute %s (d%u) from before the restart is %s: "
                    "destroying it, building it again", w->substitute, sub,
                    runs(st) ? "not ready" : maint_domain_state_name(st));
    maint_domain_retire(w->ctx, sub, 0);
    return FALSE;
}

static gboolean step_substitute(xmd_wf *w, GError **error)
{
    maint_substitute_opts o;
    sub_bufs b;
    uint32_t src, sub;
    const char *uuid;
    int rc;

    if (w->sub_uuid[0] && adopt_substitute(w))
        return TRUE;
    if (!xmd_wf_lookup(w, w->domain, &src)) {
        g_set_error(error, XMD_ERROR, 1, "%s is not running", w->domain);
        return FALSE;
    }
    if (!substitute_opts(w, &o, &b, error))
        return FALSE;
    /* journalled before anything is made: after a crash, the domain is ours */
    uuid = xmd_wf_substitute_uuid(w);
    /* on failure it removes what it created */
    rc = maint_substitute_create_uuid(w->ctx, src, &o, uuid,
                                      (unsigned)maint__args_int(&w->argv, "timeout_ms", 600000),
                                      substitute_progress, w, &sub);
    if (rc != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "cannot create the substitute %s: %s (see the log)",
                    w->substitute, maint_strerror(rc));
        return FALSE;
    }
    xmd_wf_record_created(w, "substitute", sub);
    return TRUE;
}

/* The substitute goes: the domain with its UUID (a workflow journalled
 * before write-ahead intent: the one of its name). */
static gboolean undo_substitute(xmd_wf *w, GError **error)
{
    maint_domain_state st;
    uint32_t id;

    if (w->sub_uuid[0] ? !own_substitute(w, &id, &st) : !xmd_wf_lookup(w, w->substitute, &id))
        return TRUE;
    xmd_wf_progress(w, NULL, "destroying the substitute %s (d%u)", w->substitute, id);
    if (maint_domain_retire(w->ctx, id, 0) != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "cannot destroy the substitute %s", w->substitute);
        return FALSE;
    }
    return TRUE;
}

/* ---- commands in the substitute -------------------------------------------- */

/* Step `key` (patch, change) runs its command in domain `name`, once: the
 * command's sequence number is journalled before it is sent, so a daemon
 * killed while it runs waits for it after its restart (with what is left of
 * the step's time) instead of running it a second time.  Only a command
 * answered and forgotten before the kill's record of it (a moment's window)
 * is sent again. */
static gboolean run_in(xmd_wf *w, const char *name, const char *key, GError **error)
{
    const char *cmd = maint__args_str(&w->argv, key), *seq;
    char fresh[21], *err = NULL;
    uint32_t id;
    maint__json *j;
    g_autofree char *json = NULL;
    int rc;

    if (!cmd)
        return TRUE;
    if (!xmd_wf_lookup(w, name, &id)) {
        g_set_error(error, XMD_ERROR, 1, "%s is not running", name);
        return FALSE;
    }
    seq = g_hash_table_lookup(w->cmd_seq, key);
    if (seq && maint__agent_command_state(w->ctx, id, seq) != 0) {
        xmd_wf_progress(w, NULL, "waiting for the %s command in %s, sent before the restart",
                        key, name);
    } else {
        j = maint__json_new();
        maint__json_map_open(j);
        maint__json_kv_string(j, "op", "run");
        maint__json_kv_string(j, "command", cmd);
        maint__json_map_close(j);
        if (!(json = maint__json_finish(j)))
            return FALSE;
        maint__agent_command_seq(fresh);
        {
            g_autofree char *dom = g_strdup_printf("%u", id);
            const char *kv[] = { "seq", fresh, "domid", dom, NULL };

            xmd_journal_kv(w, "intent", key, kv);
        }
        g_hash_table_insert(w->cmd_seq, g_strdup(key), g_strdup(fresh));
        seq = fresh;
        xmd_wf_progress(w, NULL, "running the %s command in %s", key, name);
        if ((rc = maint__agent_command_write(w->ctx, id, json, seq)) != MAINT_OK) {
            g_set_error(error, XMD_ERROR, 1, "cannot send the %s command to %s: %s", key, name,
                        maint_strerror(rc));
            return FALSE;
        }
    }
    rc = maint_agent_command_wait(w->ctx, id, seq,
                                  xmd_wf_time_left(w, key, CMD_TIMEOUT_MS, 10000), &err);
    if (rc != MAINT_OK)
        g_set_error(error, XMD_ERROR, 1, "d%u's agent: %s: %s", id, key,
                    err ? err : maint_strerror(rc));
    free(err);
    return rc == MAINT_OK;
}

static gboolean step_patch(xmd_wf *w, GError **error)
{
    return run_in(w, w->substitute, "patch", error);
}

static gboolean step_change(xmd_wf *w, GError **error)
{
    return run_in(w, w->substitute, "change", error);
}

/* ---- move, move back -------------------------------------------------------- */

static gboolean undo_move(xmd_wf *w, GError **error)
{
    return move_all(w, w->substitute, w->domain, TRUE, error);
}

static gboolean step_move(xmd_wf *w, GError **error)
{
    return move_all(w, w->domain, w->substitute, FALSE, error);
}

static gboolean step_move_back(xmd_wf *w, GError **error)
{
    return move_all(w, w->substitute, w->domain, FALSE, error);
}

/* ---- retire ----------------------------------------------------------------- */

static gboolean retire(xmd_wf *w, const char *name, GError **error)
{
    uint32_t id;
    int rc;

    if (!xmd_wf_lookup(w, name, &id))
        return TRUE;                          /* already gone */
    xmd_wf_progress(w, NULL, "shutting %s (d%u) down; its disks are kept", name, id);
    rc = maint_domain_retire(w->ctx, id, RETIRE_TIMEOUT_MS);
    if (rc != MAINT_OK) {
        g_set_error(error, XMD_ERROR, 1, "cannot retire %s: %s", name, maint_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

static gboolean step_retire(xmd_wf *w, GError **error)
{
    return retire(w, w->domain, error);
}

static gboolean step_retire_substitute(xmd_wf *w, GError **error)
{
    return retire(w, w->substitute, error);
}

/* ---- reconfigure -------------------------------------------------------------- */

/* The original's new configuration, derived once and kept in the state
 * directory (STATE/workflows/ID.config.json) so a restart finds it. */
static char *reconfigured_json(xmd_wf *w, const char *cfgpath, GError **error)
{
    maint_substitute_opts o;
    const char *sets[32];
    char *out = NULL, *json = NULL;
    uint32_t id;
    int rc;

    if (g_file_test(cfgpath, G_FILE_TEST_EXISTS))
        return g_file_get_contents(cfgpath, &json, NULL, error) ? json : NULL;
    if (!xmd_wf_lookup(w, w->domain, &id)) {
        g_set_error(error, XMD_ERROR, 1, "%s is not running", w->domain);
        return NULL;
    }
    maint_substitute_opts_init(&o);
    o.same_identity = true;
    o.mac = MAINT_MAC_KEEP;
    o.nr_sets = maint__args_strv(&w->argv, "sets", sets, G_N_ELEMENTS(sets));
    o.sets = o.nr_sets ? sets : NULL;
    o.vcpus = (unsigned)maint__args_int(&w->argv, "vcpus", 0);
    o.memory_kb = (uint64_t)maint__args_int(&w->argv, "memory_kb", 0);
    rc = maint_substitute_config_json(w->ctx, id, &o, &out);
    if (rc) {
        g_set_error(error, XMD_ERROR, 1, "cannot derive %s's new configuration: %s",
                    w->domain, maint_strerror(rc));
        return NULL;
    }
    json = g_strdup(out);
    free(out);
    if (!g_file_set_contents(cfgpath, json, -1, error)) {
        g_free(json);
        return NULL;
    }
    return json;
}

/* The UUID a configuration in libxl's JSON gives its domain, or "". */
static void json_uuid(const char *json, char out[37])
{
    const char *pu[] = { "c_info", "uuid", NULL };
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    yajl_val u = v ? yajl_tree_get(v, pu, yajl_t_string) : NULL;

    out[0] = 0;
    if (u && g_uuid_string_is_valid(YAJL_GET_STRING(u)))
        g_strlcpy(out, YAJL_GET_STRING(u), 37);
    yajl_tree_free(v);
}

static gboolean has_role(xmd_wf *w, uint32_t domid, const char *role)
{
    g_autofree char *p = g_strdup_printf(MAINT_XS_ROLE_FMT, domid);
    char *v = w->ctx->port.ops->xs_read(w->ctx->port.priv, MAINT__XS_NO_TXN, p, NULL);
    gboolean is = v && !strcmp(v, role);

    free(v);
    return is;
}

/* Before the original starts again, every domain with its identity goes:
 * the emptied original (asked to shut down first), or a re-creation a kill
 * left behind -- unless that re-creation runs and its agent comes up within
 * what is left of the step's time: then it is adopted.  1 adopted (*id_r),
 * 0 none left, -1 error. */
static int clear_identity(xmd_wf *w, const char *uuid, uint32_t *id_r, GError **error)
{
    unsigned boot_ms = (unsigned)maint__args_int(&w->argv, "timeout_ms", 600000);
    maint_domain_state st;
    uint32_t id;
    int rc;

    for (int round = 0; round < 8; round++) {
        gboolean again;

        if (uuid[0] ? !own_domain(w, uuid, &id, &st)
                    : !xmd_wf_lookup(w, w->domain, &id))      /* no UUID: by name */
            return 0;
        again = has_role(w, id, "reconfigured");
        if (again && runs(st) &&
            maint_agent_wait_ready(w->ctx, id, xmd_wf_time_left(w, "reconfigure", boot_ms,
                                                                 10000)) == MAINT_OK) {
            *id_r = id;
            return 1;
        }
        xmd_wf_progress(w, NULL, "shutting %s (d%u) down to reconfigure it", w->domain, id);
        rc = maint_domain_retire(w->ctx, id, !again && runs(st) ? RETIRE_TIMEOUT_MS : 0);
        if (rc) {
            g_set_error(error, XMD_ERROR, 1, "cannot shut %s down: %s", w->domain,
                        maint_strerror(rc));
            return -1;
        }
    }
    g_set_error(error, XMD_ERROR, 1, "%s keeps coming back", w->domain);
    return -1;
}

/* reconfigure: the original, emptied by "move", shut down and started again
 * with the overrides (its identity: name, UUID).  Resumed after a kill, the
 * domain with that identity is adopted or cleared away first. */
static gboolean step_reconfigure(xmd_wf *w, GError **error)
{
    g_autofree char *base = g_build_filename(w->d->state_dir, "workflows", w->id, NULL);
    g_autofree char *cfgpath = g_strdup_printf("%s.config.json", base);
    g_autofree char *donepath = g_strdup_printf("%s.recreated", base);
    g_autofree char *json = reconfigured_json(w, cfgpath, error);
    char uuid[37];
    uint32_t id, newid;
    int rc;

    if (!json)
        return FALSE;
    if (g_file_test(donepath, G_FILE_TEST_EXISTS)) {
        if (xmd_wf_lookup(w, w->domain, &id) &&
            maint_agent_wait_ready(w->ctx, id, AGENT_TIMEOUT_MS) == MAINT_OK) {
            xmd_wf_record_created(w, "reconfigure", id);
            return TRUE;
        }
        g_set_error(error, XMD_ERROR, 1, "the reconfigured %s is not up", w->domain);
        return FALSE;
    }
    json_uuid(json, uuid);
    rc = clear_identity(w, uuid, &newid, error);
    if (rc < 0)
        return FALSE;
    if (rc == 0) {
        xmd_wf_progress(w, NULL, "starting %s with its new configuration", w->domain);
        rc = maint_domain_create_json(w->ctx, json, "reconfigured",
                                      (unsigned)maint__args_int(&w->argv, "timeout_ms", 600000),
                                      &newid);
        if (rc) {
            g_set_error(error, XMD_ERROR, 1, "cannot start the reconfigured %s: %s", w->domain,
                        maint_strerror(rc));
            return FALSE;
        }
    }
    xmd_wf_record_created(w, "reconfigure", newid);
    if (!g_file_set_contents(donepath, "", 0, error))
        return FALSE;
    xmd_wf_progress(w, NULL, "%s is back as d%u", w->domain, newid);
    return TRUE;
}

/* ---- the tables ---------------------------------------------------------------- */

/* A failed substitute step may leave a substitute behind (one made before
 * a restart); a failed move the applications it moved (also before a
 * restart): both are taken back by their undo. */
#define SUBSTITUTE { "substitute", step_substitute, undo_substitute, undo_substitute }
#define MOVE       { "move", step_move, undo_move, undo_move }
#define RETIRE     { "retire", step_retire, NULL, NULL }

static const xmd_wf_step hw_steps[] = { SUBSTITUTE, MOVE, RETIRE };
static const xmd_wf_step patch_steps[] = { SUBSTITUTE, { "patch", step_patch, NULL, NULL }, MOVE,
                                           RETIRE };
static const xmd_wf_step change_steps[] = { SUBSTITUTE, { "change", step_change, NULL, NULL }, MOVE,
                                            RETIRE };
static const xmd_wf_step reconf_steps[] = {
    SUBSTITUTE, MOVE,
    { "reconfigure", step_reconfigure, NULL, NULL },
    { "move-back", step_move_back, NULL, NULL },
    { "retire-substitute", step_retire_substitute, NULL, NULL },
};

#define KIND(n, s) { n, s, G_N_ELEMENTS(s), "move" }

static const xmd_wf_kind kinds[] = {
    KIND("hw-remove", hw_steps),
    KIND("hw-add", hw_steps),
    KIND("os-upgrade", hw_steps),
    KIND("os-patch", patch_steps),
    KIND("app-maint", change_steps),
    KIND("reconfigure", reconf_steps),
};

const xmd_wf_kind *xmd_wf_kind_find(const char *type)
{
    for (guint i = 0; type && i < G_N_ELEMENTS(kinds); i++)
        if (!strcmp(kinds[i].name, type))
            return &kinds[i];
    return NULL;
}
