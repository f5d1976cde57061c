/*
 * xmaintd: the dom0 maintenance daemon.  All state lives in one struct xmd;
 * setup is a sequence of stages and teardown undoes exactly the stages
 * reached, in reverse.
 */
#ifndef XMAINTD_H
#define XMAINTD_H

#include <stdlib.h>
#include <glib.h>
#include <libxl.h>

#include "internal.h"

/* The JSON j holds as a g_malloc'd string (g_free); like glib, the daemon
 * aborts when memory runs out. */
static inline char *xmd_json_finish(maint__json *j)
{
    char *out = maint__json_finish(j), *ret;

    if (!out)
        g_error("out of memory");
    ret = g_strdup(out);
    free(out);
    return ret;
}

/*
 * ThreadSanitizer builds (configure --enable-sanitizers=thread): GLib's
 * GMutex and main-loop hand-overs are futexes inside an uninstrumented
 * library, which TSan cannot see.  The daemon's GMutex calls tell it of
 * the lock (acquire after locking, release before unlocking), and a value
 * handed to the main loop from another thread is released by the sender
 * and acquired by the callback (XMD_TSAN_RELEASE/ACQUIRE).  Nothing in
 * other builds.
 */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
static inline void xmd_tsan_mutex_lock(GMutex *m)
{
    g_mutex_lock(m);
    __tsan_acquire(m);
}

static inline void xmd_tsan_mutex_unlock(GMutex *m)
{
    __tsan_release(m);
    g_mutex_unlock(m);
}
#define g_mutex_lock(m) xmd_tsan_mutex_lock(m)
#define g_mutex_unlock(m) xmd_tsan_mutex_unlock(m)
#define XMD_TSAN_RELEASE(p) __tsan_release(p)
#define XMD_TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define XMD_TSAN_RELEASE(p) ((void)(p))
#define XMD_TSAN_ACQUIRE(p) ((void)(p))
#endif

#define XMD_ERROR xmd_error_quark()
GQuark xmd_error_quark(void);

typedef struct xmd_domain {
    uint32_t domid;
    char *name;                        /* for logs; may be NULL */
    bool watching;                     /* request dir watched */
    void *deathw;                      /* the port's death watch, or NULL */
    GHashTable *removed;               /* request ids we removed ourselves */
    GHashTable *answered;              /* response id -> gint64 *, when we wrote
                                        * it (monotonic µs); pruning's order */
    unsigned responses_since_gc;
} xmd_domain;

typedef struct xmd_wf xmd_wf;
typedef struct xmd_service xmd_service;
typedef struct xmd_standby xmd_standby;

typedef struct xmd {
    /* options */
    gboolean foreground;
    gchar *pidfile;
    gchar *state_dir;
    gchar *log_file;
    gboolean verbose;
    gint64 wf_retention_s;             /* ended workflows are forgotten after it */

    /* stages */
    int pidfile_fd;
    xentoollog_logger *xtl;
    maint_ctx *ctx;                    /* the library context: xenstore + libxl */
    gboolean hv;                       /* the hypervisor's events are on the loop */
    guint xs_source;
    GMainLoop *loop;
    guint sig_term, sig_int, sig_hup;

    /* state */
    char *host_id;
    char *cpu_signature;
    GHashTable *domains;               /* domid -> xmd_domain* */
    unsigned long requests_served;
    GPtrArray *workflows;              /* xmd_wf*, guarded in workflow.c */
    GPtrArray *services;               /* xmd_service*, guarded in redirect.c */
    xmd_standby *standby;              /* hot-standby pairs (main thread only) */
    GHashTable *reaping;               /* domids whose shutdown toolstack.c acts on */
    unsigned hv_aos;                   /* asynchronous hypervisor operations under way
                                        * (main thread) */
    guint wf_prune_timer;
    GPtrArray *observers;              /* const xmd_domain_observer* (main thread) */
    /* how a worker thread opens its own library context: maint_ctx_open
     * when NULL (tests give a fake port) */
    int (*ctx_open)(maint_ctx **ctx_r, xentoollog_logger *lg, unsigned flags);
    const char *pci_hole_shim;         /* $XMAINT_PCI_HOLE, or NULL: the installed one */
} xmd;

/* domains.c: the domain table and the one list of observers of domains'
 * lives.  The modules that care (events.c: libxl's death events;
 * toolstack.c; standby.c) register here; domains.c calls no other file. */
typedef struct xmd_domain_observer {
    /* dom joined the table (its tree published, its requests watched) */
    void (*arrived)(xmd *d, xmd_domain *dom);
    /* the domain died or departed: once per domain; dom is its entry,
     * about to be freed */
    void (*gone)(xmd *d, uint32_t domid, xmd_domain *dom, const char *why);
    /* it shut down (reason: a libxl_shutdown_reason), or -1: it may have;
     * look again */
    void (*shutdown)(xmd *d, uint32_t domid, int reason);
    /* the daemon stops: let go of dom, which lives on */
    void (*released)(xmd *d, xmd_domain *dom);
} xmd_domain_observer;
/* Register o (static storage) before the first xmd_domains_rescan. */
void xmd_domain_observe(xmd *d, const xmd_domain_observer *o);
/* libxl's events (events.c), on the main loop: */
void xmd_domain_died(xmd *d, uint32_t domid);
void xmd_domain_shut_down(xmd *d, uint32_t domid, int reason);
/* From any thread: the observers look at domid's shutdown again, on the
 * main loop (a domain just recorded as created may have shut down before
 * the record was there). */
void xmd_domain_recheck(xmd *d, uint32_t domid);
void xmd_domains_init(xmd *d);
void xmd_domains_fini(xmd *d);
void xmd_domains_rescan(xmd *d);
/* The domain's request directory vanished: it departed, or it removed it. */
void xmd_domain_tree_lost(xmd *d, xmd_domain *dom);
xmd_domain *xmd_domain_find(xmd *d, uint32_t domid);
const char *xmd_domain_label(xmd_domain *dom);
gboolean xmd_host_identity_load(xmd *d, GError **error);

/* requests.c */
void xmd_requests_scan(xmd *d, xmd_domain *dom);
void xmd_request_event(xmd *d, xmd_domain *dom, const char *id);

/* events.c */
gboolean xmd_xs_source_add(xmd *d, GError **error);
/* The port's fds and timeouts (libxl's) on the loop, its domain events to
 * domains.c, and a domain observer that follows each domain's death; sets
 * d->hv.  Without a hypervisor it does nothing. */
void xmd_hv_attach(xmd *d);

/* workflow.c */
void xmd_workflows_init(xmd *d);       /* loads the journals, resumes */
void xmd_workflows_fini(xmd *d);
/* Forget the workflows that ended more than d->wf_retention_s ago, and all
 * but the newest 64 ended ones: their journals and xenstore nodes go. */
void xmd_workflows_prune(xmd *d);
#define XMD_WF_RETENTION_DEFAULT_S (24 * 3600)
/* Start a workflow from request arguments; returns its id (g_free). */
char *xmd_workflow_start(xmd *d, maint__args *args, GError **error);
gboolean xmd_workflow_abort(xmd *d, const char *id, GError **error);
char *xmd_workflows_json(xmd *d);
char *xmd_workflow_json(xmd_wf *w);
/* Did a workflow create the domain (domid and UUID as it journalled them)?
 * *id_r: that workflow's id (g_free); *disposable_r: it still runs and has
 * not moved the applications yet (losing the domain only rolls it back). */
gboolean xmd_workflow_created(xmd *d, uint32_t domid, const char *uuid, char **id_r,
                              gboolean *disposable_r);
/* Journal what happened to a domain the workflow id created. */
void xmd_workflow_note(xmd *d, const char *id, uint32_t domid, const char *text);

/* appmove.c: applications moved between two domains' agents (workflows,
 * standby); blocking, for worker threads with their own context ctx. */
typedef struct xmd_appmove {
    xmd *d;
    maint_ctx *ctx;
    unsigned drain_ms;                 /* redirect: the old instance drains so long */
    void (*say)(void *user, const char *msg);   /* progress, or NULL */
    void *user;
} xmd_appmove;
/* Move application a from src (src_alive: it runs) to dst: idempotent (an
 * instance already running in dst is kept, the rest made to hold). */
gboolean xmd_app_move(const xmd_appmove *m, const maint_app *a, const char *src_name,
                      uint32_t src, const char *dst_name, uint32_t dst, gboolean src_alive,
                      GError **error);
/* {"op":op,"app":app} to domid's agent, waited for up to timeout_ms. */
gboolean xmd_app_cmd(maint_ctx *ctx, uint32_t domid, const char *op, const char *app,
                     unsigned timeout_ms, GError **error);
/* The same sent only (placed: "placed":true); seq: its sequence, to wait for. */
gboolean xmd_app_cmd_send(maint_ctx *ctx, uint32_t domid, const char *op, const char *app,
                          gboolean placed, char *seq, size_t n);
/* Any command (JSON) to domid's agent, waited for. */
gboolean xmd_agent_cmd(maint_ctx *ctx, uint32_t domid, const char *json, unsigned timeout_ms,
                       GError **error);
/* XMAINT_FAULT=POINT[:after]: the daemon kills itself there (tests). */
void xmd_fault_point(const char *point, gboolean after);

/* toolstack.c: xmaintd follows on_crash/on_reboot/... of the domains it created */
/* Observes the domains: a shut-down one is acted on if xmaintd created
 * it; a dead one is out of hand. */
void xmd_toolstack_init(xmd *d);
void xmd_toolstack_fini(xmd *d);
/* Let the asynchronous hypervisor operations under way (destroys,
 * configuration reads) finish, at most timeout_ms, running the main
 * context: libxl's context may not be freed while one is in progress.
 * False if some are left. */
gboolean xmd_hv_drain(xmd *d, guint timeout_ms);

/* redirect.c */
gboolean xmd_ipv4_valid(const char *s);
void xmd_services_load(xmd *d);
void xmd_services_fini(xmd *d);
char *xmd_services_json(xmd *d);
gboolean xmd_service_add(xmd *d, maint_ctx *ctx, const char *app, const char *vip,
                         unsigned port, const char *domain, GError **error);
gboolean xmd_service_remove(xmd *d, const char *app, GError **error);
/* Point app's service from domain `from` (NULL: whichever serves it) to
 * `to`: 1 switched, 0 no such service, -1 error. */
int xmd_service_retarget(xmd *d, maint_ctx *ctx, const char *app, const char *from,
                         const char *to, GError **error);

/* standby.c: observes the domains: an active that dies or crashes fails
 * over. */
void xmd_standby_init(xmd *d);
void xmd_standby_fini(xmd *d);
int xmd_op_standby_create(xmd *d, xmd_domain *dom, maint__args *args, char **result_r, char **error_r);
int xmd_op_standby_destroy(xmd *d, xmd_domain *dom, maint__args *args, char **result_r, char **error_r);
int xmd_op_standby_show(xmd *d, xmd_domain *dom, maint__args *args, char **result_r, char **error_r);
/* Guest requests to the hot-standby arbiter: at most this many a second per
 * domain (the dispatcher refuses the rest before their arguments are read). */
#define XMD_GUEST_RATE_PER_S 4
bool xmd_standby_rate_ok(xmd *d, uint32_t domid);
int xmd_op_mem_request(xmd *d, xmd_domain *dom, maint__args *args, char **result_r, char **error_r);
int xmd_op_mem_release(xmd *d, xmd_domain *dom, maint__args *args, char **result_r, char **error_r);
int xmd_op_app_fault(xmd *d, xmd_domain *dom, maint__args *args, char **result_r, char **error_r);

#endif
