/*
 * xmaintd as the toolstack of the domains it created: when one shuts down
 * by itself (crash, reboot, watchdog, soft reset), its configured action is
 * followed the way xl would where that is simple (shutdown.h), on the main
 * loop: the configuration is read and the domain destroyed asynchronously
 * (the port's asynchronous operations: libxl ao), so the loop never waits
 * for Xen.  A workflow waiting on a destroyed substitute's agent sees it
 * gone and rolls back.
 */
#define G_LOG_DOMAIN "xmaintd-toolstack"
#include <stdlib.h>
#include <string.h>

#include "xmaintd.h"
#include "shutdown.h"

typedef struct reap {
    xmd *d;
    uint32_t domid;
    char *name;
    char *wf;                         /* the workflow that created it */
    gboolean wf_disposable;           /* ... which runs and has not moved the apps yet */
    libxl_shutdown_reason reason;
    libxl_domain_config cfg;
    char *line;                       /* what is logged once done */
} reap;

static void reap_free(reap *r)
{
    libxl_domain_config_dispose(&r->cfg);
    g_free(r->name);
    g_free(r->wf);
    g_free(r->line);
    g_free(r);
}

static void tell(reap *r, const char *text)
{
    g_message("d%u (%s): %s", r->domid, r->name, text);
    xmd_workflow_note(r->d, r->wf, r->domid, text);
}

static void destroyed(void *data, int rc)
{
    reap *r = data;
    maint__port *port = &r->d->ctx->port;
    maint_domain_info info;

    r->d->hv_aos--;
    maint_domain_info_init(&info);
    if (rc != MAINT_OK && port->ops->domain_info(port->priv, r->domid, &info) == MAINT_OK) {
        g_autofree char *text = g_strdup_printf("%s; but destroying it failed (%s): it "
                                                "stays shut down", r->line, maint_strerror(rc));
        g_warning("d%u (%s): %s", r->domid, r->name, text);
        xmd_workflow_note(r->d, r->wf, r->domid, text);
    } else {
        tell(r, r->line);    /* gone: by us, or by whoever came first */
    }
    maint_domain_info_dispose(&info);
    g_hash_table_remove(r->d->reaping, GUINT_TO_POINTER(r->domid));
    reap_free(r);
}

static void config_read(void *data, int rc)
{
    reap *r = data;
    maint__port *port = &r->d->ctx->port;
    xmd_sd_plan p = xmd_sd_decide(r->reason, xmd_sd_action(rc ? NULL : &r->cfg, r->reason),
                                  r->wf_disposable);
    char *what = xmd_sd_describe(&p);

    r->d->hv_aos--;
    r->line = g_strdup_printf("%s%s", what ? what : "?",
                              rc ? " (its configuration is unreadable: xl's default)" : "");
    free(what);
    if (p.verb == XMD_SD_DESTROY) {
        r->d->hv_aos++;
        rc = port->ops->destroy_async(port->priv, r->domid, destroyed, r);
        if (rc != MAINT_OK)
            destroyed(r, rc);
        return;
    }
    tell(r, r->line);
    /* left shut down: it stays in hand until it dies, so it is told once */
    reap_free(r);
}

/* A domain shut down (main thread): act if xmaintd created it. */
static void toolstack_shutdown(xmd *d, uint32_t domid, int reason_unused)
{
    maint__port *port = &d->ctx->port;
    maint_domain_info info;
    int reason;
    char *wf = NULL;
    gboolean wf_disposable = FALSE;
    reap *r;
    int rc;

    if (!d->hv || !d->reaping || g_hash_table_contains(d->reaping, GUINT_TO_POINTER(domid)))
        return;
    /* still shut down (not running again, not dying) */
    if (port->ops->shutdown_reason(port->priv, domid, &reason) != MAINT_OK)
        return;
    maint_domain_info_init(&info);
    if (port->ops->domain_info(port->priv, domid, &info) != MAINT_OK) {
        maint_domain_info_dispose(&info);
        return;                                   /* gone already */
    }
    /* a domain xmaintd did not create is its toolstack's (xl's), never ours */
    if (!xmd_sd_applies((libxl_shutdown_reason)reason) ||
        !xmd_workflow_created(d, domid, info.uuid, &wf, &wf_disposable)) {
        maint_domain_info_dispose(&info);
        return;
    }
    r = g_new0(reap, 1);
    r->d = d;
    r->domid = domid;
    r->wf = wf;
    r->wf_disposable = wf_disposable;
    r->reason = (libxl_shutdown_reason)reason;
    r->name = g_strdup(info.name ? info.name : "(unnamed)");
    maint_domain_info_dispose(&info);
    libxl_domain_config_init(&r->cfg);
    g_hash_table_add(d->reaping, GUINT_TO_POINTER(domid));
    d->hv_aos++;
    rc = port->ops->config_get_async(port->priv, domid, &r->cfg, config_read, r);
    if (rc != MAINT_OK)
        config_read(r, rc);
}

gboolean xmd_hv_drain(xmd *d, guint timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (d->hv_aos > 0 && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(10 * 1000);
    if (d->hv_aos > 0)
        g_warning("%u hypervisor operation(s) (domain destroys) still under way after %u ms",
                  d->hv_aos, timeout_ms);
    return d->hv_aos == 0;
}

/* The domain died: out of hand (a domid Xen hands out again finds no
 * stale entry). */
static void toolstack_forget(xmd *d, uint32_t domid, xmd_domain *dom, const char *why)
{
    if (d->reaping)
        g_hash_table_remove(d->reaping, GUINT_TO_POINTER(domid));
}

static const xmd_domain_observer toolstack_observer = {
    .gone = toolstack_forget,
    .shutdown = toolstack_shutdown,
};

void xmd_toolstack_init(xmd *d)
{
    d->reaping = g_hash_table_new(g_direct_hash, g_direct_equal);
    xmd_domain_observe(d, &toolstack_observer);
}

void xmd_toolstack_fini(xmd *d)
{
    if (d->reaping)
        g_hash_table_destroy(d->reaping);
    d->reaping = NULL;
}
