/* What xmaintd does when a domain it created shuts down: see shutdown.h. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shutdown.h"

/* Each reason: how xl.cfg names its action, what it means, xl's default. */
typedef struct reason_row {
    libxl_shutdown_reason reason;
    bool applies;                       /* a toolstack follows the configuration */
    const char *key, *what;
    size_t field;                       /* the action in libxl_domain_config */
    libxl_action_on_shutdown dflt;
} reason_row;

#define ROW(r, applies, key, what, dflt) \
    { LIBXL_SHUTDOWN_REASON_##r, applies, #key, what, offsetof(libxl_domain_config, key), \
      LIBXL_ACTION_ON_SHUTDOWN_##dflt }
static const reason_row rows[] = {
    ROW(CRASH, true, on_crash, "crashed", DESTROY),
    ROW(REBOOT, true, on_reboot, "rebooted", RESTART),
    ROW(WATCHDOG, true, on_watchdog, "its watchdog fired", DESTROY),
    ROW(SOFT_RESET, true, on_soft_reset, "asked for a soft reset", SOFT_RESET),
    ROW(POWEROFF, false, on_poweroff, "powered off", DESTROY),
};
/* suspend (save, migration) and anything unknown */
static const reason_row other = { LIBXL_SHUTDOWN_REASON_UNKNOWN, false, NULL, "shut down",
                                  0, LIBXL_ACTION_ON_SHUTDOWN_DESTROY };
#undef ROW

static const reason_row *row_of(libxl_shutdown_reason reason)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (rows[i].reason == reason)
            return &rows[i];
    return &other;
}

bool xmd_sd_applies(libxl_shutdown_reason reason)
{
    return row_of(reason)->applies;
}

/* An action as xl.cfg spells it. */
static const char *action_name(libxl_action_on_shutdown a)
{
    switch (a) {
    case LIBXL_ACTION_ON_SHUTDOWN_DESTROY: return "destroy";
    case LIBXL_ACTION_ON_SHUTDOWN_RESTART: return "restart";
    case LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME: return "rename-restart";
    case LIBXL_ACTION_ON_SHUTDOWN_PRESERVE: return "preserve";
    case LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY: return "coredump-destroy";
    case LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART: return "coredump-restart";
    case LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET: return "soft-reset";
    default: return "?";
    }
}

static bool action_valid(libxl_action_on_shutdown a)
{
    return a >= LIBXL_ACTION_ON_SHUTDOWN_DESTROY && a <= LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET;
}

libxl_action_on_shutdown xmd_sd_action(const libxl_domain_config *cfg,
                                       libxl_shutdown_reason reason)
{
    const reason_row *row = row_of(reason);
    libxl_action_on_shutdown a = 0;

    if (cfg && row->key)
        memcpy(&a, (const char *)cfg + row->field, sizeof(a));
    return action_valid(a) ? a : row->dflt;
}

static bool restarts(libxl_action_on_shutdown a)
{
    return a == LIBXL_ACTION_ON_SHUTDOWN_RESTART || a == LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME ||
           a == LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET;
}

xmd_sd_plan xmd_sd_decide(libxl_shutdown_reason reason, libxl_action_on_shutdown action,
                          bool in_flight)
{
    xmd_sd_plan p = { XMD_SD_NOTHING, reason, action, in_flight };

    if (!xmd_sd_applies(reason))
        return p;
    switch (action) {
    case LIBXL_ACTION_ON_SHUTDOWN_PRESERVE:
    case LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY:
    case LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART:
        p.verb = XMD_SD_LEAVE;
        break;
    default:           /* destroy, the restarts, soft-reset, anything unknown */
        /* a domain in service is not thrown away for want of a restart */
        p.verb = restarts(action) && !in_flight ? XMD_SD_LEAVE : XMD_SD_DESTROY;
        break;
    }
    return p;
}

char *xmd_sd_describe(const xmd_sd_plan *p)
{
    const reason_row *row = row_of(p->reason);
    const char *act = action_name(p->action), *done, *why = "";
    char *s = NULL;

    switch (p->verb) {
    case XMD_SD_DESTROY:
        done = "destroyed";
        if (p->action == LIBXL_ACTION_ON_SHUTDOWN_RESTART ||
            p->action == LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME)
            why = ": xmaintd does not restart the domains it creates, it destroys them";
        else if (p->action == LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET)
            why = ": xmaintd does not soft-reset the domains it creates, it destroys them";
        break;
    case XMD_SD_LEAVE:
        done = "left shut down";
        if (restarts(p->action))
            why = ": it is in service and xmaintd does not restart domains; "
                  "'xl destroy' it and start it again";
        else if (p->action == LIBXL_ACTION_ON_SHUTDOWN_PRESERVE)
            why = ": 'xl destroy' it when done";
        else
            why = ": xmaintd dumps no core; 'xl dump-core' it, then 'xl destroy' it";
        break;
    default:
        done = "nothing done";
        break;
    }
    if (row->key ? asprintf(&s, "%s; %s (%s=%s%s)", row->what, done, row->key, act, why) < 0
                 : asprintf(&s, "%s; %s", row->what, done) < 0)
        return NULL;
    return s;
}

bool xmd_sd_ours(const xmd_sd_created *recs, unsigned n, uint32_t domid, const char *uuid)
{
    if (!uuid || !uuid[0])
        return false;
    for (unsigned i = 0; i < n; i++)
        if (recs[i].domid == domid && !strcasecmp(recs[i].uuid, uuid))
            return true;
    return false;
}
