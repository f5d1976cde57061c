/*
 * Talking to a guest's xmaint-agent through xenstore: its applications,
 * readiness and address (all written by the guest: hostile input, parsed
 * strictly), and commands under ~/xmaint/control answered under
 * ~/xmaint/agent/result.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "internal.h"
#include "schema.h"

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* A guest-written value: at most max bytes, NUL-free. */
static char *read_bounded(maint_ctx *ctx, const char *path, size_t max)
{
    unsigned len = 0;
    char *v = ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN, path, &len);

    if (v && (len > max || memchr(v, 0, len))) {
        free(v);
        errno = E2BIG;
        return NULL;
    }
    return v;
}

MAINT_EXPORT bool maint_app_name_valid(const char *s)
{
    size_t i, n;

    if (!s || !(n = strlen(s)) || n > MAINT_APP_NAME_MAX)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

int maint__app_spec_parse(const char *text, size_t len, maint_app *app, char **why_r)
{
    char err[128];
    char *copy;
    yajl_val v = NULL, mode, port, state;
    const char *pm[] = { "mode", NULL }, *pp[] = { "port", NULL }, *ps[] = { "state", NULL };
    int rc = MAINT_ERROR_PROTOCOL;
    size_t i;

    *why_r = NULL;
    if (len > MAINT_XS_MAX_SPEC || memchr(text, 0, len)) {
        *why_r = maint__sprintf("spec longer than %d bytes or not text", MAINT_XS_MAX_SPEC);
        return MAINT_ERROR_TOOBIG;
    }
    {
        const char *jwhy = NULL;
        if ((rc = maint__json_validate(text, len, MAINT_XS_MAX_SPEC, 8, &jwhy)) != MAINT_OK) {
            *why_r = maint__sprintf("spec refused: %s", jwhy ? jwhy : "not well-formed JSON");
            return rc;
        }
        rc = MAINT_ERROR_PROTOCOL;
    }
    if (!(copy = strndup(text, len)))
        return MAINT_ERROR_NOMEM;
    v = yajl_tree_parse(copy, err, sizeof(err));
    free(copy);
    if (!v || !YAJL_IS_OBJECT(v)) {
        *why_r = maint__sprintf("spec is not a JSON object");
        goto out;
    }
    for (i = 0; i < v->u.object.len; i++) {
        const char *k = v->u.object.keys[i];
        if (strcmp(k, "mode") && strcmp(k, "port") && strcmp(k, "state")) {
            *why_r = maint__sprintf("unknown key '%.32s' in spec", k);
            goto out;
        }
    }
    mode = yajl_tree_get(v, pm, yajl_t_string);
    port = yajl_tree_get(v, pp, yajl_t_any);
    state = yajl_tree_get(v, ps, yajl_t_array);
    const char *m = mode ? YAJL_GET_STRING(mode) : NULL;
    if (!m) {
        *why_r = maint__sprintf("spec has no \"mode\" string");
        goto out;
    }
    if (!strcmp(m, "redirect"))
        app->mode = MAINT_APP_REDIRECT;
    else if (!strcmp(m, "state"))
        app->mode = MAINT_APP_STATE;
    else if (!strcmp(m, "checkpoint"))
        app->mode = MAINT_APP_CHECKPOINT;
    else {
        *why_r = maint__sprintf("mode '%.32s' is not redirect, state or checkpoint", m);
        goto out;
    }
    app->port = 0;
    if (port) {
        if (!YAJL_IS_NUMBER(port) || !YAJL_IS_INTEGER(port) || YAJL_GET_INTEGER(port) < 0 ||
            YAJL_GET_INTEGER(port) > 65535) {
            *why_r = maint__sprintf("port is not an integer 0-65535");
            goto out;
        }
        app->port = (unsigned)YAJL_GET_INTEGER(port);
    }
    if (app->mode == MAINT_APP_REDIRECT && !app->port) {
        *why_r = maint__sprintf("a redirect application needs a port");
        goto out;
    }
    app->nr_state = 0;
    if (state) {
        if (state->u.array.len > MAINT_APP_MAX_STATE) {
            *why_r = maint__sprintf("more than %d state paths", MAINT_APP_MAX_STATE);
            goto out;
        }
        for (i = 0; i < state->u.array.len; i++) {
            if (!YAJL_IS_STRING(state->u.array.values[i]) ||
                YAJL_GET_STRING(state->u.array.values[i])[0] != '/') {
                *why_r = maint__sprintf("state path %zu is not an absolute path", i);
                goto out;
            }
        }
        app->nr_state = (unsigned)state->u.array.len;
    }
    rc = MAINT_OK;
out:
    yajl_tree_free(v);
    return rc;
}

MAINT_EXPORT int maint_agent_apps(maint_ctx *ctx, uint32_t domid, maint_app **apps_r,
                                  unsigned *nr_r)
{
    maint__port *port;
    char *dir = NULL, **names = NULL;
    unsigned n = 0, i, out = 0;
    maint_app *apps = NULL;
    int rc;

    if (!ctx || !apps_r || !nr_r)
        return MAINT_ERROR_INVAL;
    *apps_r = NULL;
    *nr_r = 0;
    port = &ctx->port;
    if (!(dir = maint__sprintf(MAINT_XS_AGENT_APPS_FMT, domid)))
        return MAINT_ERROR_NOMEM;
    if (port->ops->xs_directory(port->priv, MAINT__XS_NO_TXN, dir, &names, &n) < 0) {
        rc = errno == ENOENT ? MAINT_OK : MAINT_ERROR_XENSTORE;
        goto done;
    }
    if (n > MAINT_XS_MAX_APPS) {
        LOGD(ctx->lg, WARN, domid, "the agent announces %u applications; only %d are read",
             n, MAINT_XS_MAX_APPS);
        n = MAINT_XS_MAX_APPS;
    }
    rc = MAINT_ERROR_NOMEM;
    if (n && !(apps = calloc(n, sizeof(*apps))))
        goto done;
    for (i = 0; i < n; i++) {
        char *sp, *text, *why = NULL;
        maint_app *a = &apps[out];

        if (!maint_app_name_valid(names[i])) {
            LOGD(ctx->lg, WARN, domid, "agent: application name '%.40s' refused", names[i]);
            continue;
        }
        if (!(sp = maint__sprintf(MAINT_XS_AGENT_APP_SPEC_FMT, domid, names[i])))
            goto done;
        text = read_bounded(ctx, sp, MAINT_XS_MAX_SPEC);
        free(sp);
        if (!text) {
            LOGD(ctx->lg, WARN, domid, "agent: application %s has no readable spec", names[i]);
            continue;
        }
        if (maint__app_spec_parse(text, strlen(text), a, &why) != MAINT_OK) {
            LOGD(ctx->lg, WARN, domid, "agent: application %s refused: %s", names[i],
                 why ? why : "invalid");
            free(why);
            free(text);
            continue;
        }
        free(text);
        strcpy(a->name, names[i]);
        maint_agent_app_status(ctx, domid, a->name, a->status, sizeof(a->status));
        out++;
    }
    *apps_r = apps;
    *nr_r = out;
    apps = NULL;
    rc = MAINT_OK;
done:
    free(apps);
    free(names);
    free(dir);
    return rc;
}

MAINT_EXPORT int maint_agent_app_status(maint_ctx *ctx, uint32_t domid, const char *app,
                                        char *buf, size_t size)
{
    static const char *const known[] = { "running", "stopping", "stopped", "exited", "failed" };
    char *p, *v;
    unsigned i;

    if (!ctx || !maint_app_name_valid(app) || !buf || size < 8)
        return MAINT_ERROR_INVAL;
    snprintf(buf, size, "unknown");
    if (!(p = maint__sprintf(MAINT_XS_AGENT_APP_STATUS_FMT, domid, app)))
        return MAINT_ERROR_NOMEM;
    v = read_bounded(ctx, p, 16);
    free(p);
    if (!v)
        return MAINT_ERROR_NOENT;
    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(v, known[i]))
            snprintf(buf, size, "%s", known[i]);
    free(v);
    return MAINT_OK;
}

MAINT_EXPORT int maint_agent_addr(maint_ctx *ctx, uint32_t domid, char *buf, size_t size)
{
    struct in_addr a;
    char *p, *v;
    int rc = MAINT_ERROR_NOENT;

    if (!ctx || !buf || size < INET_ADDRSTRLEN)
        return MAINT_ERROR_INVAL;
    buf[0] = 0;
    if (!(p = maint__sprintf(MAINT_XS_AGENT_ADDR_FMT, domid)))
        return MAINT_ERROR_NOMEM;
    v = read_bounded(ctx, p, 15);
    free(p);
    if (v && inet_pton(AF_INET, v, &a) == 1) {
        uint32_t h = ntohl(a.s_addr);
        /* unicast, not loopback, not 0.0.0.0, not multicast/broadcast */
        if (h && (h >> 24) != 127 && (h >> 28) < 14) {
            inet_ntop(AF_INET, &a, buf, (socklen_t)size);
            rc = MAINT_OK;
        }
    }
    free(v);
    return rc;
}

/*
 * Read path (at most max bytes) every interval_ms until done(value, user)
 * says it has what it waits for (a value NULL: not there yet): MAINT_OK;
 * MAINT_ERROR_NOENT once domid is gone, MAINT_ERROR_TIMEOUT after timeout_ms.
 */
static int agent_wait(maint_ctx *ctx, uint32_t domid, const char *path, size_t max,
                      unsigned interval_ms, unsigned timeout_ms,
                      bool (*done)(const char *value, void *user), void *user)
{
    int64_t end = maint__now_ms() + timeout_ms;

    for (;;) {
        char *v = read_bounded(ctx, path, max);
        bool got = v && done(v, user);

        free(v);
        if (got)
            return MAINT_OK;
        if (!ctx->port.ops->xs_introduced(ctx->port.priv, domid))
            return MAINT_ERROR_NOENT;
        if (maint__now_ms() >= end)
            return MAINT_ERROR_TIMEOUT;
        sleep_ms(interval_ms);
    }
}

static bool is_ready(const char *value, void *user)
{
    (void)user;
    return !strcmp(value, "ready");
}

MAINT_EXPORT int maint_agent_wait_ready(maint_ctx *ctx, uint32_t domid, unsigned timeout_ms)
{
    char *p;
    int rc;

    if (!ctx)
        return MAINT_ERROR_INVAL;
    if (!(p = maint__sprintf(MAINT_XS_AGENT_STATE_FMT, domid)))
        return MAINT_ERROR_NOMEM;
    rc = agent_wait(ctx, domid, p, 16, 100, timeout_ms, is_ready, NULL);
    free(p);
    return rc;
}

void maint__agent_command_seq(char seq_r[21])
{
    static uint64_t last;
    uint64_t seq;
    struct timespec ts;

    /* increasing across daemon restarts: wall-clock milliseconds */
    clock_gettime(CLOCK_REALTIME, &ts);
    seq = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    if (seq <= __atomic_load_n(&last, __ATOMIC_SEQ_CST))
        seq = __atomic_add_fetch(&last, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_store_n(&last, seq, __ATOMIC_SEQ_CST);
    snprintf(seq_r, 21, "%llu", (unsigned long long)seq);
}

int maint__agent_command_write(maint_ctx *ctx, uint32_t domid, const char *json,
                               const char *seq)
{
    maint__port *port = &ctx->port;
    maint__perm perms[2] = { { 0, 'n' }, { domid, 'r' } };
    char *path;
    int rc = MAINT_ERROR_XENSTORE;

    if (!(path = maint__sprintf(MAINT_XS_CONTROL_FMT, domid, seq)))
        return MAINT_ERROR_NOMEM;
    if (port->ops->xs_write(port->priv, MAINT__XS_NO_TXN, path, json,
                            (unsigned)strlen(json)) == 0 &&
        port->ops->xs_set_perms(port->priv, MAINT__XS_NO_TXN, path, perms, 2) == 0)
        rc = MAINT_OK;
    else
        LOGED(ctx->lg, ERROR, domid, "cannot write the agent command %s", path);
    free(path);
    return rc;
}

int maint__agent_command_state(maint_ctx *ctx, uint32_t domid, const char *seq)
{
    char *c = maint__sprintf(MAINT_XS_CONTROL_FMT, domid, seq);
    char *r = maint__sprintf(MAINT_XS_AGENT_RESULT_FMT, domid, seq);
    char *vc = c ? ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN, c, NULL) : NULL;
    char *vr = r ? ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN, r, NULL) : NULL;
    int st = vr ? 2 : vc ? 1 : 0;

    free(vc);
    free(vr);
    free(c);
    free(r);
    return st;
}

MAINT_EXPORT int maint_agent_command_send(maint_ctx *ctx, uint32_t domid, const char *json,
                                          char *seq_r, size_t seq_size)
{
    if (!ctx || !json || !seq_r || seq_size < 21 || domid == 0)
        return MAINT_ERROR_INVAL;
    maint__agent_command_seq(seq_r);
    return maint__agent_command_write(ctx, domid, json, seq_r);
}

/* Remove a command and its answer. */
static void command_forget(maint_ctx *ctx, uint32_t domid, const char *seq)
{
    char *c = maint__sprintf(MAINT_XS_CONTROL_FMT, domid, seq);
    char *r = maint__sprintf(MAINT_XS_AGENT_RESULT_FMT, domid, seq);

    if (c)
        ctx->port.ops->xs_rm(ctx->port.priv, MAINT__XS_NO_TXN, c);
    if (r)
        ctx->port.ops->xs_rm(ctx->port.priv, MAINT__XS_NO_TXN, r);
    free(c);
    free(r);
}

/* A command's answer: {"ok": true} or {"ok": false, "error": "..."}. */
struct answer {
    int rc;
    char *error;
};

static bool read_answer(const char *v, void *user)
{
    struct answer *a = user;
    char err[128];
    yajl_val j = yajl_tree_parse(v, err, sizeof(err));
    const char *pok[] = { "ok", NULL }, *perr[] = { "error", NULL };
    yajl_val ok = j ? yajl_tree_get(j, pok, yajl_t_any) : NULL;

    if (ok && YAJL_IS_TRUE(ok)) {
        a->rc = MAINT_OK;
    } else {
        yajl_val e = j ? yajl_tree_get(j, perr, yajl_t_string) : NULL;

        a->rc = MAINT_ERROR_REMOTE;
        a->error = maint__sprintf("%.400s", e ? YAJL_GET_STRING(e)
                                             : "malformed answer from the agent");
    }
    yajl_tree_free(j);
    return true;
}

MAINT_EXPORT int maint_agent_command_wait(maint_ctx *ctx, uint32_t domid, const char *seq,
                                          unsigned timeout_ms, char **error_r)
{
    struct answer a = { MAINT_ERROR_TIMEOUT, NULL };
    char *path;
    int rc;

    if (error_r)
        *error_r = NULL;
    if (!ctx || !seq)
        return MAINT_ERROR_INVAL;
    if (!(path = maint__sprintf(MAINT_XS_AGENT_RESULT_FMT, domid, seq)))
        return MAINT_ERROR_NOMEM;
    rc = agent_wait(ctx, domid, path, 2048, 50, timeout_ms, read_answer, &a);
    if (rc == MAINT_OK) {
        rc = a.rc;
        command_forget(ctx, domid, seq);
    }
    if (error_r) {
        if (rc == MAINT_ERROR_REMOTE)
            *error_r = a.error, a.error = NULL;
        else if (rc == MAINT_ERROR_TIMEOUT)
            *error_r = maint__sprintf("no answer from d%u's agent within %u ms", domid, timeout_ms);
        else if (rc == MAINT_ERROR_NOENT)
            *error_r = maint__sprintf("d%u is gone", domid);
    }
    free(a.error);
    free(path);
    return rc;
}

MAINT_EXPORT int maint_agent_command(maint_ctx *ctx, uint32_t domid, const char *json,
                                     unsigned timeout_ms, char **error_r)
{
    char seq[24];
    int rc = maint_agent_command_send(ctx, domid, json, seq, sizeof(seq));

    if (error_r)
        *error_r = NULL;
    if (rc)
        return rc;
    rc = maint_agent_command_wait(ctx, domid, seq, timeout_ms, error_r);
    if (rc == MAINT_ERROR_TIMEOUT)
        command_forget(ctx, domid, seq);
    return rc;
}

int maint__xs_put_readonly(maint_ctx *ctx, uint32_t domid, const char *fmt,
                           const char *value)
{
    maint__perm perms[2] = { { 0, 'n' }, { domid, 'r' } };
    char *path;
    int rc = MAINT_OK;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    path = maint__sprintf(fmt, domid);
#pragma GCC diagnostic pop
    if (!path)
        return MAINT_ERROR_NOMEM;
    if (ctx->port.ops->xs_write(ctx->port.priv, MAINT__XS_NO_TXN, path, value,
                                (unsigned)strlen(value)) < 0 ||
        ctx->port.ops->xs_set_perms(ctx->port.priv, MAINT__XS_NO_TXN, path, perms, 2) < 0) {
        LOGED(ctx->lg, ERROR, domid, "cannot write %s", path);
        rc = MAINT_ERROR_XENSTORE;
    }
    free(path);
    return rc;
}

MAINT_EXPORT int maint_domain_retire(maint_ctx *ctx, uint32_t domid, unsigned timeout_ms)
{
    int64_t end = maint__now_ms() + timeout_ms;
    int rc;

    if (!ctx || domid == 0)
        return MAINT_ERROR_INVAL;
    if (!ctx->port.ops->xs_introduced(ctx->port.priv, domid)) {
        /* xenstored does not know a domain whose building stopped early
         * (its toolstack killed): the hypervisor does, and it goes */
        maint_domain_info info;

        maint_domain_info_init(&info);
        rc = ctx->port.ops->domain_info(ctx->port.priv, domid, &info);
        maint_domain_info_dispose(&info);
        if (rc != MAINT_OK)
            return MAINT_OK;
        LOGD(ctx->lg, WARN, domid, "half built (unknown to xenstored): destroying it");
        return ctx->port.ops->domain_destroy(ctx->port.priv, domid);
    }
    rc = ctx->port.ops->domain_shutdown(ctx->port.priv, domid);
    if (rc == MAINT_OK) {
        LOGD(ctx->lg, INFO, domid, "asked to shut down; waiting up to %u s", timeout_ms / 1000);
        while (maint__now_ms() < end && !maint__domain_down(&ctx->port, domid, NULL))
            sleep_ms(200);
    }
    /* Shut down: the toolstack that created it (xl's per-domain process,
     * libvirt, ...) usually reaps it at once; give it a moment first. */
    {
        int64_t reap_end = maint__now_ms() + ctx->reap_wait_ms;
        /* still running: it did not shut down */
        while (ctx->port.ops->xs_introduced(ctx->port.priv, domid) && maint__now_ms() < reap_end &&
               maint__domain_down(&ctx->port, domid, NULL))
            sleep_ms(200);
    }
    /* still there (or never answering): the toolstack's part is destroy */
    if (ctx->port.ops->xs_introduced(ctx->port.priv, domid)) {
        maint_domain_info info;

        maint_domain_info_init(&info);
        if (ctx->port.ops->domain_info(ctx->port.priv, domid, &info) == MAINT_OK &&
            info.state != MAINT_DOMAIN_STATE_SHUTDOWN && info.state != MAINT_DOMAIN_STATE_DYING)
            LOGD(ctx->lg, WARN, domid, "did not shut down within %u s: destroying it",
                 timeout_ms / 1000);
        maint_domain_info_dispose(&info);
        rc = ctx->port.ops->domain_destroy(ctx->port.priv, domid);
        /* someone else reaped it meanwhile: it is gone, which is the point */
        if (rc && !ctx->port.ops->xs_introduced(ctx->port.priv, domid))
            rc = MAINT_OK;
    } else {
        rc = MAINT_OK;
    }
    return rc;
}

MAINT_EXPORT int maint_domain_create_json(maint_ctx *ctx, const char *json, const char *role,
                                          unsigned ready_timeout_ms, uint32_t *domid_r)
{
    libxl_domain_config cfg;
    uint32_t domid = 0;
    int rc;

    if (!ctx || !json || !domid_r)
        return MAINT_ERROR_INVAL;
    if (!ctx->port.ops->config_from_json)
        return MAINT_ERROR_UNAVAILABLE;
    libxl_domain_config_init(&cfg);
    rc = ctx->port.ops->config_from_json(ctx->port.priv, &cfg, json);
    if (rc)
        goto out;
    rc = ctx->port.ops->domain_create(ctx->port.priv, &cfg, &domid);
    if (rc)
        goto out;
    if (role && (rc = maint__xs_put_readonly(ctx, domid, MAINT_XS_ROLE_FMT, role))) {
        ctx->port.ops->domain_destroy(ctx->port.priv, domid);
        goto out;
    }
    rc = ctx->port.ops->domain_unpause(ctx->port.priv, domid);
    if (!rc && ready_timeout_ms)
        rc = maint_agent_wait_ready(ctx, domid, ready_timeout_ms);
    if (rc) {
        LOGD(ctx->lg, ERROR, domid, "did not come up (%s): destroying it", maint_strerror(rc));
        ctx->port.ops->domain_destroy(ctx->port.priv, domid);
        goto out;
    }
    LOGD(ctx->lg, INFO, domid, "'%s' created and running", cfg.c_info.name ? cfg.c_info.name : "?");
    *domid_r = domid;
out:
    libxl_domain_config_dispose(&cfg);
    return rc;
}
