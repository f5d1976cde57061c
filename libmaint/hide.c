/*
 * The hiding spec: the hardware a domain must not see, parsed strictly,
 * written under its ~/xmaint/hide (read-only for it) and read back.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
