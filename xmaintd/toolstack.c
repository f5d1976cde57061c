/*
 * xmaintd as the toolstack of the domains it created: when one shuts down
 * by itself (crash, reboot, watchdog, soft reset), its configured action is
 * followed the way xl would where that is simple (shutdown.h), on the main
 * loop: the configuration is read and the domain destroyed asynchronously
 * (libxl ao), so the loop never waits for Xen.  A workflow waiting on a
 * destroyed substitute's agent sees it gone and rolls back.
 */
#define G_LOG_DOMAIN "xmaintd-toolstack"
#include <stdlib.h>
#include <string.h>
#include <libxl_utils.h>

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

static void destroyed(libxl_ctx *lx, int rc, void *data)
{
    reap *r = data;

    r->d->lx_aos--;
    if (rc && libxl_domain_info(lx, NULL, r->domid) == 0) {
        g_autofree char *text = g_strdup_printf("%s; but destroying it failed (libxl "
                                                "error %d): it stays shut down", r->line, rc);
        g_warning("d%u (%s): %s", r->domid, r->name, text);
        xmd_workflow_note(r->d, r->wf, r->domid, text);
    } else {
        tell(r, r->line);    /* gone: by us, or by whoever came first */
    }
    g_hash_table_remove(r->d->reaping, GUINT_TO_POINTER(r->domid));
    reap_free(r);
}

static void config_read(libxl_ctx *lx, int rc, void *data)
{
    reap *r = data;
    xmd_sd_plan p = xmd_sd_decide(r->reason, xmd_sd_action(rc ? NULL : &r->cfg, r->reason),
                                  r->wf_disposable);
    char *what = xmd_sd_describe(&p);

    r->d->lx_aos--;
    r->line = g_strdup_printf("%s%s", what ? what : "?",
                              rc ? " (its configuration is unreadable: xl's default)" : "");
    free(what);
    if (p.verb == XMD_SD_DESTROY) {
        libxl_asyncop_how how = { .callback = destroyed, .u.for_callback = r };

        r->d->lx_aos++;
        rc = libxl_domain_destroy(lx, r->domid, &how);
        if (rc)
            destroyed(lx, rc, r);
        return;
    }
    tell(r, r->line);
    /* left shut down: it stays in hand until it dies, so it is told once */
    reap_free(r);
}

/* A domain shut down (main thread): act if xmaintd created it. */
static void toolstack_shutdown(xmd *d, uint32_t domid, int reason_unused)
{
    libxl_dominfo info;
    libxl_shutdown_reason reason;
    char uuid[37];
    bool down;
    char *wf = NULL;
    gboolean wf_disposable = FALSE;
    reap *r;
    int rc;

    if (!d->lx || !d->reaping || g_hash_table_contains(d->reaping, GUINT_TO_POINTER(domid)))
        return;
    libxl_dominfo_init(&info);
    if (libxl_domain_info(d->lx, &info, domid)) {
        libxl_dominfo_dispose(&info);
        return;                                   /* gone already */
    }
    down = info.shutdown && !info.dying;
    reason = info.shutdown_reason;
    snprintf(uuid, sizeof(uuid), LIBXL_UUID_FMT, LIBXL_UUID_BYTES(info.uuid));
    libxl_dominfo_dispose(&info);
    /* a domain xmaintd did not create is its toolstack's (xl's), never ours */
    if (!down || !xmd_sd_applies(reason) || !xmd_workflow_created(d, domid, uuid, &wf, &wf_disposable))
        return;
    r = g_new0(reap, 1);
    r->d = d;
    r->domid = domid;
    r->wf = wf;
    r->wf_disposable = wf_disposable;
    r->reason = reason;
    {
        char *n = libxl_domid_to_name(d->lx, domid);

        r->name = g_strdup(n ? n : "(unnamed)");
        free(n);
    }
    libxl_domain_config_init(&r->cfg);
    g_hash_table_add(d->reaping, GUINT_TO_POINTER(domid));
    {
        libxl_asyncop_how how = { .callback = config_read, .u.for_callback = r };

        d->lx_aos++;
        rc = libxl_retrieve_domain_configuration(d->lx, domid, &r->cfg, &how);
        if (rc)
            config_read(d->lx, rc, r);
    }
}

gboolean xmd_libxl_drain(xmd *d, guint timeout_ms)
{
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (d->lx_aos > 0 && g_get_monotonic_time() < end)
        if (!g_main_context_iteration(NULL, FALSE))
            g_usleep(10 * 1000);
    if (d->lx_aos > 0)
        g_warning("%u libxl operation(s) (domain destroys) still under way after %u ms",
                  d->lx_aos, timeout_ms);
    return d->lx_aos == 0;
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
