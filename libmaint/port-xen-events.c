/*
 * The real port's events and asynchronous operations: libxl's fds and
 * timeouts on the caller's event loop (libxl_osevent_register_hooks), its
 * domain shutdown and death events, and destroys and configuration reads
 * as libxl asynchronous operations, so a daemon's loop never waits for Xen.
 */
#include <stdlib.h>
#include <string.h>

#include "port-xen.h"

int maint__px_rc(int r)
{
    if (r == 0)
        return MAINT_OK;
    if (r == ERROR_DOMAIN_NOTFOUND || r == ERROR_INVAL)
        return MAINT_ERROR_NOENT;
    return MAINT_ERROR_HYPERVISOR;
}

/* ---- libxl's fds and timeouts on the caller's loop -------------------------- */

static int px_fd_register(void *user, int fd, void **reg_out, short events, void *for_libxl)
{
    struct port_xen *px = user;

    return px->loop.fd_register(px->user, fd, reg_out, events, for_libxl);
}

static int px_fd_modify(void *user, int fd, void **reg_update, short events)
{
    struct port_xen *px = user;

    return px->loop.fd_modify(px->user, fd, reg_update, events);
}

static void px_fd_deregister(void *user, int fd, void *reg)
{
    struct port_xen *px = user;

    px->loop.fd_deregister(px->user, fd, reg);
}

static int px_timeout_register(void *user, void **reg_out, struct timeval abs, void *for_libxl)
{
    struct port_xen *px = user;

    return px->loop.timeout_register(px->user, reg_out, abs, for_libxl);
}

static int px_timeout_modify(void *user, void **reg_update, struct timeval abs)
{
    struct port_xen *px = user;

    return px->loop.timeout_modify(px->user, reg_update, abs);
}

static void px_timeout_deregister(void *user, void *reg)
{
    struct port_xen *px = user;

    px->loop.timeout_deregister(px->user, reg);
}

static const libxl_osevent_hooks osevent_hooks = {
    .fd_register = px_fd_register,
    .fd_modify = px_fd_modify,
    .fd_deregister = px_fd_deregister,
    .timeout_register = px_timeout_register,
    .timeout_modify = px_timeout_modify,
    .timeout_deregister = px_timeout_deregister,
};

void maint__px_fd_occurred(void *priv, void *for_port, int fd, short events, short revents)
{
    struct port_xen *px = priv;

    libxl_osevent_occurred_fd(px->ctx, for_port, fd, events, revents);
}

void maint__px_timeout_occurred(void *priv, void *for_port)
{
    struct port_xen *px = priv;

    libxl_osevent_occurred_timeout(px->ctx, for_port);
}

/* ---- domain events ------------------------------------------------------------ */

static void lx_event(void *user, libxl_event *ev)
{
    struct port_xen *px = user;

    switch (ev->type) {
    case LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN:
        px->events.domain_event(px->user, ev->domid, MAINT__DOM_SHUTDOWN,
                                ev->u.domain_shutdown.shutdown_reason);
        break;
    case LIBXL_EVENT_TYPE_DOMAIN_DEATH:
        px->events.domain_event(px->user, ev->domid, MAINT__DOM_DEATH, 0);
        break;
    default:
        LOGD(px->lg, DEBUG, ev->domid, "libxl event %s",
             libxl_event_type_to_string(ev->type));
        break;
    }
    libxl_event_free(px->ctx, ev);
}

static void lx_disaster(void *user, libxl_event_type type, const char *msg, int errnoval)
{
    struct port_xen *px = user;
    char *what = maint__sprintf("libxl's event system failed (%s): %s",
                                libxl_event_type_to_string(type), msg);

    px->events.disaster(px->user, what ? what : msg, errnoval);
    free(what);
}

static const libxl_event_hooks event_hooks = {
    .event_occurs_mask = ~(uint64_t)0,
    .event_occurs = lx_event,
    .disaster = lx_disaster,
};

int maint__px_events_attach(void *priv, const maint__loop_hooks *loop,
                            const maint__event_hooks *events, void *user)
{
    struct port_xen *px = priv;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    px->loop = *loop;
    px->events = *events;
    px->user = user;
    libxl_osevent_register_hooks(px->ctx, &osevent_hooks, px);
    /* only now: the selective-reap mode registers an fd (its SIGCHLD pipe),
     * and libxl takes the loop hooks only while it has none */
    libxl_childproc_setmode(px->ctx, &maint__libxl_childproc, NULL);
    libxl_event_register_callbacks(px->ctx, &event_hooks, px);
    return MAINT_OK;
}

int maint__px_death_watch(void *priv, uint32_t domid, void **watch_r)
{
    struct port_xen *px = priv;
    libxl_evgen_domain_death *w = NULL;
    int r;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    r = libxl_evenable_domain_death(px->ctx, domid, 0, &w);
    if (r) {
        LOGD(px->lg, WARN, domid, "cannot follow its death events (libxl error %d)", r);
        return maint__px_rc(r);
    }
    *watch_r = w;
    return MAINT_OK;
}

void maint__px_death_unwatch(void *priv, void *watch)
{
    struct port_xen *px = priv;

    if (px->ctx && watch)
        libxl_evdisable_domain_death(px->ctx, watch);
}

/* ---- asynchronous operations ---------------------------------------------------- */

typedef struct px_ao {
    maint__done_fn *done;
    void *user;
} px_ao;

static void ao_done(libxl_ctx *ctx, int rc, void *data)
{
    px_ao *a = data;

    (void)ctx;
    a->done(a->user, maint__px_rc(rc));
    free(a);
}

typedef int ao_start_fn(libxl_ctx *ctx, uint32_t domid, void *arg,
                        const libxl_asyncop_how *how);

/* libxl calls back only when the starting call returned 0. */
static int ao_start(struct port_xen *px, uint32_t domid, ao_start_fn *start, void *arg,
                    maint__done_fn *done, void *user)
{
    px_ao *a;
    int r;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    if (!(a = calloc(1, sizeof(*a))))
        return MAINT_ERROR_NOMEM;
    a->done = done;
    a->user = user;
    {
        libxl_asyncop_how how = { .callback = ao_done, .u.for_callback = a };

        r = start(px->ctx, domid, arg, &how);
    }
    if (r)
        free(a);
    return maint__px_rc(r);
}

static int start_destroy(libxl_ctx *ctx, uint32_t domid, void *arg,
                         const libxl_asyncop_how *how)
{
    return libxl_domain_destroy(ctx, domid, how);
}

static int start_config_get(libxl_ctx *ctx, uint32_t domid, void *cfg,
                            const libxl_asyncop_how *how)
{
    return libxl_retrieve_domain_configuration(ctx, domid, cfg, how);
}

int maint__px_destroy_async(void *priv, uint32_t domid, maint__done_fn *done, void *user)
{
    return ao_start(priv, domid, start_destroy, NULL, done, user);
}

int maint__px_config_get_async(void *priv, uint32_t domid, libxl_domain_config *cfg,
                               maint__done_fn *done, void *user)
{
    return ao_start(priv, domid, start_config_get, cfg, done, user);
}
