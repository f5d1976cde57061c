/*
 * Substitute domains: a second domain derived from a running domain's live
 * configuration, with chosen hardware hidden and chosen overrides, created
 * beside it.  Derivation is pure logic on a libxl_domain_config; creation
 * goes through the port.  Every rejection names the value that was wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libxlutil.h>

#include "internal.h"
#include "schema.h"

/* ---- Hiding spec ---------------------------------------------------------- */

MAINT_EXPORT void maint_hide_spec_init(maint_hide_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
}

MAINT_EXPORT void maint_hide_spec_dispose(maint_hide_spec *spec)
{
    if (spec)
        maint_hide_spec_init(spec);
}

/* Parse exactly `digits` hex digits at *p (1..digits), advancing p. */
static bool hex_field(const char **p, unsigned max_digits, unsigned long *v_r)
{
    unsigned long v = 0;
    unsigned n = 0;

    while (isxdigit((unsigned char)**p) && n < max_digits) {
        char c = (char)tolower((unsigned char)**p);
        v = v * 16 + (unsigned long)(c <= '9' ? c - '0' : c - 'a' + 10);
        (*p)++;
        n++;
    }
    *v_r = v;
    return n > 0 && !isxdigit((unsigned char)**p);
}

MAINT_EXPORT int maint_hide_spec_add_pci(maint_hide_spec *spec, const char *bdf)
{
    const char *p = bdf;
    unsigned long seg = 0, bus, dev, fn;
    unsigned i;

    if (!spec || !bdf)
        return MAINT_ERROR_INVAL;
    if (strlen(bdf) == 12 && bdf[4] == ':') {   /* SSSS:BB:DD.F */
        if (!hex_field(&p, 4, &seg) || *p++ != ':')
            return MAINT_ERROR_INVAL;
    }
    if (!hex_field(&p, 2, &bus) || *p++ != ':' || !hex_field(&p, 2, &dev) ||
        *p++ != '.' || !hex_field(&p, 1, &fn) || *p != '\0')
        return MAINT_ERROR_INVAL;
    if (seg != 0 || dev >= 32 || fn >= 8)
        return MAINT_ERROR_INVAL;
    for (i = 0; i < spec->nr_pci; i++)
        if (spec->pci[i].bus == bus && spec->pci[i].dev == dev && spec->pci[i].fn == fn)
            return MAINT_OK;
    if (spec->nr_pci >= MAINT_HIDE_MAX_PCI)
        return MAINT_ERROR_TOOBIG;
    spec->pci[spec->nr_pci].bus = (uint8_t)bus;
    spec->pci[spec->nr_pci].dev = (uint8_t)dev;
    spec->pci[spec->nr_pci].fn = (uint8_t)fn;
    spec->nr_pci++;
    return MAINT_OK;
}

MAINT_EXPORT int maint_hide_spec_add_vcpu(maint_hide_spec *spec, unsigned vcpu)
{
    unsigned i;

    if (!spec || vcpu == 0 || vcpu >= 4096)
        return MAINT_ERROR_INVAL;      /* vCPU 0 boots the guest */
    for (i = 0; i < spec->nr_vcpus; i++)
        if (spec->vcpus[i] == vcpu)
            return MAINT_OK;
    if (spec->nr_vcpus >= MAINT_HIDE_MAX_VCPUS)
        return MAINT_ERROR_TOOBIG;
    spec->vcpus[spec->nr_vcpus++] = vcpu;
    return MAINT_OK;
}

MAINT_EXPORT int maint_hide_spec_add_mem(maint_hide_spec *spec, const char *range)
{
    unsigned long long start, end;
    char *e1, *e2;

    if (!spec || !range || strncmp(range, "0x", 2))
        return MAINT_ERROR_INVAL;
    errno = 0;
    start = strtoull(range, &e1, 16);
    if (errno || *e1 != '-' || strncmp(e1 + 1, "0x", 2))
        return MAINT_ERROR_INVAL;
    end = strtoull(e1 + 1, &e2, 16);
    if (errno || *e2 != '\0' || end <= start || (start & 0xfff) ||
        ((end + 1) & 0xfff))
        return MAINT_ERROR_INVAL;
    if (spec->nr_mem >= MAINT_HIDE_MAX_MEM)
        return MAINT_ERROR_TOOBIG;
    spec->mem[spec->nr_mem].start = start;
    spec->mem[spec->nr_mem].end = end;
    spec->nr_mem++;
    return MAINT_OK;
}

char *maint__hide_pci_value(const maint_hide_spec *spec)
{
    char *out = malloc(spec->nr_pci * 8 + 1), *p = out;

    if (!out)
        return NULL;
    *p = '\0';
    for (unsigned i = 0; i < spec->nr_pci; i++)
        p += sprintf(p, "%s%02x:%02x.%x", i ? "," : "", spec->pci[i].bus,
                     spec->pci[i].dev, spec->pci[i].fn);
    return out;
}

char *maint__hide_vcpus_value(const maint_hide_spec *spec)
{
    char *out = malloc(spec->nr_vcpus * 6 + 1), *p = out;

    if (!out)
        return NULL;
    *p = '\0';
    for (unsigned i = 0; i < spec->nr_vcpus; i++)
        p += sprintf(p, "%s%u", i ? "," : "", spec->vcpus[i]);
    return out;
}

char *maint__hide_mem_value(const maint_hide_spec *spec)
{
    char *out = malloc(spec->nr_mem * 40 + 1), *p = out;

    if (!out)
        return NULL;
    *p = '\0';
    for (unsigned i = 0; i < spec->nr_mem; i++)
        p += sprintf(p, "%s0x%llx-0x%llx", i ? "," : "",
                     (unsigned long long)spec->mem[i].start,
                     (unsigned long long)spec->mem[i].end);
    return out;
}

typedef struct hide_write {
    uint32_t domid;
    char *dir, *values[3], *paths[3];
} hide_write;

/* In transaction t: the hiding spec's nodes (absent: nothing hidden). */
static int hide_write_txn(maint__port *port, uint32_t t, void *user)
{
    hide_write *h = user;
    maint__perm perms[2] = { { 0, 'n' }, { h->domid, 'r' } };
    bool ok = port->ops->xs_mkdir(port->priv, t, h->dir) == 0 &&
              port->ops->xs_set_perms(port->priv, t, h->dir, perms, 2) == 0;

    for (int i = 0; i < 3 && ok; i++) {
        if (h->values[i])
            ok = port->ops->xs_write(port->priv, t, h->paths[i], h->values[i],
                                     (unsigned)strlen(h->values[i])) == 0 &&
                 port->ops->xs_set_perms(port->priv, t, h->paths[i], perms, 2) == 0;
        else
            port->ops->xs_rm(port->priv, t, h->paths[i]);
    }
    return ok ? 0 : -1;
}

MAINT_EXPORT int maint_hide_spec_write(maint_ctx *ctx, uint32_t domid,
                                       const maint_hide_spec *spec)
{
    hide_write h = { .domid = domid };
    char **values = h.values, **paths = h.paths;
    int rc = MAINT_ERROR_NOMEM, i;

    if (!ctx || !spec || domid == 0)
        return MAINT_ERROR_INVAL;
    values[0] = spec->nr_pci ? maint__hide_pci_value(spec) : NULL;
    values[1] = spec->nr_vcpus ? maint__hide_vcpus_value(spec) : NULL;
    values[2] = spec->nr_mem ? maint__hide_mem_value(spec) : NULL;
    h.dir = maint__sprintf(MAINT_XS_HIDE_FMT, domid);
    paths[0] = maint__sprintf(MAINT_XS_HIDE_PCI_FMT, domid);
    paths[1] = maint__sprintf(MAINT_XS_HIDE_VCPUS_FMT, domid);
    paths[2] = maint__sprintf(MAINT_XS_HIDE_MEM_FMT, domid);
    if (!h.dir || !paths[0] || !paths[1] || !paths[2] || (spec->nr_pci && !values[0]) ||
        (spec->nr_vcpus && !values[1]) || (spec->nr_mem && !values[2]))
        goto out;
    rc = MAINT_OK;
    if (maint__xs_transaction(&ctx->port, hide_write_txn, &h) < 0) {
        LOGED(ctx->lg, ERROR, domid, "cannot write the hiding spec under %s", h.dir);
        rc = MAINT_ERROR_XENSTORE;
    }
out:
    for (i = 0; i < 3; i++) {
        free(values[i]);
        free(paths[i]);
    }
    free(h.dir);
    return rc;
}

/* Add every item of a comma-separated list to spec with add(). */
static int hide_add_list(maint_hide_spec *spec, const char *list,
                         int (*add)(maint_hide_spec *, const char *))
{
    char *copy = strdup(list), *item, *save = NULL;
    int rc = copy ? MAINT_OK : MAINT_ERROR_NOMEM;

    for (item = copy ? strtok_r(copy, ",", &save) : NULL; item && rc == MAINT_OK;
         item = strtok_r(NULL, ",", &save))
        rc = add(spec, item);
    free(copy);
    return rc;
}

static int hide_add_vcpu_text(maint_hide_spec *spec, const char *text)
{
    unsigned long v;
    char *end;

    if (!isdigit((unsigned char)*text))
        return MAINT_ERROR_INVAL;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || *end || v > UINT_MAX)
        return MAINT_ERROR_INVAL;
    return maint_hide_spec_add_vcpu(spec, (unsigned)v);
}

static int hide_add_mem_new(maint_hide_spec *spec, const char *range)
{
    maint_hide_spec one;
    int rc;

    maint_hide_spec_init(&one);
    rc = maint_hide_spec_add_mem(&one, range);
    if (rc)
        return rc;
    for (unsigned i = 0; i < spec->nr_mem; i++)
        if (spec->mem[i].start == one.mem[0].start && spec->mem[i].end == one.mem[0].end)
            return MAINT_OK;                   /* already there */
    return maint_hide_spec_add_mem(spec, range);
}

int maint__hide_spec_read(maint_ctx *ctx, uint32_t domid, maint_hide_spec *spec)
{
    static const char *const fmts[3] = { MAINT_XS_HIDE_PCI_FMT, MAINT_XS_HIDE_VCPUS_FMT,
                                         MAINT_XS_HIDE_MEM_FMT };
    int (*const adds[3])(maint_hide_spec *, const char *) = {
        maint_hide_spec_add_pci, hide_add_vcpu_text, hide_add_mem_new
    };
    int rc = MAINT_OK;

    for (unsigned i = 0; i < 3 && rc == MAINT_OK; i++) {
        unsigned len = 0;
        char *path, *v;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        path = maint__sprintf(fmts[i], domid);
#pragma GCC diagnostic pop
        if (!path)
            return MAINT_ERROR_NOMEM;
        v = ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN, path, &len);
        if (v && (len > 4096 || memchr(v, 0, len)))
            rc = MAINT_ERROR_INVAL;
        else if (v && *v)
            rc = hide_add_list(spec, v, adds[i]);
        if (rc)
            LOGD(ctx->lg, ERROR, domid, "the hiding spec at %s ('%.64s') is unusable: %s",
                 path, v ? v : "", maint_strerror(rc));
        free(v);
        free(path);
    }
    return rc;
}

/* ---- Derivation ------------------------------------------------------------ */

MAINT_EXPORT void maint_substitute_opts_init(maint_substitute_opts *opts)
{
    memset(opts, 0, sizeof(*opts));
    maint_hide_spec_init(&opts->hide);
}

MAINT_EXPORT void maint_substitute_opts_dispose(maint_substitute_opts *opts)
{
    if (!opts)
        return;
    maint_hide_spec_dispose(&opts->hide);
    maint_substitute_opts_init(opts);
}

static int replace_string(char **field, const char *value)
{
    char *copy = strdup(value);

    if (!copy)
        return MAINT_ERROR_NOMEM;
    free(*field);
    *field = copy;
    return MAINT_OK;
}

static int set_vcpus(libxl_domain_build_info *b, unsigned n)
{
    libxl_bitmap avail;

    libxl_bitmap_init(&avail);
    avail.size = (n + 7) / 8;
    avail.map = calloc(avail.size, 1);
    if (!avail.map)
        return MAINT_ERROR_NOMEM;
    for (unsigned i = 0; i < n; i++)
        avail.map[i / 8] |= (uint8_t)(1u << (i % 8));
    libxl_bitmap_dispose(&b->avail_vcpus);
    b->avail_vcpus = avail;
    b->max_vcpus = (int)n;
    return MAINT_OK;
}

/* Is the guest address of passthrough device d this BDF? */
static bool pci_matches(const libxl_device_pci *d, const maint_bdf *bdf)
{
    /* vdevfn is the guest's devfn on bus 0; without one, the host address. */
    if (d->vdevfn)
        return bdf->bus == 0 && ((d->vdevfn >> 3) & 0x1f) == bdf->dev &&
               (d->vdevfn & 7) == bdf->fn;
    return d->bus == bdf->bus && d->dev == bdf->dev && d->func == bdf->fn;
}

/* Apply one xl.cfg "KEY=VALUE" override, parsed by libxlutil. */
static int apply_set(xentoollog_logger *lg, libxl_domain_config *cfg, const char *set)
{
    static const char *const numeric[] = { "memory", "maxmem", "vcpus", "maxvcpus" };
    static const char *const strings[] = { "kernel", "ramdisk", "extra", "cmdline",
                                           "firmware_override" };
    const char *eq = strchr(set, '=');
    char key[32], *data = NULL, *report = NULL;
    size_t report_len = 0;
    FILE *rep = NULL;
    XLU_Config *xc = NULL;
    const char *sval;
    long lval;
    size_t klen;
    unsigned i;
    int rc = MAINT_ERROR_INVAL;

    klen = eq ? (size_t)(eq - set) : 0;
    while (klen && set[klen - 1] == ' ')
        klen--;
    if (!eq || klen == 0 || klen >= sizeof(key)) {
        LOG(lg, ERROR, "override '%s' is not KEY=VALUE", set);
        return MAINT_ERROR_INVAL;
    }
    memcpy(key, set, klen);
    key[klen] = '\0';
    data = maint__sprintf("%s\n", set);
    /* libxlutil reports parse errors to a stream: keep them for our log. */
    rep = open_memstream(&report, &report_len);
    xc = rep ? xlu_cfg_init(rep, "override") : NULL;
    if (!data || !xc) {
        rc = MAINT_ERROR_NOMEM;
        goto out;
    }
    if (xlu_cfg_readdata(xc, data, (int)strlen(data))) {
        fflush(rep);
        LOG(lg, ERROR, "override '%s' is not valid xl.cfg syntax%s%s", set,
            report_len ? ": " : "", report_len ? report : "");
        goto out;
    }
    for (i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
        if (strcmp(key, numeric[i]))
            continue;
        if (xlu_cfg_get_long(xc, key, &lval, 1) || lval <= 0 || lval > (1L << 30)) {
            LOG(lg, ERROR, "override %s: a positive number is required", key);
            goto out;
        }
        if (!strcmp(key, "memory")) {
            cfg->b_info.target_memkb = (uint64_t)lval * 1024;
            if (cfg->b_info.max_memkb < cfg->b_info.target_memkb)
                cfg->b_info.max_memkb = cfg->b_info.target_memkb;
        } else if (!strcmp(key, "maxmem")) {
            cfg->b_info.max_memkb = (uint64_t)lval * 1024;
        } else if (lval > 128) {
            LOG(lg, ERROR, "override %s=%ld: at most 128 vCPUs", key, lval);
            goto out;
        } else {
            rc = set_vcpus(&cfg->b_info, (unsigned)lval);
            goto out;
        }
        rc = MAINT_OK;
        goto out;
    }
    for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        if (strcmp(key, strings[i]))
            continue;
        if (xlu_cfg_get_string(xc, key, &sval, 1)) {
            LOG(lg, ERROR, "override %s: a quoted string is required", key);
            goto out;
        }
        if (!strcmp(key, "kernel"))
            rc = replace_string(&cfg->b_info.kernel, sval);
        else if (!strcmp(key, "ramdisk"))
            rc = replace_string(&cfg->b_info.ramdisk, sval);
        else if (!strcmp(key, "firmware_override")) {
            if (cfg->b_info.type != LIBXL_DOMAIN_TYPE_HVM) {
                LOG(lg, ERROR, "override firmware_override: only for HVM domains");
                goto out;
            }
            rc = replace_string(&cfg->b_info.u.hvm.firmware, sval);
        } else
            rc = replace_string(&cfg->b_info.cmdline, sval);
        goto out;
    }
    LOG(lg, ERROR, "override '%s': unsupported key (supported: memory, maxmem, "
        "vcpus, maxvcpus, kernel, ramdisk, extra, cmdline, firmware_override)", key);
out:
    if (xc)
        xlu_cfg_destroy(xc);
    if (rep)
        fclose(rep);
    free(report);
    free(data);
    return rc;
}

static int replace_disks(xentoollog_logger *lg, libxl_domain_config *cfg,
                         const char *const *specs, unsigned nr)
{
    libxl_device_disk *disks = calloc(nr ? nr : 1, sizeof(*disks));
    char *report = NULL;
    size_t report_len = 0;
    FILE *rep = open_memstream(&report, &report_len);
    XLU_Config *xc = rep ? xlu_cfg_init(rep, "disk") : NULL;
    unsigned i, done = 0;
    int rc = MAINT_ERROR_NOMEM;

    if (!disks || !xc)
        goto out;
    for (i = 0; i < nr; i++, done++) {
        libxl_device_disk_init(&disks[i]);
        if (xlu_disk_parse(xc, 1, &specs[i], &disks[i])) {
            fflush(rep);
            LOG(lg, ERROR, "disk '%s' is not a valid xl disk spec%s%s", specs[i],
                report_len ? ": " : "", report_len ? report : "");
            libxl_device_disk_dispose(&disks[i]);
            rc = MAINT_ERROR_INVAL;
            goto out;
        }
    }
    for (i = 0; i < (unsigned)cfg->num_disks; i++)
        libxl_device_disk_dispose(&cfg->disks[i]);
    free(cfg->disks);
    cfg->disks = disks;
    cfg->num_disks = (int)nr;
    disks = NULL;
    done = 0;
    rc = MAINT_OK;
out:
    for (i = 0; disks && i < done; i++)
        libxl_device_disk_dispose(&disks[i]);
    free(disks);
    if (xc)
        xlu_cfg_destroy(xc);
    if (rep)
        fclose(rep);
    free(report);
    return rc;
}

/* Devices only the substitute gets: "vif:bridge=BR[,model=M][,mac=MAC]" or
 * "disk:XL-DISK-SPEC".  They are appended after the original's. */
static int add_devices(xentoollog_logger *lg, libxl_domain_config *cfg,
                       const char *const *specs, unsigned nr)
{
    unsigned i;

    for (i = 0; i < nr; i++) {
        const char *spec = specs[i];

        if (!strncmp(spec, "vif:", 4)) {
            libxl_device_nic nic, *grown;
            char *copy = strdup(spec + 4), *tok, *save = NULL;
            int maxid = -1, rc = MAINT_OK;

            if (!copy)
                return MAINT_ERROR_NOMEM;
            libxl_device_nic_init(&nic);
            for (tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(tok, '=');
                unsigned m[6];

                if (!eq) {
                    rc = MAINT_ERROR_INVAL;
                    break;
                }
                *eq++ = 0;
                if (!strcmp(tok, "bridge"))
                    rc = replace_string(&nic.bridge, eq);
                else if (!strcmp(tok, "model"))
                    rc = replace_string(&nic.model, eq);
                else if (!strcmp(tok, "mac") &&
                         sscanf(eq, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3],
                                &m[4], &m[5]) == 6 && strlen(eq) == 17)
                    for (unsigned k = 0; k < 6; k++)
                        nic.mac[k] = (uint8_t)m[k];
                else
                    rc = MAINT_ERROR_INVAL;
            }
            free(copy);
            if (rc) {
                LOG(lg, ERROR, "cannot add '%s': say vif:bridge=BR[,model=M][,mac=MAC]", spec);
                libxl_device_nic_dispose(&nic);
                return rc;
            }
            for (int k = 0; k < cfg->num_nics; k++)
                if (cfg->nics[k].devid > maxid)
                    maxid = cfg->nics[k].devid;
            nic.devid = maxid + 1;
            grown = realloc(cfg->nics, (size_t)(cfg->num_nics + 1) * sizeof(*grown));
            if (!grown) {
                libxl_device_nic_dispose(&nic);
                return MAINT_ERROR_NOMEM;
            }
            cfg->nics = grown;
            cfg->nics[cfg->num_nics++] = nic;
        } else if (!strncmp(spec, "disk:", 5)) {
            libxl_domain_config tmp;
            const char *one[1] = { spec + 5 };
            libxl_device_disk *grown;
            int rc;

            libxl_domain_config_init(&tmp);
            rc = replace_disks(lg, &tmp, one, 1);
            if (rc) {
                libxl_domain_config_dispose(&tmp);
                return rc;
            }
            grown = realloc(cfg->disks, (size_t)(cfg->num_disks + 1) * sizeof(*grown));
            if (!grown) {
                libxl_domain_config_dispose(&tmp);
                return MAINT_ERROR_NOMEM;
            }
            cfg->disks = grown;
            cfg->disks[cfg->num_disks++] = tmp.disks[0];
            tmp.num_disks = 0;            /* moved */
            free(tmp.disks);
            tmp.disks = NULL;
            libxl_domain_config_dispose(&tmp);
        } else {
            LOG(lg, ERROR, "cannot add '%s': say vif:bridge=BR or disk:SPEC", spec);
            return MAINT_ERROR_INVAL;
        }
    }
    return MAINT_OK;
}

int maint__substitute_derive(xentoollog_logger *lg, libxl_domain_config *cfg,
                             const char *orig_name, const maint_substitute_opts *opts)
{
    const maint_hide_spec *hide = &opts->hide;
    unsigned i, j;
    int rc;

    /* Identity: a new name and UUID (a reconfigured domain keeps its own). */
    if (opts->same_identity)
        rc = MAINT_OK;
    else if (opts->name)
        rc = replace_string(&cfg->c_info.name, opts->name);
    else {
        char *n = maint__sprintf("%s-sub", orig_name ? orig_name : "domain");
        rc = n ? MAINT_OK : MAINT_ERROR_NOMEM;
        if (n) {
            free(cfg->c_info.name);
            cfg->c_info.name = n;
        }
    }
    if (rc)
        return rc;
    if (!opts->same_identity)
        libxl_uuid_generate(&cfg->c_info.uuid);

    /* Hidden PCI devices: passthrough ones are left out of the config. */
    for (i = 0; i < hide->nr_pci; i++) {
        bool found = false;

        for (j = 0; j < (unsigned)cfg->num_pcidevs; j++) {
            if (pci_matches(&cfg->pcidevs[j], &hide->pci[i])) {
                libxl_device_pci_dispose(&cfg->pcidevs[j]);
                memmove(&cfg->pcidevs[j], &cfg->pcidevs[j + 1],
                        (size_t)(cfg->num_pcidevs - (int)j - 1) * sizeof(cfg->pcidevs[0]));
                cfg->num_pcidevs--;
                found = true;
                break;
            }
        }
        /* An HVM guest's emulated devices stay; hvmloader and the PCI-hole
         * shim hide them.  A PV/PVH guest has no other PCI devices. */
        if (!found && cfg->b_info.type != LIBXL_DOMAIN_TYPE_HVM) {
            LOG(lg, ERROR, "no PCI device %02x:%02x.%x in '%s' to hide",
                hide->pci[i].bus, hide->pci[i].dev, hide->pci[i].fn,
                orig_name ? orig_name : "?");
            return MAINT_ERROR_NOENT;
        }
    }
    /* Virtual devices taken away: "vif:DEVID" or "disk:VDEV". */
    for (i = 0; i < opts->nr_remove; i++) {
        const char *r = opts->remove[i];
        bool found = false;

        if (!strncmp(r, "vif:", 4) && r[4]) {
            char *end;
            long id = strtol(r + 4, &end, 10);

            for (j = 0; !*end && id >= 0 && j < (unsigned)cfg->num_nics; j++) {
                if (cfg->nics[j].devid != id)
                    continue;
                libxl_device_nic_dispose(&cfg->nics[j]);
                memmove(&cfg->nics[j], &cfg->nics[j + 1],
                        (size_t)(cfg->num_nics - (int)j - 1) * sizeof(cfg->nics[0]));
                cfg->num_nics--;
                found = true;
                break;
            }
        } else if (!strncmp(r, "disk:", 5) && r[5]) {
            for (j = 0; j < (unsigned)cfg->num_disks; j++) {
                if (!cfg->disks[j].vdev || strcmp(cfg->disks[j].vdev, r + 5))
                    continue;
                libxl_device_disk_dispose(&cfg->disks[j]);
                memmove(&cfg->disks[j], &cfg->disks[j + 1],
                        (size_t)(cfg->num_disks - (int)j - 1) * sizeof(cfg->disks[0]));
                cfg->num_disks--;
                found = true;
                break;
            }
        } else {
            LOG(lg, ERROR, "cannot remove '%s': say vif:DEVID or disk:VDEV", r);
            return MAINT_ERROR_INVAL;
        }
        if (!found) {
            LOG(lg, ERROR, "'%s' has no device %s to remove", orig_name ? orig_name : "?", r);
            return MAINT_ERROR_NOENT;
        }
    }
    if (hide->nr_vcpus || hide->nr_mem) {
        if (cfg->b_info.type != LIBXL_DOMAIN_TYPE_HVM) {
            LOG(lg, ERROR, "hiding vCPUs or memory needs an HVM domain (hvmloader)");
            return MAINT_ERROR_INVAL;
        }
    }
    for (i = 0; i < hide->nr_vcpus; i++) {
        if (hide->vcpus[i] >= (unsigned)cfg->b_info.max_vcpus) {
            LOG(lg, ERROR, "cannot hide vCPU %u: the domain has %d", hide->vcpus[i],
                cfg->b_info.max_vcpus);
            return MAINT_ERROR_NOENT;
        }
    }

    /* Size. */
    if (opts->vcpus) {
        if (opts->vcpus > 128) {
            LOG(lg, ERROR, "%u vCPUs: at most 128", opts->vcpus);
            return MAINT_ERROR_INVAL;
        }
        rc = set_vcpus(&cfg->b_info, opts->vcpus);
        if (rc)
            return rc;
    }
    if (opts->memory_kb) {
        if (opts->memory_kb < 16 * 1024) {
            LOG(lg, ERROR, "%llu KiB of memory: at least 16 MiB",
                (unsigned long long)opts->memory_kb);
            return MAINT_ERROR_INVAL;
        }
        cfg->b_info.target_memkb = opts->memory_kb;
        cfg->b_info.max_memkb = opts->memory_kb;
    }

    /* What it boots. */
    if ((opts->kernel && (rc = replace_string(&cfg->b_info.kernel, opts->kernel))) ||
        (opts->ramdisk && (rc = replace_string(&cfg->b_info.ramdisk, opts->ramdisk))) ||
        (opts->cmdline && (rc = replace_string(&cfg->b_info.cmdline, opts->cmdline))))
        return rc;
    if (opts->nr_disks && (rc = replace_disks(lg, cfg, opts->disks, opts->nr_disks)))
        return rc;
    /* Two domains must never write one disk (a reconfigured domain takes its
     * disks over from the original, which is gone by then). */
    if (!opts->nr_disks && !opts->same_identity) {
        for (i = 0; i < (unsigned)cfg->num_disks; i++) {
            if (!cfg->disks[i].readwrite || cfg->disks[i].is_cdrom)
                continue;
            LOG(lg, ERROR, "disk %s (%s) is writable and in use by '%s': give the "
                "substitute its own disks", cfg->disks[i].vdev ? cfg->disks[i].vdev : "?",
                cfg->disks[i].pdev_path ? cfg->disks[i].pdev_path : "?",
                orig_name ? orig_name : "?");
            return MAINT_ERROR_BUSY;
        }
    }

    /* Devices only the substitute gets (hardware addition). */
    if (opts->nr_add && (rc = add_devices(lg, cfg, opts->add, opts->nr_add)))
        return rc;

    /* Network: fresh MACs unless asked to keep them; devices renumbered. */
    for (i = 0; i < (unsigned)cfg->num_nics; i++) {
        if (opts->mac == MAINT_MAC_NEW)
            memset(cfg->nics[i].mac, 0, sizeof(cfg->nics[i].mac));
        free(cfg->nics[i].ifname);
        cfg->nics[i].ifname = NULL;
    }

    /* A file-backed serial port must not be shared with the original. */
    if (!opts->same_identity && cfg->b_info.type == LIBXL_DOMAIN_TYPE_HVM && cfg->b_info.u.hvm.serial &&
        !strncmp(cfg->b_info.u.hvm.serial, "file:", 5)) {
        const char *old = cfg->b_info.u.hvm.serial;
        const char *at = orig_name && *orig_name ? strstr(old, orig_name) : NULL;
        char *serial = at ? maint__sprintf("%.*s%s%s", (int)(at - old), old,
                                           cfg->c_info.name, at + strlen(orig_name))
                          : maint__sprintf("%s.%s", old, cfg->c_info.name);

        if (!serial)
            return MAINT_ERROR_NOMEM;
        free(cfg->b_info.u.hvm.serial);
        cfg->b_info.u.hvm.serial = serial;
    }

    if (opts->firmware) {
        if (cfg->b_info.type != LIBXL_DOMAIN_TYPE_HVM) {
            LOG(lg, ERROR, "a firmware override is only for HVM domains");
            return MAINT_ERROR_INVAL;
        }
        if ((rc = replace_string(&cfg->b_info.u.hvm.firmware, opts->firmware)))
            return rc;
    }
    for (i = 0; i < opts->nr_sets; i++)
        if ((rc = apply_set(lg, cfg, opts->sets[i])))
            return rc;
    return MAINT_OK;
}

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
            passthrough = pci_matches(&cfg->pcidevs[j], b);
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

/* Ready: the guest agent says so, or the console log shows the pattern. */
static bool substitute_ready(maint_ctx *ctx, uint32_t domid, const char *log,
                             const char *pattern)
{
    char *path = maint__sprintf(MAINT_XS_AGENT_STATE_FMT, domid), *v;
    bool ready = false;
    FILE *f;

    v = path ? ctx->port.ops->xs_read(ctx->port.priv, MAINT__XS_NO_TXN, path, NULL) : NULL;
    ready = v && !strcmp(v, "ready");
    free(v);
    free(path);
    if (ready || !pattern || !log)
        return ready;
    f = fopen(log, "r");
    if (f) {
        char line[1024];

        while (!ready && fgets(line, sizeof(line), f))
            ready = strstr(line, pattern) != NULL;
        fclose(f);
    }
    return ready;
}

/*
 * Start the PCI-hole shim (qemu-dm-shims/) for the paused domain, detached,
 * and wait until it reports that its ioreq server claims the slots.
 */
static int start_pci_hole(maint_ctx *ctx, uint32_t domid, const maint_hide_spec *hide)
{
    const char *shim = getenv("XMAINT_PCI_HOLE") ? getenv("XMAINT_PCI_HOLE")
                                                 : PKGLIBEXECDIR "/xmaint-pci-hole";
    char *argv[MAINT_HIDE_MAX_PCI + 5], domarg[12], bdfs[MAINT_HIDE_MAX_PCI][12];
    char buf[16] = "";
    int pfd[2], status, n = 0;
    struct pollfd p;
    pid_t pid;
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
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return MAINT_ERROR_FAIL;
    pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return MAINT_ERROR_FAIL;
    }
    if (pid == 0) {
        /* Detach: a new session, and the shim a grandchild nobody waits for. */
        int fd = open("/dev/null", O_RDWR), lfd;
        char logpath[64];

        snprintf(logpath, sizeof(logpath), "/var/log/xen/xmaint-pci-hole-%u.log", domid);
        lfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0640);
        if (lfd >= 0)
            dup2(lfd, 2);
        setsid();
        if (fork() != 0)
            _exit(0);
        if (dup2(pfd[1], 3) < 0)
            _exit(127);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
        }
        signal(SIGPIPE, SIG_DFL);
        execv(shim, argv);
        _exit(127);
    }
    close(pfd[1]);
    /* the intermediate child, ours alone (libxl reaps only its own) */
    if (maint__child_wait(pid, &status) < 0)
        LOGED(ctx->lg, WARN, domid, "waiting for the shim's launcher %ld", (long)pid);
    p.fd = pfd[0];
    p.events = POLLIN;
    if (poll(&p, 1, 15000) == 1 && read(pfd[0], buf, sizeof(buf) - 1) > 0 &&
        !strncmp(buf, "ready", 5)) {
        close(pfd[0]);
        LOGD(ctx->lg, INFO, domid, "PCI-hole shim claims %u slot(s)", hide->nr_pci);
        return MAINT_OK;
    }
    close(pfd[0]);
    LOGD(ctx->lg, ERROR, domid, "the PCI-hole shim (%s) did not start", shim);
    return MAINT_ERROR_FAIL;
}

MAINT_EXPORT int maint_substitute_create(maint_ctx *ctx, uint32_t domid,
                                         const maint_substitute_opts *opts,
                                         unsigned timeout_ms, maint_progress_fn *progress,
                                         void *user, uint32_t *domid_r)
{
    maint__port *port;
    libxl_domain_config cfg;
    maint_substitute_opts eff;
    uint32_t newid = (uint32_t)INVALID_DOMID;
    char *log = NULL;
    int64_t deadline;
    int rc;

    if (!ctx || !opts || !domid_r)
        return MAINT_ERROR_INVAL;
    port = &ctx->port;
#define PROGRESS(stage, pct) do { if (progress) progress(user, stage, pct); } while (0)
    PROGRESS("derive", 0);
    rc = derive(ctx, domid, opts, &cfg, &eff);
    if (rc)
        goto out;
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
    if (opts->console_log)
        log = strdup(opts->console_log);
    else if (cfg.b_info.type == LIBXL_DOMAIN_TYPE_HVM && cfg.b_info.u.hvm.serial &&
             !strncmp(cfg.b_info.u.hvm.serial, "file:", 5))
        log = strdup(cfg.b_info.u.hvm.serial + 5);      /* its serial console */
    else
        log = maint__sprintf("/var/log/xen/console/guest-%s.log", cfg.c_info.name);
    deadline = maint__now_ms() + (timeout_ms ? timeout_ms : 120000);
    for (;;) {
        const char *what;

        if (substitute_ready(ctx, newid, log, opts->ready_pattern))
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
