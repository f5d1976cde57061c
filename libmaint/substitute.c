/*
 * Substitute domains: a second domain derived from a running domain's live
 * configuration, with chosen hardware hidden and chosen overrides, created
 * beside it.  Here: what the original's device model emulates (probing),
 * the derivation against the live domain, and creation through the port.
 * The pure derivation is in derive.c, the hiding spec in hide.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libxlutil.h>

#include "internal.h"
#include "schema.h"

/*
 * The functions present[] marks on bus 0, as text ("00:00.0 00:01.1 ..."),
 * in buf: room for all 256 of them (PCI_BUS0_LIST_SIZE), cut short rather
 * than overrun in a smaller one.  Returns how many there are.
 */
#define PCI_BUS0_LIST_SIZE (256 * sizeof(" 00:1f.7"))
static unsigned pci_bus0_list(const bool present[256], char *buf, size_t size)
{
    size_t used = 0;
    unsigned n = 0;

    buf[0] = '\0';
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        if (!present[devfn])
            continue;
        if (used < size) {
            int r = snprintf(buf + used, size - used, "%s00:%02x.%x", n ? " " : "",
                             devfn >> 3, devfn & 7);
            used += r > 0 ? (size_t)r : 0;
        }
        n++;
    }
    return n;
}

/*
 * Every PCI function hidden from an HVM substitute must be one of the
 * original's: passed through (in its config) or emulated by its device
 * model.  Only when the device model cannot be asked is the list taken on
 * trust (with a warning).
 */
static int check_hidden_pci(maint_ctx *ctx, uint32_t domid, const libxl_domain_config *cfg,
                            const maint_hide_spec *hide)
{
    maint__port *port = &ctx->port;
    bool present[256];
    char list[PCI_BUS0_LIST_SIZE];
    const char *why = NULL;
    int asked = -2;
    unsigned n;

    if (cfg->b_info.type != LIBXL_DOMAIN_TYPE_HVM || !hide->nr_pci)
        return MAINT_OK;
    for (unsigned i = 0; i < hide->nr_pci; i++) {
        const maint_bdf *b = &hide->pci[i];
        bool passthrough = false;

        for (int j = 0; j < cfg->num_pcidevs && !passthrough; j++)
            passthrough = maint__pci_matches(&cfg->pcidevs[j], b);
        if (passthrough)
            continue;
        if (asked == -2) {
            asked = port->ops->dm_pci_bus0(port->priv, domid, present, &why);
            if (asked)
                LOGD(ctx->lg, WARN, domid, "cannot ask the device model of '%s' which "
                     "PCI devices it has (%s): hiding what was asked unchecked",
                     cfg->c_info.name, why);
        }
        if (asked)
            return MAINT_OK;
        if (b->bus == 0 && present[b->dev << 3 | b->fn])
            continue;
        n = pci_bus0_list(present, list, sizeof(list));
        LOGD(ctx->lg, ERROR, domid, "no PCI device %02x:%02x.%x in '%s' to hide (its "
             "bus 0 has %u function(s)%s%s)", b->bus, b->dev, b->fn, cfg->c_info.name,
             n, n ? ": " : "", list);
        return MAINT_ERROR_NOENT;
    }
    return MAINT_OK;
}

/*
 * The original's config, derived.  cfg is initialised here; dispose of it.
 * *eff is opts with what the original itself has hidden added to its hiding
 * spec: an HVM original that is a substitute keeps emulated devices, vCPUs
 * and memory in its config that its firmware hides, and its own substitute
 * (a later workflow's) must not bring them back.  A reconfigured domain
 * (same identity) is not a substitute: opts as given.
 */
static int derive(maint_ctx *ctx, uint32_t domid, const maint_substitute_opts *opts,
                  libxl_domain_config *cfg, maint_substitute_opts *eff)
{
    maint__port *port = &ctx->port;
    uint32_t clash;
    char *orig = NULL;
    int rc;

    libxl_domain_config_init(cfg);
    if (!opts)
        return MAINT_ERROR_INVAL;
    *eff = *opts;
    rc = port->ops->domain_config_get(port->priv, domid, cfg);
    if (rc)
        return rc;
    orig = cfg->c_info.name ? strdup(cfg->c_info.name) : NULL;
    if (!opts->same_identity && cfg->b_info.type == LIBXL_DOMAIN_TYPE_HVM) {
        maint_hide_spec had;

        maint_hide_spec_init(&had);
        rc = maint__hide_spec_read(ctx, domid, &had);
        if (rc == MAINT_OK && (had.nr_pci || had.nr_vcpus || had.nr_mem)) {
            char *p = maint__hide_pci_value(&had), *v = maint__hide_vcpus_value(&had),
                 *m = maint__hide_mem_value(&had);

            LOGD(ctx->lg, INFO, domid, "'%s' has hardware hidden (pci '%s', vcpus '%s', "
                 "memory '%s'): its substitute does not get it either", orig ? orig : "?",
                 p ? p : "?", v ? v : "?", m ? m : "?");
            free(p);
            free(v);
            free(m);
            rc = maint__hide_spec_read(ctx, domid, &eff->hide);
            if (rc == MAINT_ERROR_TOOBIG)
                LOGD(ctx->lg, ERROR, domid, "what '%s' hides and what is asked to be hidden "
                     "do not fit in one hiding spec", orig ? orig : "?");
        }
    }
    if (rc == MAINT_OK)
        rc = check_hidden_pci(ctx, domid, cfg, &eff->hide);
    if (rc == MAINT_OK)
        rc = maint__substitute_derive(ctx->lg, cfg, orig, eff);
    if (rc == MAINT_OK && !opts->same_identity &&
        port->ops->name_to_domid(port->priv, cfg->c_info.name, &clash) == MAINT_OK) {
        LOGD(ctx->lg, ERROR, clash, "a domain named '%s' exists already",
             cfg->c_info.name);
        rc = MAINT_ERROR_BUSY;
    }
    free(orig);
    return rc;
}

MAINT_EXPORT int maint_substitute_config_json(maint_ctx *ctx, uint32_t domid,
                                              const maint_substitute_opts *opts,
                                              char **json_r)
{
    libxl_domain_config cfg;
    maint_substitute_opts eff;
    int rc;

    if (!ctx || !json_r)
        return MAINT_ERROR_INVAL;
    *json_r = NULL;
    rc = derive(ctx, domid, opts, &cfg, &eff);
    if (rc == MAINT_OK) {
        *json_r = ctx->port.ops->config_to_json(ctx->port.priv, &cfg);
        rc = *json_r ? MAINT_OK : MAINT_ERROR_NOMEM;
    }
    libxl_domain_config_dispose(&cfg);
    return rc;
}

/* Where the new domain's console output will begin in log: its size now
 * (console logs are appended to; an older same-named domain's lines before
 * this are not the new domain's). */
off_t maint__log_end(const char *log)
{
    struct stat st;

    return log && stat(log, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : 0;
}

bool maint__log_has(const char *log, const char *pattern, off_t from)
{
    bool found = false;
    FILE *f = fopen(log, "r");
    char line[1024];
    struct stat st;

    if (!f)
        return false;
    /* the file opened, not the path again: it may be replaced meanwhile */
    if (fstat(fileno(f), &st) != 0 || from > st.st_size || fseeko(f, from, SEEK_SET) != 0)
        rewind(f);
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, pattern) != NULL;
    fclose(f);
    return found;
}

/* Ready: the guest agent says so, or the console log shows the pattern
 * after from. */
static bool substitute_ready(maint_ctx *ctx, uint32_t domid, const char *log,
                             const char *pattern, off_t from)
{
    char *path = maint__sprintf(MAINT_XS_AGENT_STATE_FMT, domid), *v;
    bool ready = false;

    v = path ? ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN, path, NULL) : NULL;
    ready = v && !strcmp(v, "ready");
    free(v);
    free(path);
    if (ready || !pattern || !log)
        return ready;
    return maint__log_has(log, pattern, from);
}

/*
 * Start the PCI-hole shim (qemu-dm-shims/) for the paused domain, detached,
 * and wait until it reports that its ioreq server claims the slots.
 */
static int start_pci_hole(maint_ctx *ctx, uint32_t domid, const maint_hide_spec *hide)
{
    const char *shim = maint__ctx_path(ctx, MAINT_PATH_PCI_HOLE_SHIM);
    char *logpath = maint__sprintf("%s/xmaint-pci-hole-%u.log",
                                   maint__ctx_path(ctx, MAINT_PATH_LOG_DIR), domid);
    char *argv[MAINT_HIDE_MAX_PCI + 5], domarg[12], bdfs[MAINT_HIDE_MAX_PCI][12];
    char buf[16] = "";
    int rfd = -1, rc, n = 0;
    struct pollfd p;
    unsigned i;

    snprintf(domarg, sizeof(domarg), "%u", domid);
    argv[n++] = (char *)shim;
    argv[n++] = (char *)"--ready-fd=3";
    argv[n++] = domarg;
    for (i = 0; i < hide->nr_pci; i++) {
        snprintf(bdfs[i], sizeof(bdfs[i]), "%02x:%02x.%x", hide->pci[i].bus,
                 hide->pci[i].dev, hide->pci[i].fn);
        argv[n++] = bdfs[i];
    }
    argv[n] = NULL;
    if (!logpath)
        return MAINT_ERROR_NOMEM;
    rc = ctx->port.ops->spawn_detached(ctx->port.priv, argv, logpath, &rfd);
    free(logpath);
    if (rc != MAINT_OK) {
        LOGD(ctx->lg, ERROR, domid, "cannot start the PCI-hole shim (%s)", shim);
        return rc;
    }
    p.fd = rfd;
    p.events = POLLIN;
    if (poll(&p, 1, 15000) == 1 && read(rfd, buf, sizeof(buf) - 1) > 0 &&
        !strncmp(buf, "ready", 5)) {
        close(rfd);
        LOGD(ctx->lg, INFO, domid, "PCI-hole shim claims %u slot(s)", hide->nr_pci);
        return MAINT_OK;
    }
    close(rfd);
    LOGD(ctx->lg, ERROR, domid, "the PCI-hole shim (%s) did not start", shim);
    return MAINT_ERROR_FAIL;
}

static int create(maint_ctx *ctx, uint32_t domid, const maint_substitute_opts *opts,
                  const char *uuid, unsigned timeout_ms, maint_progress_fn *progress,
                  void *user, uint32_t *domid_r)
{
    maint__port *port;
    libxl_domain_config cfg;
    maint_substitute_opts eff;
    uint32_t newid = (uint32_t)INVALID_DOMID;
    char *log = NULL;
    int64_t deadline;
    off_t log_from;
    int rc;

    if (!ctx || !opts || !domid_r)
        return MAINT_ERROR_INVAL;
    port = &ctx->port;
#define PROGRESS(stage, pct) do { if (progress) progress(user, stage, pct); } while (0)
    PROGRESS("derive", 0);
    rc = derive(ctx, domid, opts, &cfg, &eff);
    if (rc)
        goto out;
    if (uuid && libxl_uuid_from_string(&cfg.c_info.uuid, uuid)) {
        LOGD(ctx->lg, ERROR, domid, "'%s' is not a UUID", uuid);
        rc = MAINT_ERROR_INVAL;
        goto out;
    }
    log_from = 0;
    if (cfg.b_info.type == LIBXL_DOMAIN_TYPE_HVM && cfg.b_info.u.hvm.serial &&
        !strncmp(cfg.b_info.u.hvm.serial, "file:", 5) && !opts->console_log) {
        /* its serial console: QEMU truncates the file when it starts */
        log = strdup(cfg.b_info.u.hvm.serial + 5);
    } else {
        /* xenconsoled appends: only what is written from now on is its */
        log = opts->console_log ? strdup(opts->console_log)
                                : maint__sprintf("%s/guest-%s.log",
                                                 maint__ctx_path(ctx, MAINT_PATH_CONSOLE_LOG_DIR),
                                                 cfg.c_info.name);
        log_from = maint__log_end(log);
    }
    PROGRESS("create", 10);
    rc = port->ops->domain_create(port->priv, &cfg, &newid);
    if (rc)
        goto out;
    LOGD(ctx->lg, INFO, newid, "substitute '%s' of d%u created paused",
         cfg.c_info.name, domid);
    /* Its agent starts nothing by itself: applications are moved in. */
    rc = maint__xs_put_readonly(ctx, newid, MAINT_XS_ROLE_FMT, "substitute");
    if (rc)
        goto out;
    if (eff.hide.nr_pci || eff.hide.nr_vcpus || eff.hide.nr_mem) {
        PROGRESS("hide", 40);
        rc = maint_hide_spec_write(ctx, newid, &eff.hide);
        if (rc)
            goto out;
    }
    if (eff.hide.nr_pci && cfg.b_info.type == LIBXL_DOMAIN_TYPE_HVM) {
        /* Emulated devices stay in the config: their slots read empty. */
        PROGRESS("pci-hole", 45);
        rc = start_pci_hole(ctx, newid, &eff.hide);
        if (rc)
            goto out;
    }
    PROGRESS("unpause", 50);
    rc = port->ops->domain_unpause(port->priv, newid);
    if (rc)
        goto out;
    PROGRESS("boot", 60);
    deadline = maint__now_ms() + (timeout_ms ? timeout_ms : 120000);
    for (;;) {
        const char *what;

        if (substitute_ready(ctx, newid, log, opts->ready_pattern, log_from))
            break;
        /* A substitute that dies while booting fails now, not at the timeout. */
        if (maint__domain_down(port, newid, &what)) {
            LOGD(ctx->lg, ERROR, newid, "substitute '%s' died while booting (%s)",
                 cfg.c_info.name, what);
            rc = MAINT_ERROR_FAIL;
            goto out;
        }
        if (maint__now_ms() >= deadline) {
            LOGD(ctx->lg, ERROR, newid, "substitute '%s' not ready within %u ms",
                 cfg.c_info.name, timeout_ms);
            rc = MAINT_ERROR_TIMEOUT;
            goto out;
        }
        poll(NULL, 0, 100);
    }
    PROGRESS("ready", 100);
    *domid_r = newid;
    newid = (uint32_t)INVALID_DOMID; /* handed out: not destroyed below */
    rc = MAINT_OK;
out:
    if (newid != (uint32_t)INVALID_DOMID) {
        LOGD(ctx->lg, ERROR, newid, "destroying the failed substitute");
        port->ops->domain_destroy(port->priv, newid);
    }
    free(log);
    libxl_domain_config_dispose(&cfg);
    return rc;
#undef PROGRESS
}

MAINT_EXPORT int maint_substitute_create(maint_ctx *ctx, uint32_t domid,
                                         const maint_substitute_opts *opts,
                                         unsigned timeout_ms, maint_progress_fn *progress,
                                         void *user, uint32_t *domid_r)
{
    return create(ctx, domid, opts, NULL, timeout_ms, progress, user, domid_r);
}

MAINT_EXPORT int maint_substitute_create_uuid(maint_ctx *ctx, uint32_t domid,
                                              const maint_substitute_opts *opts,
                                              const char *uuid, unsigned timeout_ms,
                                              maint_progress_fn *progress, void *user,
                                              uint32_t *domid_r)
{
    if (!uuid)
        return MAINT_ERROR_INVAL;
    return create(ctx, domid, opts, uuid, timeout_ms, progress, user, domid_r);
}
