/*
 * Event sources on the glib main loop: xenstore watches (the libxenstore fd)
 * and libxl's own fds and timeouts (libxl_osevent_register_hooks), plus
 * libxl domain-death events.
 */
#define G_LOG_DOMAIN "xmaintd-events"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <glib-unix.h>

#include "xmaintd.h"
#include "schema.h"

/* ---- xenstore watches ---------------------------------------------------- */

static void dispatch_watch(xmd *d, const char *path, const char *token)
{
    if (!strcmp(token, "intro") || !strcmp(token, "release")) {
        xmd_domains_rescan(d);
        return;
    }
    if (!strncmp(token, "req:", 4)) {
        guint64 domid;
        xmd_domain *dom;
        g_autofree char *dir = NULL;
        size_t n;

        if (!g_ascii_string_to_unsigned(token + 4, 10, 0, 0x7fef, &domid, NULL))
            return;
        dom = xmd_domain_find(d, (uint32_t)domid);
        if (!dom)
            return;
        dir = g_strdup_printf(MAINT_XS_REQUEST_DIR_FMT, dom->domid);
        n = strlen(dir);
        if (strncmp(path, dir, n))
            return;
        if (path[n] == '\0') {
            xmd_requests_scan(d, dom);
        } else if (path[n] == '/') {
            /* request/<id> or deeper: the first component is the id */
            const char *id = path + n + 1;
            const char *slash = strchr(id, '/');
            g_autofree char *idc = slash ? g_strndup(id, (gsize)(slash - id))
                                         : g_strdup(id);

            xmd_request_event(d, dom, idc);
        }
    }
}

static gboolean xs_readable(gint fd, GIOCondition cond, gpointer data)
{
    xmd *d = data;
    maint__port *port = &d->ctx->port;
    maint__watch_event ev;
    int r, n = 0;

    while ((r = port->ops->xs_read_watch(port->priv, &ev)) > 0) {
        dispatch_watch(d, ev.path, ev.token);
        free(ev.path);
        free(ev.token);
        if (++n >= 256)
            break;      /* let other sources run; the fd stays readable */
    }
    if (r < 0) {
        g_critical("lost the xenstore connection: %s; stopping", g_strerror(errno));
        g_main_loop_quit(d->loop);
        d->xs_source = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

gboolean xmd_xs_source_add(xmd *d, GError **error)
{
    maint__port *port = &d->ctx->port;
    int fd = port->ops->xs_fileno(port->priv);

    if (fd < 0) {
        g_set_error(error, XMD_ERROR, 1, "no xenstore event fd: %s", g_strerror(errno));
        return FALSE;
    }
    d->xs_source = g_unix_fd_add(fd, G_IO_IN, xs_readable, d);
    if (port->ops->xs_watch(port->priv, MAINT_XS_INTRODUCE, "intro") < 0 ||
        port->ops->xs_watch(port->priv, MAINT_XS_RELEASE, "release") < 0) {
        g_set_error(error, XMD_ERROR, 1, "cannot watch domain arrival/departure: %s",
                    g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

/* ---- libxl on the glib loop ---------------------------------------------- */

typedef struct lx_fd {
    xmd *d;
    int fd;
    short events;
    void *for_libxl;
    guint id;
} lx_fd;

typedef struct lx_timeout {
    xmd *d;
    void *for_libxl;
    guint id;
} lx_timeout;

static GIOCondition poll_to_cond(short events)
{
    GIOCondition c = 0;

    if (events & POLLIN) c |= G_IO_IN;
    if (events & POLLOUT) c |= G_IO_OUT;
    if (events & POLLPRI) c |= G_IO_PRI;
    return c;
}

static short cond_to_poll(GIOCondition c)
{
    short r = 0;

    if (c & G_IO_IN) r |= POLLIN;
    if (c & G_IO_OUT) r |= POLLOUT;
    if (c & G_IO_PRI) r |= POLLPRI;
    if (c & G_IO_ERR) r |= POLLERR;
    if (c & G_IO_HUP) r |= POLLHUP;
    if (c & G_IO_NVAL) r |= POLLNVAL;
    return r;
}

static gboolean lx_fd_ready(gint fd, GIOCondition cond, gpointer data)
{
    lx_fd *f = data;

    /* libxl may deregister (free f) from inside this call. */
    libxl_osevent_occurred_fd(f->d->lx, f->for_libxl, fd, f->events,
                              cond_to_poll(cond));
    return G_SOURCE_CONTINUE;
}

static int lx_fd_register(void *user, int fd, void **reg_out, short events,
                          void *for_libxl)
{
    lx_fd *f = g_new0(lx_fd, 1);

    f->d = user;
    f->fd = fd;
    f->events = events;
    f->for_libxl = for_libxl;
    f->id = g_unix_fd_add(fd, poll_to_cond(events), lx_fd_ready, f);
    *reg_out = f;
    return 0;
}

static int lx_fd_modify(void *user, int fd, void **reg_update, short events)
{
    lx_fd *f = *reg_update;

    g_source_remove(f->id);
    f->events = events;
    f->id = g_unix_fd_add(fd, poll_to_cond(events), lx_fd_ready, f);
    return 0;
}

static void lx_fd_deregister(void *user, int fd, void *reg)
{
    lx_fd *f = reg;

    g_source_remove(f->id);
    g_free(f);
}

static gboolean lx_timeout_fire(gpointer data)
{
    lx_timeout *t = data;
    xmd *d = t->d;
    void *for_libxl = t->for_libxl;

    /* On entry to occurred_timeout the registration is gone. */
    g_free(t);
    libxl_osevent_occurred_timeout(d->lx, for_libxl);
    return G_SOURCE_REMOVE;
}

static guint add_timeout_abs(struct timeval abs, lx_timeout *t)
{
    gint64 now = g_get_real_time();
    gint64 when = (gint64)abs.tv_sec * G_USEC_PER_SEC + abs.tv_usec;
    gint64 ms = when > now ? (when - now + 999) / 1000 : 0;

    return g_timeout_add((guint)MIN(ms, G_MAXUINT), lx_timeout_fire, t);
}

static int lx_timeout_register(void *user, void **reg_out, struct timeval abs,
                               void *for_libxl)
{
    lx_timeout *t = g_new0(lx_timeout, 1);

    t->d = user;
    t->for_libxl = for_libxl;
    t->id = add_timeout_abs(abs, t);
    *reg_out = t;
    return 0;
}

static int lx_timeout_modify(void *user, void **reg_update, struct timeval abs)
{
    lx_timeout *t = *reg_update;

    /* Only ever abs={0,0}: fire as soon as possible. */
    g_source_remove(t->id);
    t->id = g_timeout_add(0, lx_timeout_fire, t);
    return 0;
}

static void lx_timeout_deregister(void *user, void *reg)
{
    lx_timeout *t = reg;

    g_source_remove(t->id);
    g_free(t);
}

static const libxl_osevent_hooks osevent_hooks = {
    .fd_register = lx_fd_register,
    .fd_modify = lx_fd_modify,
    .fd_deregister = lx_fd_deregister,
    .timeout_register = lx_timeout_register,
    .timeout_modify = lx_timeout_modify,
    .timeout_deregister = lx_timeout_deregister,
};

static void lx_event(void *user, libxl_event *ev)
{
    xmd *d = user;
    xmd_domain *dom = xmd_domain_find(d, ev->domid);
    const char *label = dom ? xmd_domain_label(dom) : "?";

    switch (ev->type) {
    case LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN:
        g_message("d%u (%s): shut down (%s)", ev->domid, label,
                  libxl_shutdown_reason_to_string(ev->u.domain_shutdown.shutdown_reason));
        xmd_domain_shut_down(d, ev->domid, ev->u.domain_shutdown.shutdown_reason);
        break;
    case LIBXL_EVENT_TYPE_DOMAIN_DEATH:
        g_message("d%u (%s): died", ev->domid, label);
        xmd_domain_died(d, ev->domid);     /* its observers told, its entry gone */
        break;
    default:
        g_debug("d%u (%s): libxl event %s", ev->domid, label,
                libxl_event_type_to_string(ev->type));
        break;
    }
    libxl_event_free(d->lx, ev);
}

static void lx_disaster(void *user, libxl_event_type type, const char *msg,
                        int errnoval)
{
    xmd *d = user;

    g_critical("libxl event system failed (%s): %s: %s; stopping",
               libxl_event_type_to_string(type), msg, g_strerror(errnoval));
    g_main_loop_quit(d->loop);
}

static const libxl_event_hooks event_hooks = {
    .event_occurs_mask = ~(uint64_t)0,
    .event_occurs = lx_event,
    .disaster = lx_disaster,
};

/* ---- each domain's death, through libxl ----------------------------------- */

static void death_enable(xmd *d, xmd_domain *dom)
{
    int r;

    if (!d->lx || dom->domid == 0 || dom->deathw)
        return;
    r = libxl_evenable_domain_death(d->lx, dom->domid, 0, &dom->deathw);
    if (r) {
        g_warning("d%u (%s): cannot follow its death events (libxl error %d)",
                  dom->domid, xmd_domain_label(dom), r);
        dom->deathw = NULL;
    }
}

static void death_disable(xmd *d, xmd_domain *dom)
{
    if (d->lx && dom->deathw)
        libxl_evdisable_domain_death(d->lx, dom->deathw);
    dom->deathw = NULL;
}

static void death_gone(xmd *d, uint32_t domid, xmd_domain *dom, const char *why)
{
    if (dom)
        death_disable(d, dom);
}

static const xmd_domain_observer death_observer = {
    .arrived = death_enable,
    .gone = death_gone,
    .released = death_disable,
};

void xmd_libxl_hooks_register(xmd *d)
{
    if (!d->lx)
        return;
    libxl_osevent_register_hooks(d->lx, &osevent_hooks, d);
    /* only now: the selective-reap mode registers an fd (main.c's ctx_open) */
    libxl_childproc_setmode(d->lx, &maint__libxl_childproc, NULL);
    libxl_event_register_callbacks(d->lx, &event_hooks, d);
    xmd_domain_observe(d, &death_observer);
}
