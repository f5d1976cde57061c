/*
 * The real port's state, shared by its two files: port-xen.c (xenstore and
 * synchronous hypervisor operations) and port-xen-events.c (hypervisor
 * events and asynchronous operations on the caller's event loop).
 */
#ifndef MAINT_PORT_XEN_H
#define MAINT_PORT_XEN_H

#include <xenstore.h>
#include <libxl.h>

#include "internal.h"

/*
 * Two xenstore connections: libxenstore starts a reader thread on a handle
 * once it carries a watch, and every call on such a handle then waits for
 * that thread to hand it the reply.  Requests go through xs, which never
 * watches, so they are a plain write and read on the calling thread; watches
 * and their events live on xsw, opened on first use.
 */
struct port_xen {
    struct xs_handle *xs;
    struct xs_handle *xsw;
    libxl_ctx *ctx;              /* NULL with MAINT_CTX_NO_LIBXL */
    xentoollog_logger *lg;
    /* events_attach: the caller's loop and event hooks */
    maint__loop_hooks loop;
    maint__event_hooks events;
    void *user;
};

/* A libxl error as a MAINT_* code: a domain that is not there (libxl says
 * "not found" or, for a domid it does not know, "invalid") is NOENT. */
int maint__px_rc(int libxl_rc);

int maint__px_events_attach(void *priv, const maint__loop_hooks *loop,
                            const maint__event_hooks *events, void *user);
void maint__px_fd_occurred(void *priv, void *for_port, int fd, short events, short revents);
void maint__px_timeout_occurred(void *priv, void *for_port);
int maint__px_death_watch(void *priv, uint32_t domid, void **watch_r);
void maint__px_death_unwatch(void *priv, void *watch);
int maint__px_destroy_async(void *priv, uint32_t domid, maint__done_fn *done, void *user);
int maint__px_config_get_async(void *priv, uint32_t domid, libxl_domain_config *cfg,
                               maint__done_fn *done, void *user);

#endif
