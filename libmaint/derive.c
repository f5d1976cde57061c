/*
 * Derivation of a substitute's configuration: pure logic on a
 * libxl_domain_config (no hypervisor, no xenstore), unit-tested in
 * tests/unit/test-substitute.c.  Every rejection names the value that was
 * wrong.
 */
#include <libxlutil.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "schema.h"

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

/* max vCPUs, the first online of them online at boot (online <= max) */
static int set_vcpus(libxl_domain_build_info *b, unsigned online, unsigned max)
{
    libxl_bitmap avail;

    libxl_bitmap_init(&avail);
    avail.size = (max + 7) / 8;
    avail.map = calloc(avail.size, 1);
    if (!avail.map)
        return MAINT_ERROR_NOMEM;
    for (unsigned i = 0; i < online; i++)
        avail.map[i / 8] |= (uint8_t)(1u << (i % 8));
    libxl_bitmap_dispose(&b->avail_vcpus);
    b->avail_vcpus = avail;
    b->max_vcpus = (int)max;
    return MAINT_OK;
}

/* The maximum (libxl's default: 1) */
static unsigned vcpus_max(const libxl_domain_build_info *b)
{
    return b->max_vcpus > 0 ? (unsigned)b->max_vcpus : 1;
}

/* vCPUs online at boot (avail_vcpus; all of the maximum when it is empty) */
static unsigned vcpus_online(const libxl_domain_build_info *b)
{
    unsigned n = 0;

    if (!b->avail_vcpus.size)
        return vcpus_max(b);
    for (unsigned i = 0; i < b->avail_vcpus.size * 8; i++)
        n += (b->avail_vcpus.map[i / 8] >> (i % 8)) & 1;
    return n;
}

/* As xl.cfg: vcpus=N is the number online at boot (the maximum grows to it),
 * maxvcpus=N the maximum (those online above it go). */
static int set_vcpus_key(libxl_domain_build_info *b, const char *key, unsigned n)
{
    unsigned online = vcpus_online(b), max = vcpus_max(b);

    if (!strcmp(key, "maxvcpus"))
        return set_vcpus(b, online < n ? online : n, n);
    return set_vcpus(b, n, max > n ? max : n);
}

/* Is the guest address of passthrough device d this BDF? */
bool maint__pci_matches(const libxl_device_pci *d, const maint_bdf *bdf)
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
            rc = set_vcpus_key(&cfg->b_info, key, (unsigned)lval);
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

/* Identity: a new name and UUID (a reconfigured domain keeps its own). */
static int derive_identity(libxl_domain_config *cfg, const char *orig_name,
                           const maint_substitute_opts *opts)
{
    int rc = MAINT_OK;

    if (opts->same_identity)
        return MAINT_OK;
    if (opts->name)
        rc = replace_string(&cfg->c_info.name, opts->name);
    else {
        char *n = maint__sprintf("%s-sub", orig_name ? orig_name : "domain");

        if (!n)
            return MAINT_ERROR_NOMEM;
        free(cfg->c_info.name);
        cfg->c_info.name = n;
    }
    if (rc == MAINT_OK)
        libxl_uuid_generate(&cfg->c_info.uuid);
    return rc;
}

/* Hidden PCI devices: passthrough ones are left out of the config. */
static int derive_hidden_pci(xentoollog_logger *lg, libxl_domain_config *cfg,
                             const char *orig_name, const maint_hide_spec *hide)
{
    for (unsigned i = 0; i < hide->nr_pci; i++) {
        bool found = false;

        for (unsigned j = 0; j < (unsigned)cfg->num_pcidevs; j++) {
            if (maint__pci_matches(&cfg->pcidevs[j], &hide->pci[i])) {
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
    return MAINT_OK;
}

/* One virtual device taken away: "vif:DEVID" or "disk:VDEV". */
static int derive_remove(xentoollog_logger *lg, libxl_domain_config *cfg,
                         const char *orig_name, const char *r)
{
    bool found = false;
    unsigned j;

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
    return MAINT_OK;
}

/* Hidden vCPUs and memory (hvmloader's work) and the size. */
static int derive_size(xentoollog_logger *lg, libxl_domain_config *cfg,
                       const maint_substitute_opts *opts)
{
    const maint_hide_spec *hide = &opts->hide;

    if ((hide->nr_vcpus || hide->nr_mem) && cfg->b_info.type != LIBXL_DOMAIN_TYPE_HVM) {
        LOG(lg, ERROR, "hiding vCPUs or memory needs an HVM domain (hvmloader)");
        return MAINT_ERROR_INVAL;
    }
    for (unsigned i = 0; i < hide->nr_vcpus; i++) {
        if (hide->vcpus[i] >= (unsigned)cfg->b_info.max_vcpus) {
            LOG(lg, ERROR, "cannot hide vCPU %u: the domain has %d", hide->vcpus[i],
                cfg->b_info.max_vcpus);
            return MAINT_ERROR_NOENT;
        }
    }
    if (opts->vcpus) {
        if (opts->vcpus > 128) {
            LOG(lg, ERROR, "%u vCPUs: at most 128", opts->vcpus);
            return MAINT_ERROR_INVAL;
        }
        int rc = set_vcpus(&cfg->b_info, opts->vcpus, opts->vcpus);
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
    return MAINT_OK;
}

/* What it boots, and its disks: two domains must never write one disk (a
 * reconfigured domain takes its disks over from the original, which is
 * gone by then). */
static int derive_boot(xentoollog_logger *lg, libxl_domain_config *cfg,
                       const char *orig_name, const maint_substitute_opts *opts)
{
    int rc = MAINT_OK;

    if ((opts->kernel && (rc = replace_string(&cfg->b_info.kernel, opts->kernel))) ||
        (opts->ramdisk && (rc = replace_string(&cfg->b_info.ramdisk, opts->ramdisk))) ||
        (opts->cmdline && (rc = replace_string(&cfg->b_info.cmdline, opts->cmdline))))
        return rc;
    if (opts->nr_disks)
        return replace_disks(lg, cfg, opts->disks, opts->nr_disks);
    if (opts->same_identity)
        return MAINT_OK;
    for (unsigned i = 0; i < (unsigned)cfg->num_disks; i++) {
        if (!cfg->disks[i].readwrite || cfg->disks[i].is_cdrom)
            continue;
        LOG(lg, ERROR, "disk %s (%s) is writable and in use by '%s': give the "
            "substitute its own disks", cfg->disks[i].vdev ? cfg->disks[i].vdev : "?",
            cfg->disks[i].pdev_path ? cfg->disks[i].pdev_path : "?",
            orig_name ? orig_name : "?");
        return MAINT_ERROR_BUSY;
    }
    return MAINT_OK;
}

/* Network: fresh MACs unless asked to keep them; devices renumbered.  A
 * file-backed serial port must not be shared with the original. */
static int derive_nics_serial(libxl_domain_config *cfg, const char *orig_name,
                              const maint_substitute_opts *opts)
{
    for (unsigned i = 0; i < (unsigned)cfg->num_nics; i++) {
        if (opts->mac == MAINT_MAC_NEW)
            memset(cfg->nics[i].mac, 0, sizeof(cfg->nics[i].mac));
        free(cfg->nics[i].ifname);
        cfg->nics[i].ifname = NULL;
    }
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
    return MAINT_OK;
}

int maint__substitute_derive(xentoollog_logger *lg, libxl_domain_config *cfg,
                             const char *orig_name, const maint_substitute_opts *opts)
{
    unsigned i;
    int rc;

    if ((rc = derive_identity(cfg, orig_name, opts)) ||
        (rc = derive_hidden_pci(lg, cfg, orig_name, &opts->hide)))
        return rc;
    for (i = 0; i < opts->nr_remove; i++)
        if ((rc = derive_remove(lg, cfg, orig_name, opts->remove[i])))
            return rc;
    if ((rc = derive_size(lg, cfg, opts)) || (rc = derive_boot(lg, cfg, orig_name, opts)))
        return rc;
    /* Devices only the substitute gets (hardware addition). */
    if (opts->nr_add && (rc = add_devices(lg, cfg, opts->add, opts->nr_add)))
        return rc;
    if ((rc = derive_nics_serial(cfg, orig_name, opts)))
        return rc;
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
