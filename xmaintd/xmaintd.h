/*
 * xmaintd: the dom0 maintenance daemon.  All state lives in one struct xmd;
 * setup is a sequence of stages and teardown undoes exactly the stages
 * reached, in reverse.
 */
#ifndef XMAINTD_H
#define XMAINTD_H

#include <glib.h>
#include <libxl.h>

#include "internal.h"

#define XMD_ERROR xmd_error_quark()
GQuark xmd_error_quark(void);

typedef struct xmd_domain {
    uint32_t domid;
    char *name;                        /* for logs; may be NULL */
    bool watching;                     /* request dir watched */
    libxl_evgen_domain_death *deathw;  /* libxl death events, or NULL */
    GHashTable *removed;               /* request ids we removed ourselves */
    unsigned responses_since_gc;
} xmd_domain;

typedef struct xmd {
    /* options */
    gboolean foreground;
    gchar *pidfile;
    gchar *state_dir;
    gchar *log_file;
    gboolean verbose;

    /* stages */
    int pidfile_fd;
    xentoollog_logger *xtl;
    maint_ctx *ctx;                    /* the library context: xenstore + libxl */
    libxl_ctx *lx;                     /* NULL when the hypervisor is unavailable */
    guint xs_source;
    GMainLoop *loop;
    guint sig_term, sig_int, sig_hup;

    /* state */
    char *host_id;
    char *cpu_signature;
    GHashTable *domains;               /* domid -> xmd_domain* */
    unsigned long requests_served;
} xmd;

/* domains.c */
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
void xmd_libxl_hooks_register(xmd *d);
void xmd_domain_death_enable(xmd *d, xmd_domain *dom);
void xmd_domain_death_disable(xmd *d, xmd_domain *dom);

#endif
