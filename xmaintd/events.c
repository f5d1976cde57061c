/*
 * Event sources on the glib main loop: xenstore watches (the libxenstore fd)
 * and the port's own fds and timeouts (libxl's, through the port's loop
 * hooks), plus its domain shutdown and death events.
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

/* ---- the port's fds and timeouts on the glib loop ------------------------- */

typedef struct hv_fd {
    xmd *d;
    int fd;
    short events;
    void *for_port;
    guint id;
} hv_fd;

typedef struct hv_timeout {
    xmd *d;
    void *for_port;
    guint id;
} hv_timeout;

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

static maint__port *port_of(xmd *d)
{
    return &d->ctx->port;
}

static gboolean hv_fd_ready(gint fd, GIOCondition cond, gpointer data)
{
    hv_fd *f = data;
    maint__port *port = port_of(f->d);

    /* the port may deregister (free f) from inside this call */
    port->ops->loop_fd_occurred(port->priv, f->for_port, fd, f->events, cond_to_poll(cond));
    return G_SOURCE_CONTINUE;
}

static int hv_fd_register(void *user, int fd, void **reg_out, short events, void *for_port)
{
    hv_fd *f = g_new0(hv_fd, 1);

    f->d = user;
    f->fd = fd;
    f->events = events;
    f->for_port = for_port;
    f->id = g_unix_fd_add(fd, poll_to_cond(events), hv_fd_ready, f);
    *reg_out = f;
    return 0;
}

static int hv_fd_modify(void *user, int fd, void **reg_update, short events)
{
    hv_fd *f = *reg_update;

    g_source_remove(f->id);
    f->events = events;
    f->id = g_unix_fd_add(fd, poll_to_cond(events), hv_fd_ready, f);
    return 0;
}

static void hv_fd_deregister(void *user, int fd, void *reg)
{
    hv_fd *f = reg;

    g_source_remove(f->id);
    g_free(f);
}

static gboolean hv_timeout_fire(gpointer data)
{
    hv_timeout *t = data;
    maint__port *port = port_of(t->d);
    void *for_port = t->for_port;

    /* on entry to timeout_occurred the registration is gone */
    g_free(t);
    port->ops->loop_timeout_occurred(port->priv, for_port);
    return G_SOURCE_REMOVE;
}

static guint add_timeout_abs(struct timeval abs, hv_timeout *t)
{
    gint64 now = g_get_real_time();
    gint64 when = (gint64)abs.tv_sec * G_USEC_PER_SEC + abs.tv_usec;
    gint64 ms = when > now ? (when - now + 999) / 1000 : 0;

    return g_timeout_add((guint)MIN(ms, G_MAXUINT), hv_timeout_fire, t);
}

static int hv_timeout_register(void *user, void **reg_out, struct timeval abs, void *for_port)
{
    hv_timeout *t = g_new0(hv_timeout, 1);

    t->d = user;
    t->for_port = for_port;
    t->id = add_timeout_abs(abs, t);
    *reg_out = t;
    return 0;
}

static int hv_timeout_modify(void *user, void **reg_update, struct timeval abs)
{
    hv_timeout *t = *reg_update;

    /* libxl only ever asks for abs={0,0}: fire as soon as possible */
    g_source_remove(t->id);
    t->id = g_timeout_add(0, hv_timeout_fire, t);
    return 0;
}

static void hv_timeout_deregister(void *user, void *reg)
{
    hv_timeout *t = reg;

    g_source_remove(t->id);
    g_free(t);
}

static const maint__loop_hooks loop_hooks = {
    .fd_register = hv_fd_register,
    .fd_modify = hv_fd_modify,
    .fd_deregister = hv_fd_deregister,
    .timeout_register = hv_timeout_register,
    .timeout_modify = hv_timeout_modify,
    .timeout_deregister = hv_timeout_deregister,
};

static void hv_event(void *user, uint32_t domid, maint__dom_event what, int reason)
{
    xmd *d = user;
    xmd_domain *dom = xmd_domain_find(d, domid);
    const char *label = dom ? xmd_domain_label(dom) : "?";

    if (what == MAINT__DOM_SHUTDOWN) {
        g_message("d%u (%s): shut down (%s)", domid, label,
                  libxl_shutdown_reason_to_string((libxl_shutdown_reason)reason));
        xmd_domain_shut_down(d, domid, reason);
    } else {
        g_message("d%u (%s): died", domid, label);
        xmd_domain_died(d, domid);     /* its observers told, its entry gone */
    }
}

static void hv_disaster(void *user, const char *msg, int errnoval)
{
    xmd *d = user;

    g_critical("%s: %s; stopping", msg, g_strerror(errnoval));
    g_main_loop_quit(d->loop);
}

static const maint__event_hooks event_hooks = {
    .domain_event = hv_event,
    .disaster = hv_disaster,
};

/* ---- each domain's death ---------------------------------------------------- */

static void death_enable(xmd *d, xmd_domain *dom)
{
    maint__port *port = port_of(d);

    if (!d->hv || dom->domid == 0 || dom->deathw)
        return;
    if (port->ops->death_watch(port->priv, dom->domid, &dom->deathw) != MAINT_OK) {
        g_warning("d%u (%s): cannot follow its death events", dom->domid,
                  xmd_domain_label(dom));
        dom->deathw = NULL;
    }
}

static void death_disable(xmd *d, xmd_domain *dom)
{
    maint__port *port = port_of(d);

    if (d->hv && dom->deathw)
        port->ops->death_unwatch(port->priv, dom->deathw);
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

void xmd_hv_attach(xmd *d)
{
    maint__port *port = port_of(d);

    d->hv = port->ops->events_attach(port->priv, &loop_hooks, &event_hooks, d) == MAINT_OK;
    if (d->hv)
        xmd_domain_observe(d, &death_observer);
}
