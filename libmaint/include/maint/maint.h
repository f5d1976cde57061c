/*
 * libmaint — online maintenance for Xen hosts: the public C API.
 *
 * Conventions (as in Xen's tools/libs and libxl):
 *  - A maint_ctx is an opaque handle opened with a caller-supplied
 *    xentoollog_logger; every failure is logged once, where it happens.
 *  - Functions returning int return 0 (MAINT_OK) on success or a negative
 *    MAINT_ERROR_* code.  Functions returning a pointer return NULL on failure.
 *  - Out-parameters end in _r.  Every comment says who frees what.
 *  - Every public struct has idempotent _init and _dispose functions.
 *  - No glib types appear in this header.
 */
#ifndef MAINT_MAINT_H
#define MAINT_MAINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xentoollog.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MAINT_API_VERSION 0x000100 /* 0.1.0 */

/* Error codes.  Always negative; 0 is success. */
enum maint_error {
    MAINT_OK = 0,
    MAINT_ERROR_FAIL = -1,        /* unspecified failure (see the log) */
    MAINT_ERROR_INVAL = -2,       /* an argument is invalid */
    MAINT_ERROR_NOMEM = -3,       /* out of memory */
    MAINT_ERROR_NOENT = -4,       /* no such domain, key or object */
    MAINT_ERROR_XENSTORE = -5,    /* xenstore access failed */
    MAINT_ERROR_HYPERVISOR = -6,  /* a libxl/hypervisor call failed */
    MAINT_ERROR_TOOBIG = -7,      /* input or output exceeds a limit */
    MAINT_ERROR_PERM = -8,        /* the caller may not do this */
    MAINT_ERROR_BUSY = -9,        /* the object is in use */
    MAINT_ERROR_TIMEOUT = -10,    /* no answer in time */
    MAINT_ERROR_PROTOCOL = -11,   /* malformed request or response */
    MAINT_ERROR_REMOTE = -12,     /* the daemon answered with an error */
    MAINT_ERROR_UNAVAILABLE = -13 /* the hypervisor is not reachable */
};

/* A static English description of a MAINT_ERROR_* code; never NULL. */
const char *maint_strerror(int rc);

/* ---- Context ----------------------------------------------------------- */

typedef struct maint_ctx maint_ctx;

/* Flags for maint_ctx_open. */
#define MAINT_CTX_NO_LIBXL (1u << 0) /* xenstore only; no hypervisor calls */

/*
 * Open a context: a xenstore connection and (unless MAINT_CTX_NO_LIBXL) a
 * libxl context.  lg may be NULL (messages are dropped); it must outlive the
 * context.  On success *ctx_r holds a context the caller closes with
 * maint_ctx_close().
 */
int maint_ctx_open(maint_ctx **ctx_r, xentoollog_logger *lg, unsigned flags);

/* Close a context and free it.  NULL is allowed. */
void maint_ctx_close(maint_ctx *ctx);

/* The library's version string, e.g. "0.1.0".  Static. */
const char *maint_version(void);

/* ---- Domains ----------------------------------------------------------- */

typedef enum maint_domain_type {
    MAINT_DOMAIN_TYPE_UNKNOWN = 0,
    MAINT_DOMAIN_TYPE_PV,
    MAINT_DOMAIN_TYPE_PVH,
    MAINT_DOMAIN_TYPE_HVM
} maint_domain_type;

typedef enum maint_domain_state {
    MAINT_DOMAIN_STATE_UNKNOWN = 0,
    MAINT_DOMAIN_STATE_RUNNING,
    MAINT_DOMAIN_STATE_BLOCKED,
    MAINT_DOMAIN_STATE_PAUSED,
    MAINT_DOMAIN_STATE_SHUTDOWN,
    MAINT_DOMAIN_STATE_CRASHED,
    MAINT_DOMAIN_STATE_DYING
} maint_domain_state;

/* Static lowercase names ("pv", "running", ...); never NULL. */
const char *maint_domain_type_name(maint_domain_type t);
const char *maint_domain_state_name(maint_domain_state s);

#define MAINT_UUID_STRLEN 36

typedef struct maint_domain_info {
    uint32_t domid;
    char *name;                           /* malloc'd; NULL if unnamed */
    char uuid[MAINT_UUID_STRLEN + 1];
    maint_domain_state state;
    maint_domain_type type;
    uint64_t mem_target_kb;               /* balloon target */
    uint64_t mem_actual_kb;               /* pages currently held */
    uint64_t mem_max_kb;                  /* static maximum */
    unsigned vcpus_online;
    unsigned vcpus_max;
    uint64_t cpu_time_ns;
} maint_domain_info;

void maint_domain_info_init(maint_domain_info *info);
void maint_domain_info_dispose(maint_domain_info *info);

/*
 * List the domains on this host, in domid order.  On success *list_r is a
 * malloc'd array of *nr_r entries: free it with maint_domain_list_free().
 */
int maint_domain_list(maint_ctx *ctx, maint_domain_info **list_r, int *nr_r);
void maint_domain_list_free(maint_domain_info *list, int nr);

/* One domain's information.  Dispose of *info_r with maint_domain_info_dispose. */
int maint_domain_info_get(maint_ctx *ctx, uint32_t domid, maint_domain_info *info_r);

/* Resolve a domain given by name or numeric id. */
int maint_domain_lookup(maint_ctx *ctx, const char *name_or_id, uint32_t *domid_r);

/*
 * A running domain's live configuration, as libxl retrieves it
 * (libxl_retrieve_domain_configuration), in libxl's own JSON form.
 * *json_r is malloc'd: call free().
 */
int maint_domain_config_json(maint_ctx *ctx, uint32_t domid, char **json_r);

/* JSON for a domain list (an array of objects).  malloc'd: call free(). */
char *maint_domain_list_to_json(const maint_domain_info *list, int nr);

/* ---- Host -------------------------------------------------------------- */

typedef struct maint_cpu_topo {
    uint32_t core, socket, node;          /* UINT32_MAX: not present */
} maint_cpu_topo;

typedef struct maint_numa_node {
    uint64_t size_kb, free_kb;
} maint_numa_node;

typedef struct maint_host_info {
    char *xen_version;            /* malloc'd, e.g. "4.17.5" */
    char *host_id;                /* malloc'd; the identity xmaintd publishes */
    char *cpu_signature;          /* malloc'd; vendor/family/model/features digest */
    unsigned nr_cpus;
    unsigned threads_per_core;
    unsigned cores_per_socket;
    unsigned nr_nodes;
    unsigned cpu_khz;
    uint64_t total_kb;
    uint64_t free_kb;
    bool hvm, hap, pv;            /* virt capabilities */
    maint_cpu_topo *cpus;         /* nr_cpus entries, malloc'd */
    maint_numa_node *nodes;       /* nr_nodes entries, malloc'd */
} maint_host_info;

void maint_host_info_init(maint_host_info *info);
void maint_host_info_dispose(maint_host_info *info);

/* Physical host information (physinfo, CPU topology, NUMA, version). */
int maint_host_info_get(maint_ctx *ctx, maint_host_info *info_r);

/* JSON for host information.  malloc'd: call free(). */
char *maint_host_info_to_json(const maint_host_info *info);

/* ---- Requests to xmaintd through xenstore ------------------------------ */

/* Limits of the xenstore request protocol (xenstore-schema/). */
#define MAINT_REQUEST_MAX 4000        /* bytes of one request value */
#define MAINT_REQUEST_ID_MAX 32       /* characters of a request id */
#define MAINT_OP_MAX 32               /* characters of an operation name */

/*
 * Send a request to xmaintd and wait for its answer.
 * op: operation name ("ping", "list", "host-info", ...).
 * args_json: a JSON object with the arguments, or NULL.
 * timeout_ms: how long to wait for the answer (0: 10 s).
 * On MAINT_OK, *result_json_r holds the result (malloc'd: call free()).
 * On MAINT_ERROR_REMOTE, *error_r (if not NULL) holds the daemon's error
 * text (malloc'd: call free()).  Either out-parameter may be NULL.
 */
int maint_request(maint_ctx *ctx, const char *op, const char *args_json,
                  unsigned timeout_ms, char **result_json_r, char **error_r);

/* ---- Hiding spec: hardware a domain must not see ------------------------- */

#define MAINT_HIDE_MAX_PCI 16
#define MAINT_HIDE_MAX_VCPUS 128
#define MAINT_HIDE_MAX_MEM 8

typedef struct maint_bdf {
    uint8_t bus, dev, fn;                 /* segment 0; dev < 32, fn < 8 */
} maint_bdf;

typedef struct maint_mem_range {
    uint64_t start, end;                  /* guest-physical, inclusive */
} maint_mem_range;

typedef struct maint_hide_spec {
    maint_bdf pci[MAINT_HIDE_MAX_PCI];
    unsigned nr_pci;
    uint32_t vcpus[MAINT_HIDE_MAX_VCPUS];
    unsigned nr_vcpus;
    maint_mem_range mem[MAINT_HIDE_MAX_MEM];
    unsigned nr_mem;
} maint_hide_spec;

void maint_hide_spec_init(maint_hide_spec *spec);
void maint_hide_spec_dispose(maint_hide_spec *spec);

/*
 * Add one item, parsed strictly: a BDF "BB:DD.F" (hex; "0000:" prefix
 * allowed), a vCPU id (never 0), a range "START-END" (hex, page aligned).
 * MAINT_ERROR_INVAL for a malformed item, MAINT_ERROR_TOOBIG when the spec
 * is full; duplicates are ignored.
 */
int maint_hide_spec_add_pci(maint_hide_spec *spec, const char *bdf);
int maint_hide_spec_add_vcpu(maint_hide_spec *spec, unsigned vcpu);
int maint_hide_spec_add_mem(maint_hide_spec *spec, const char *range);

/*
 * Write the spec under the domain's ~/xmaint/hide (xenstore-schema/), owned
 * by dom0 and read-only for the domain: hvmloader reads it at boot.
 */
int maint_hide_spec_write(maint_ctx *ctx, uint32_t domid, const maint_hide_spec *spec);

/* ---- Substitute domains ---------------------------------------------------- */

typedef enum maint_mac_policy {
    MAINT_MAC_NEW = 0,                    /* fresh MACs (default) */
    MAINT_MAC_KEEP                        /* the original's MACs */
} maint_mac_policy;

typedef struct maint_substitute_opts {
    const char *name;                     /* default: "<original>-sub" */
    maint_hide_spec hide;
    unsigned vcpus;                       /* 0: keep */
    uint64_t memory_kb;                   /* 0: keep */
    const char *kernel, *ramdisk, *cmdline; /* NULL: keep */
    const char *const *disks;             /* xl disk specs replacing the disks */
    unsigned nr_disks;
    maint_mac_policy mac;
    const char *const *sets;              /* xl.cfg "KEY=VALUE" overrides */
    unsigned nr_sets;
    const char *firmware;                 /* HVM: hvmloader to boot (firmware_override) */
    const char *const *remove;            /* devices taken away: "vif:DEVID", "disk:VDEV" */
    unsigned nr_remove;
    bool same_identity;                   /* reconfigure: keep name, UUID, MACs, disks */
    const char *const *add;               /* devices only it gets: "vif:bridge=BR", "disk:SPEC" */
    unsigned nr_add;
    const char *ready_pattern;            /* readiness: text on the console log */
    const char *console_log;              /* default /var/log/xen/console/guest-NAME.log */
} maint_substitute_opts;

void maint_substitute_opts_init(maint_substitute_opts *opts);

/*
 * The substitute's configuration derived from domain domid's live
 * configuration and opts, in libxl's JSON form, without creating anything.
 * *json_r is malloc'd: call free().  Errors name what is wrong (logged).
 */
int maint_substitute_config_json(maint_ctx *ctx, uint32_t domid,
                                 const maint_substitute_opts *opts, char **json_r);

/* Progress of a long operation: stage name and percent (0-100). */
typedef void maint_progress_fn(void *user, const char *stage, int percent);

/*
 * Create the substitute: derive, create paused, write the hiding spec,
 * unpause, wait (up to timeout_ms) until it reports ready.  On any failure
 * the substitute is destroyed: nothing is left behind.  *domid_r receives
 * the new domain's id.
 */
int maint_substitute_create(maint_ctx *ctx, uint32_t domid,
                            const maint_substitute_opts *opts, unsigned timeout_ms,
                            maint_progress_fn *progress, void *user,
                            uint32_t *domid_r);

/* ---- The guest agent ---------------------------------------------------- */

#define MAINT_APP_NAME_MAX   32
#define MAINT_APP_MAX_STATE  8

typedef enum maint_app_mode {
    MAINT_APP_REDIRECT,       /* an instance in the target takes the request stream */
    MAINT_APP_STATE,          /* stop, copy the state, start on the target */
    MAINT_APP_CHECKPOINT      /* CRIU checkpoint, copy the images, restore */
} maint_app_mode;

/* An application a guest agent announces (read from the guest: validated). */
typedef struct maint_app {
    char name[MAINT_APP_NAME_MAX + 1];
    maint_app_mode mode;
    unsigned port;            /* redirect: the TCP port it serves */
    unsigned nr_state;        /* state paths it declares */
    char status[16];          /* "running", "stopped", "exited", "failed", "unknown" */
} maint_app;

/* 1-32 letters, digits, '-' or '_'. */
bool maint_app_name_valid(const char *name);

/* The applications domain domid's agent announces; *apps_r is malloc'd
 * (free()).  Entries that fail validation are left out (and logged). */
int maint_agent_apps(maint_ctx *ctx, uint32_t domid, maint_app **apps_r, unsigned *nr_r);
int maint_agent_app_status(maint_ctx *ctx, uint32_t domid, const char *app,
                           char *buf, size_t size);
/* The guest's IPv4 address as its agent reports it (MAINT_ERROR_NOENT: none). */
int maint_agent_addr(maint_ctx *ctx, uint32_t domid, char *buf, size_t size);
/* Wait until the agent says ready (MAINT_ERROR_NOENT: the domain went away). */
int maint_agent_wait_ready(maint_ctx *ctx, uint32_t domid, unsigned timeout_ms);
/*
 * Commands (xenstore-schema: ~/xmaint/control): send one JSON command, wait
 * for its answer.  MAINT_ERROR_REMOTE: the agent refused; *error_r (malloc'd,
 * or NULL) says why.  The command and its answer are removed afterwards.
 */
int maint_agent_command(maint_ctx *ctx, uint32_t domid, const char *json,
                        unsigned timeout_ms, char **error_r);
/* The same in two halves, for commands that run side by side.  seq_r gets
 * the command's number (at least 21 bytes). */
int maint_agent_command_send(maint_ctx *ctx, uint32_t domid, const char *json,
                             char *seq_r, size_t seq_size);
int maint_agent_command_wait(maint_ctx *ctx, uint32_t domid, const char *seq,
                             unsigned timeout_ms, char **error_r);

/*
 * Create and start a domain from a configuration in libxl's JSON form (what
 * maint_substitute_config_json prints); it is left running.  role (or NULL)
 * is written to its ~/xmaint/role before it runs ("reconfigured": its agent
 * starts no application by itself).  With ready_timeout_ms, wait until its
 * agent says ready.  Destroyed on failure.
 */
int maint_domain_create_json(maint_ctx *ctx, const char *json, const char *role,
                             unsigned ready_timeout_ms, uint32_t *domid_r);

/* Ask a domain to shut down cleanly; wait up to timeout_ms for it to go,
 * then destroy it.  Its disks are left alone. */
int maint_domain_retire(maint_ctx *ctx, uint32_t domid, unsigned timeout_ms);

/* ---- The daemon --------------------------------------------------------- */

typedef struct maint_daemon_status {
    bool answering;               /* answered a ping within the timeout */
    char *state;                  /* malloc'd: "running", "stopped", or NULL */
    char *version;                /* malloc'd, or NULL */
    long pid;                     /* 0 if unknown */
    char *host_id;                /* malloc'd, or NULL */
} maint_daemon_status;

void maint_daemon_status_init(maint_daemon_status *st);
void maint_daemon_status_dispose(maint_daemon_status *st);

/*
 * What xmaintd published about itself, and whether it answers a ping within
 * timeout_ms (0: 2 s).  Returns MAINT_OK even when the daemon is not running
 * (st_r->answering is false then); dispose of *st_r in every case.
 */
int maint_daemon_status_get(maint_ctx *ctx, unsigned timeout_ms,
                            maint_daemon_status *st_r);

#ifdef __cplusplus
}
#endif

#endif /* MAINT_MAINT_H */
