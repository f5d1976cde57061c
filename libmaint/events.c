/*
 * Workflow events: a watch on the workflows' published state over its own
 * xenstore connection, one pollable fd (an epoll set of that connection's
 * watch fd and an eventfd for cancellation), strict parsing of every state
 * read, and a blocking wait built on the same.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "internal.h"
#include "schema.h"

#define WATCH_MAX 64
#define TOKEN_PREFIX "maint-wf:"

struct followed {
    char *id;
    char *last;                   /* the last state text delivered */
    bool pending;                 /* a watch event not yet read for it */
};

struct maint_workflow_watch {
    xentoollog_logger *lg;
    maint__port port;             /* our own xenstore connection */
    int epfd;
    int cancel_fd;                /* eventfd (semaphore): one count per cancel */
    struct followed f[WATCH_MAX];
    unsigned nr;
};

static int epoll_add(int epfd, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

MAINT_EXPORT int maint_workflow_watch_open(maint_ctx *ctx, maint_workflow_watch **w_r)
{
    maint_workflow_watch *w;
    int rc = MAINT_ERROR_NOMEM;

    if (!ctx || !w_r)
        return MAINT_ERROR_INVAL;
    *w_r = NULL;
    if (!(w = calloc(1, sizeof(*w))))
        return MAINT_ERROR_NOMEM;
    w->lg = ctx->lg;
    w->epfd = w->cancel_fd = -1;
    rc = maint__port_xen_open(&w->port, ctx->lg, MAINT_CTX_NO_LIBXL);
    if (rc) {
        w->port.ops = NULL;
        goto fail;
    }
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
    if (w->epfd < 0 || w->cancel_fd < 0 || epoll_add(w->epfd, w->cancel_fd) < 0) {
        LOGE(ctx->lg, ERROR, "cannot make the watch's fds");
        rc = MAINT_ERROR_FAIL;
        goto fail;
    }
    *w_r = w;
    return MAINT_OK;
fail:
    maint_workflow_watch_close(w);
    return rc;
}

MAINT_EXPORT void maint_workflow_watch_close(maint_workflow_watch *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < w->nr; i++) {
        free(w->f[i].id);
        free(w->f[i].last);
    }
    if (w->port.ops)
        w->port.ops->close(w->port.priv);
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->cancel_fd >= 0)
        close(w->cancel_fd);
    free(w);
}

MAINT_EXPORT int maint_workflow_watch_fd(const maint_workflow_watch *w)
{
    return w ? w->epfd : -1;
}

static struct followed *find(maint_workflow_watch *w, const char *id)
{
    for (unsigned i = 0; i < w->nr; i++)
        if (!strcmp(w->f[i].id, id))
            return &w->f[i];
    return NULL;
}

/* A workflow id as workflow-abort's schema bounds it (1-128 bytes), of
 * characters a xenstore path element may hold; never "." or "..". */
static bool id_valid(const char *id)
{
    size_t n = id ? strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_.-") : 0;

    return n > 0 && n <= 128 && !id[n] && strcmp(id, ".") && strcmp(id, "..");
}

MAINT_EXPORT int maint_workflow_watch_add(maint_workflow_watch *w, const char *id)
{
    char *path = NULL, *token = NULL;
    bool first = w && w->nr == 0;
    int rc = MAINT_ERROR_NOMEM;

    if (!w || !id_valid(id))
        return MAINT_ERROR_INVAL;
    if (find(w, id))
        return MAINT_OK;
    if (w->nr == WATCH_MAX)
        return MAINT_ERROR_TOOBIG;
    path = maint__sprintf(MAINT_XS_WORKFLOW_FMT, id);
    token = maint__sprintf(TOKEN_PREFIX "%s", id);
    if (!path || !token || !(w->f[w->nr].id = strdup(id)))
        goto out;
    if (w->port.ops->xs_watch(w->port.priv, path, token) < 0) {
        LOGE(w->lg, ERROR, "cannot watch %s", path);
        free(w->f[w->nr].id);
        rc = MAINT_ERROR_XENSTORE;
        goto out;
    }
    /* the watch fd exists once the first watch is set */
    if (first && epoll_add(w->epfd, w->port.ops->xs_fileno(w->port.priv)) < 0) {
        LOGE(w->lg, ERROR, "cannot poll the xenstore connection");
        w->port.ops->xs_unwatch(w->port.priv, path, token);
        free(w->f[w->nr].id);
        rc = MAINT_ERROR_FAIL;
        goto out;
    }
    w->f[w->nr].last = NULL;
    w->f[w->nr++].pending = true;        /* xenstored fires a new watch once */
    rc = MAINT_OK;
out:
    free(path);
    free(token);
    return rc;
}

MAINT_EXPORT void maint_workflow_watch_cancel(maint_workflow_watch *w)
{
    uint64_t one = 1;

    /* write(2) on an eventfd: async-signal-safe, atomic, never blocks (a
     * counter at its maximum, 2^64 - 2 cancels, stays readable anyway) */
    if (w && write(w->cancel_fd, &one, sizeof(one)) < 0)
        return;
}

/* Consume one cancel, if any: true when there was one. */
static bool take_cancel(maint_workflow_watch *w)
{
    uint64_t v;

    return read(w->cancel_fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

/* Mark the workflows whose watch fired since the last look. */
static int collect_watch_events(maint_workflow_watch *w)
{
    maint__watch_event ev;
    int r;

    while ((r = w->port.ops->xs_read_watch(w->port.priv, &ev)) > 0) {
        struct followed *f = NULL;

        if (!strncmp(ev.token, TOKEN_PREFIX, strlen(TOKEN_PREFIX)))
            f = find(w, ev.token + strlen(TOKEN_PREFIX));
        if (f)
            f->pending = true;
        free(ev.path);
        free(ev.token);
    }
    if (r < 0) {
        LOGE(w->lg, ERROR, "lost the xenstore connection");
        return MAINT_ERROR_XENSTORE;
    }
    return MAINT_OK;
}

/*
 * Read f's published state: MAINT_OK with a new event in *ev_r, or with
 * *ev_r NULL when it did not change (or is not published); *absent_r tells
 * the latter.
 */
static int read_state(maint_workflow_watch *w, struct followed *f,
                      maint_workflow_info **ev_r, bool *absent_r)
{
    char *path = maint__sprintf(MAINT_XS_WORKFLOW_FMT, f->id), *text;
    unsigned len = 0;
    yajl_val tree;
    int rc = MAINT_OK;

    *ev_r = NULL;
    *absent_r = false;
    if (!path)
        return MAINT_ERROR_NOMEM;
    text = w->port.ops->xs_read(w->port.priv, MAINT__XS_NO_TXN, path, &len);
    free(path);
    if (!text) {
        *absent_r = true;
        return errno == ENOENT ? MAINT_OK : MAINT_ERROR_XENSTORE;
    }
    if (f->last && !strcmp(f->last, text)) {
        free(text);
        return MAINT_OK;
    }
    tree = maint__json_parse(text, len);
    if (!tree)
        LOG(w->lg, ERROR, "workflow %s: its published state is not JSON", f->id);
    *ev_r = tree ? maint__workflow_info_parse(w->lg, tree, &rc) : NULL;
    if (!tree)
        rc = MAINT_ERROR_PROTOCOL;
    yajl_tree_free(tree);
    if (*ev_r && strcmp(maint_workflow_info_id(*ev_r), f->id)) {
        LOG(w->lg, ERROR, "workflow %s: its published state names %s", f->id,
            maint_workflow_info_id(*ev_r));
        maint_workflow_info_free(*ev_r);
        *ev_r = NULL;
        rc = MAINT_ERROR_PROTOCOL;
    }
    free(f->last);
    f->last = text;              /* a malformed state is not reported twice */
    return rc;
}

MAINT_EXPORT int maint_workflow_watch_read(maint_workflow_watch *w,
                                           maint_workflow_info **ev_r)
{
    bool absent;
    int rc;

    if (!w || !ev_r)
        return MAINT_ERROR_INVAL;
    *ev_r = NULL;
    if (take_cancel(w))
        return MAINT_ERROR_CANCELLED;
    if ((rc = collect_watch_events(w)))
        return rc;
    for (unsigned i = 0; i < w->nr; i++) {
        struct followed *f = &w->f[i];

        if (!f->pending)
            continue;
        f->pending = false;
        rc = read_state(w, f, ev_r, &absent);
        if (rc || *ev_r)
            return rc;
    }
    return MAINT_ERROR_NOENT;
}

/* Is id's state published?  MAINT_OK / MAINT_ERROR_NOENT / other. */
static int published(maint_workflow_watch *w, const char *id)
{
    char *path = maint__sprintf(MAINT_XS_WORKFLOW_FMT, id), *v;
    unsigned len;

    if (!path)
        return MAINT_ERROR_NOMEM;
    v = w->port.ops->xs_read(w->port.priv, MAINT__XS_NO_TXN, path, &len);
    free(path);
    free(v);
    return v ? MAINT_OK : errno == ENOENT ? MAINT_ERROR_NOENT : MAINT_ERROR_XENSTORE;
}

/* Wait until w's fd is readable or the deadline (-1: none) passes. */
static int wait_readable(maint_workflow_watch *w, int64_t deadline_ms)
{
    struct pollfd p = { .fd = w->epfd, .events = POLLIN };
    int r = poll(&p, 1, deadline_ms < 0 ? -1 : maint__ms_left(deadline_ms));

    if (r < 0 && errno != EINTR) {
        LOGE(w->lg, ERROR, "poll");
        return MAINT_ERROR_FAIL;
    }
    if (r == 0 && deadline_ms >= 0 && maint__now_ms() >= deadline_ms)
        return MAINT_ERROR_TIMEOUT;
    return MAINT_OK;
}

MAINT_EXPORT int maint_workflow_wait(maint_workflow_watch *w, const char *id,
                                     unsigned timeout_ms, maint_workflow_event_fn *fn,
                                     void *user, maint_workflow_state *state_r)
{
    int64_t deadline = timeout_ms ? maint__now_ms() + timeout_ms : -1;
    maint_workflow_info *ev = NULL;
    int rc;

    if (!w || !id)
        return MAINT_ERROR_INVAL;
    if ((rc = maint_workflow_watch_add(w, id)))
        return rc;
    if ((rc = published(w, id)))
        return rc;
    for (;;) {
        rc = maint_workflow_watch_read(w, &ev);
        if (rc == MAINT_ERROR_NOENT && published(w, id) == MAINT_ERROR_NOENT)
            return MAINT_ERROR_NOENT;                   /* it vanished */
        if (rc == MAINT_ERROR_NOENT) {
            if ((rc = wait_readable(w, deadline)))
                return rc;
            continue;
        }
        if (rc)
            return rc;
        if (strcmp(maint_workflow_info_id(ev), id)) {
            maint_workflow_info_free(ev);
            continue;
        }
        if (fn)
            fn(user, ev);
        if (maint_workflow_state_ended(maint_workflow_info_state(ev))) {
            if (state_r)
                *state_r = maint_workflow_info_state(ev);
            maint_workflow_info_free(ev);
            return MAINT_OK;
        }
        maint_workflow_info_free(ev);
    }
}
