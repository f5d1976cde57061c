/* The client side of the request protocol: maint_request(). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "schema.h"

#define RESPONSE_TOKEN "maint-response"

static int ensure_response_watch(maint_ctx *ctx)
{
    char *dir;
    int r;

    if (ctx->response_watch)
        return MAINT_OK;
    dir = maint__sprintf(MAINT_XS_RESPONSE_DIR_FMT, ctx->self_domid);
    if (!dir)
        return MAINT_ERROR_NOMEM;
    r = ctx->port.ops->xs_watch(ctx->port.priv, dir, RESPONSE_TOKEN);
    if (r < 0) {
        LOGED(ctx->lg, ERROR, ctx->self_domid, "cannot watch %s", dir);
        free(dir);
        return MAINT_ERROR_XENSTORE;
    }
    free(dir);
    ctx->response_watch = true;
    return MAINT_OK;
}

static void drain_events(maint_ctx *ctx)
{
    maint__watch_event ev;

    while (ctx->port.ops->xs_read_watch(ctx->port.priv, &ev) > 0) {
        free(ev.path);
        free(ev.token);
    }
}

/* Wait up to ms for any watch event; drains what is queued. */
static void wait_event(maint_ctx *ctx, int ms)
{
    struct pollfd pfd = { .fd = ctx->port.ops->xs_fileno(ctx->port.priv),
                          .events = POLLIN };

    if (pfd.fd >= 0 && poll(&pfd, 1, ms) <= 0)
        return;
    drain_events(ctx);
}

MAINT_EXPORT int maint_request(maint_ctx *ctx, const char *op, const char *args_json,
                               unsigned timeout_ms, char **result_json_r,
                               char **error_r)
{
    return maint__request_until(ctx, op, args_json,
                                maint__now_ms() + (timeout_ms ? timeout_ms : 10000),
                                result_json_r, error_r);
}

/* Remove path (and what is below it); a missing node is no failure. */
static void remove_node(maint_ctx *ctx, const char *path)
{
    if (ctx->port.ops->xs_rm(ctx->port.priv, MAINT__XS_NO_TXN, path) < 0 &&
        errno != ENOENT)
        LOGED(ctx->lg, WARN, ctx->self_domid, "cannot remove %s", path);
}

/*
 * Wait until deadline_ms for the response at id that carries nonce.
 * Returns MAINT_OK with *value_r (malloc'd), MAINT_ERROR_TIMEOUT, or
 * another MAINT_ERROR_* code from reading it.
 */
static int await_response(maint_ctx *ctx, const char *id, const char *nonce,
                          int64_t deadline_ms, char **value_r)
{
    char *value = NULL, *result = NULL, *error = NULL;
    bool foreign = false;
    int rc;

    *value_r = NULL;
    for (;;) {
        /* Read only after a watch event: no answer can precede one.  Other
         * contexts' answers (and their removal) wake us too. */
        wait_event(ctx, maint__ms_left(deadline_ms));
        rc = maint__response_read(&ctx->port, ctx->self_domid, id, &value);
        if (rc == MAINT_OK) {
            rc = maint__response_parse(value, strlen(value), nonce, &result, &error);
            free(result);
            free(error);
            result = error = NULL;
            if (rc != MAINT_ERROR_NOENT) {
                *value_r = value;
                return MAINT_OK;
            }
            /* Under our id, but not ours: ignore it, the daemon overwrites it. */
            foreign = true;
            free(value);
            value = NULL;
        } else if (rc != MAINT_ERROR_NOENT) {
            return rc;
        }
        if (maint__now_ms() >= deadline_ms) {
            if (foreign)
                LOG(ctx->lg, ERROR, "%s: the answer there does not carry our nonce "
                    "(xmaintd older than this libmaint?)", id);
            return MAINT_ERROR_TIMEOUT;
        }
    }
}

int maint__request_until(maint_ctx *ctx, const char *op, const char *args_json,
                         int64_t deadline_ms, char **result_json_r, char **error_r)
{
    char id[MAINT_REQUEST_ID_MAX + 1], nonce[MAINT_NONCE_LEN + 1];
    char *req = NULL, *req_path = NULL, *resp_path = NULL, *value = NULL;
    char *result = NULL, *error = NULL;
    const char *why;
    int64_t sent;
    int rc;

    if (result_json_r)
        *result_json_r = NULL;
    if (error_r)
        *error_r = NULL;
    if (!ctx || !op)
        return MAINT_ERROR_INVAL;
    if (args_json && maint__json_validate(args_json, strlen(args_json),
                                          MAINT_REQUEST_MAX, 8, &why)) {
        LOG(ctx->lg, ERROR, "request arguments rejected: %s", why);
        return MAINT_ERROR_INVAL;
    }
    if (maint__nonce_new(nonce)) {
        LOGE(ctx->lg, ERROR, "cannot draw a random nonce");
        return MAINT_ERROR_FAIL;
    }

    maint__request_id(id, sizeof(id));
    snprintf(ctx->last_request_id, sizeof(ctx->last_request_id), "%s", id);
    req = maint__request_format(op, args_json, nonce);
    req_path = maint__sprintf(MAINT_XS_REQUEST_FMT, ctx->self_domid, id);
    resp_path = maint__sprintf(MAINT_XS_RESPONSE_FMT, ctx->self_domid, id);
    if (!req || !req_path || !resp_path) {
        rc = MAINT_ERROR_NOMEM;
        goto out;
    }
    if (strlen(req) > MAINT_REQUEST_MAX) {
        LOG(ctx->lg, ERROR, "request for '%s' is %zu bytes; the limit is %d",
            op, strlen(req), MAINT_REQUEST_MAX);
        rc = MAINT_ERROR_TOOBIG;
        goto out;
    }
    rc = ensure_response_watch(ctx);
    if (rc)
        goto out;
    /* A stale answer under this id (an earlier process with our pid) must
     * not be taken for ours, nor removed after the daemon has answered. */
    remove_node(ctx, resp_path);
    drain_events(ctx);      /* e.g. the echo of removing the last response */
    if (ctx->port.ops->xs_write(ctx->port.priv, MAINT__XS_NO_TXN, req_path, req,
                                (unsigned)strlen(req)) < 0) {
        LOGED(ctx->lg, ERROR, ctx->self_domid, "cannot write %s", req_path);
        rc = MAINT_ERROR_XENSTORE;
        goto out;
    }

    sent = maint__now_ms();
    rc = await_response(ctx, id, nonce, deadline_ms, &value);
    if (rc == MAINT_ERROR_TIMEOUT) {
        LOG(ctx->lg, ERROR, "no answer to '%s' by its deadline (%lld ms after it was "
            "sent): is xmaintd running?", op, (long long)(maint__now_ms() - sent));
        /* Withdraw the request so that it is not served later, and whatever
         * answer raced with the withdrawal. */
        remove_node(ctx, req_path);
        remove_node(ctx, resp_path);
        goto out;
    }
    if (rc)
        goto out;
    remove_node(ctx, resp_path);    /* read: ours to remove (xenstore-schema/) */
    rc = maint__response_parse(value, strlen(value), nonce, &result, &error);
    if (rc == MAINT_ERROR_PROTOCOL)
        LOG(ctx->lg, ERROR, "malformed response to '%s'", op);
    else if (rc == MAINT_ERROR_REMOTE)
        LOG(ctx->lg, DEBUG, "xmaintd refused '%s': %s", op, error);
    if (result_json_r) {
        *result_json_r = result;
        result = NULL;
    }
    if (error_r) {
        *error_r = error;
        error = NULL;
    }
out:
    free(result);
    free(error);
    free(value);
    free(req);
    free(req_path);
    free(resp_path);
    return rc;
}

MAINT_EXPORT void maint_daemon_status_init(maint_daemon_status *st)
{
    memset(st, 0, sizeof(*st));
}

MAINT_EXPORT void maint_daemon_status_dispose(maint_daemon_status *st)
{
    if (!st)
        return;
    free(st->state);
    free(st->version);
    free(st->host_id);
    maint_daemon_status_init(st);
}

MAINT_EXPORT int maint_daemon_status_get(maint_ctx *ctx, unsigned timeout_ms,
                                         maint_daemon_status *st_r)
{
    char *pid, *result = NULL, *path;
    unsigned len;
    int rc;

    if (!ctx || !st_r)
        return MAINT_ERROR_INVAL;
    maint_daemon_status_init(st_r);
    st_r->state = ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN,
                                         MAINT_XS_DAEMON_STATE, &len);
    st_r->version = ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN,
                                           MAINT_XS_DAEMON_VERSION, &len);
    pid = ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN,
                                 MAINT_XS_DAEMON_PID, &len);
    if (pid)
        st_r->pid = strtol(pid, NULL, 10);
    free(pid);
    path = maint__sprintf(MAINT_XS_HOST_ID_FMT, ctx->self_domid);
    if (path)
        st_r->host_id = ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN,
                                               path, &len);
    free(path);
    if (st_r->state && !strcmp(st_r->state, "running")) {
        rc = maint_request(ctx, "ping", NULL, timeout_ms ? timeout_ms : 2000,
                           &result, NULL);
        st_r->answering = rc == MAINT_OK;
        free(result);
    }
    return MAINT_OK;
}

/* ---- Typed calls --------------------------------------------------------- */

int maint__call(maint_ctx *ctx, const char *op, const maint__args *args,
                unsigned timeout_ms, struct yajl_val_s **result_r, char **error_r)
{
    char *args_json = NULL, *result = NULL, *error = NULL, *why = NULL;
    int rc;

    *result_r = NULL;
    if (error_r)
        *error_r = NULL;
    if (!ctx)
        return MAINT_ERROR_INVAL;
    if (args && !(args_json = maint__args_to_checked_json(args, &why)))
        return maint__refuse_here(ctx, MAINT_ERROR_INVAL, why, error_r);
    rc = maint_request(ctx, op, args_json, timeout_ms, &result, &error);
    if (rc == MAINT_ERROR_REMOTE) {
        /* reported once: to a caller who takes the reason, else to the log */
        if (error_r) {
            LOG(ctx->lg, DEBUG, "xmaintd refused '%s': %s", op, error);
            *error_r = error;
            error = NULL;
        } else {
            LOG(ctx->lg, ERROR, "xmaintd refused '%s': %s", op, error);
        }
    } else if (rc == MAINT_OK) {
        *result_r = maint__json_parse(result, strlen(result));
        if (!*result_r) {
            LOG(ctx->lg, ERROR, "the answer to '%s' is not JSON", op);
            rc = MAINT_ERROR_PROTOCOL;
        }
    }
    free(args_json);
    free(result);
    free(error);
    return rc;
}
