/*
 * What xmaintd does when a domain it created shuts down by itself: pure
 * decisions, no hypervisor calls.  toolstack.c carries them out; the daemon
 * test drives them.
 *
 * xl's per-domain process follows a domain's on_crash, on_reboot,
 * on_watchdog and on_soft_reset.  No xl process watches the domains xmaintd
 * creates (substitutes, originals a reconfigure started again), so xmaintd
 * acts as their toolstack where that is simple:
 *
 *   destroy                      destroyed
 *   restart, rename-restart,     while the workflow that created it runs
 *   soft-reset                   and has not moved the applications to it:
 *                                destroyed as well (xmaintd does not start
 *                                it again; the workflow rolls back); once
 *                                it holds them (or the workflow is over)
 *                                it is in service: left shut down for the
 *                                administrator, nothing of it lost
 *   preserve, coredump-destroy,  left shut down for the administrator, as
 *   coredump-restart             xl would leave it (xmaintd dumps no core)
 *
 * A poweroff (a retirement xmaintd asked for, or the guest's own) and a
 * suspend (save, migration) are not its business.  Domains xmaintd did not
 * create are never touched: it knows its own by the records its workflows
 * journal (domid and UUID).
 */
#ifndef XMAINTD_SHUTDOWN_H
#define XMAINTD_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>
#include <libxl.h>

typedef enum {
    XMD_SD_NOTHING,                     /* not a shutdown xmaintd acts on */
    XMD_SD_DESTROY,
    XMD_SD_LEAVE,
} xmd_sd_verb;

typedef struct xmd_sd_plan {
    xmd_sd_verb verb;
    libxl_shutdown_reason reason;
    libxl_action_on_shutdown action;    /* the one that applies */
    bool in_flight;                     /* its workflow runs, apps not yet moved */
} xmd_sd_plan;

/* Is the reason one a toolstack follows the configuration for (crash,
 * reboot, watchdog, soft_reset)? */
bool xmd_sd_applies(libxl_shutdown_reason reason);

/* The action the configuration names for the reason; xl's default when it
 * names none or cfg is NULL (unreadable): destroy, restart for a reboot,
 * soft-reset for a soft reset. */
libxl_action_on_shutdown xmd_sd_action(const libxl_domain_config *cfg,
                                       libxl_shutdown_reason reason);

/* in_flight: the workflow that created the domain still runs and has not
 * moved the applications to it. */
xmd_sd_plan xmd_sd_decide(libxl_shutdown_reason reason, libxl_action_on_shutdown action,
                          bool in_flight);

/* What happened and what was done, for the log and the journal:
 * "crashed; destroyed (on_crash=destroy)".  malloc'd. */
char *xmd_sd_describe(const xmd_sd_plan *p);

/* A domain xmaintd created. */
typedef struct xmd_sd_created {
    uint32_t domid;
    char uuid[37];
} xmd_sd_created;

/* Is (domid, uuid) one of the n records?  Both must match: a domid alone
 * is reused by Xen once it wraps, a UUID is kept by a domain started again. */
bool xmd_sd_ours(const xmd_sd_created *recs, unsigned n, uint32_t domid, const char *uuid);

#endif
