/*
 * libmaint — online maintenance for Xen hosts: the public C API.
 *
 * Conventions (as in Xen's tools/libs and libxl):
 *  - A maint_ctx is an opaque handle opened with a caller-supplied
 *    xentoollog_logger; every failure is logged once, where it happens.
 *  - Functions returning int return 0 (MAINT_OK) on success or a negative
 *    MAINT_ERROR_* code.  Functions returning a pointer return NULL on failure.
 *  - Out-parameters end in _r.  Every comment says who frees what.
 *  - Every public struct has idempotent _init and _dispose functions; the
 *    opaque objects (options, results, watches) have _new/_free (or
 *    _open/_close), and gain fields through new accessors, never a new layout.
 *  - Counts are `unsigned` throughout.
 *  - No glib types appear in this header.
 *
 * Thread safety, per object (as libxenstore states it):
 *  - maint_ctx: one thread at a time.  Threads that call libmaint at the same
 *    time open a context each (requests of different contexts never mix).
 *  - option and result objects (maint_workflow_opts, maint_workflow_info,
 *    maint_service_info, maint_standby_opts, maint_standby_table): no
 *    internal locking; any number of threads may read one that nobody
 *    modifies or frees.
 *  - maint_workflow_watch: one thread at a time, except
 *    maint_workflow_watch_cancel(), which any thread (or a signal handler)
 *    may call at any time before maint_workflow_watch_close().
 *  - functions without an object (maint_strerror, the _name functions) are
 *    safe from any thread.
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

/*
 * The API version: 0xMMmmpp.  A program that needs an interface compares it
 * (#if MAINT_API_VERSION >= 0x000200), or tests one feature macro, as with
 * libxl's LIBXL_HAVE_*.  Each MAINT_HAVE_* names the API it guards.
 *   0x000100  domains, host, requests, substitutes, the agent
 *   0x000200  typed workflows, services and standby pairs; workflow events
 *             with an fd and cancellation; unsigned counts (soname 1)
 *   0x000201  maint_substitute_create_uuid
 *
 * ABI: the objects of the typed API (workflow, service and standby options
 * and results) are opaque, with accessors: they gain members without
 * breaking a program.  The structs of 0x000100 that a caller declares
 * (domain and host information, the hiding spec, substitute options,
 * application entries) follow libxl's rule for its IDL structs: always
 * through their _init/_dispose, a member added only at the end, with a
 * soname bump and a MAINT_HAVE_* macro.
 */
#define MAINT_API_VERSION 0x000201 /* 0.2.1 */

/* maint_workflow_*: start (typed options per kind), get, list, abort. */
#define MAINT_HAVE_WORKFLOW_API 1
/* maint_workflow_watch_*: progress events through a pollable fd, cancel. */
#define MAINT_HAVE_WORKFLOW_EVENTS 1
/* maint_service_*: service addresses. */
#define MAINT_HAVE_SERVICE_API 1
/* maint_standby_*: hot-standby pairs. */
#define MAINT_HAVE_STANDBY_API 1
/* maint_substitute_opts_dispose(). */
#define MAINT_HAVE_SUBSTITUTE_OPTS_DISPOSE 1
/* maint_substitute_create_uuid(): the caller chooses the UUID. */
#define MAINT_HAVE_SUBSTITUTE_UUID 1
/* MAINT_ERROR_CANCELLED. */
#define MAINT_HAVE_ERROR_CANCELLED 1
/* maint_ctx_set_path(), maint_ctx_set_reap_wait(): the caller's policy. */
#define MAINT_HAVE_CTX_SETTINGS 1

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
    MAINT_ERROR_UNAVAILABLE = -13, /* the hypervisor is not reachable */
    MAINT_ERROR_CANCELLED = -14   /* a wait was cancelled (maint_workflow_watch_cancel) */
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

/*
 * Policy the caller gives a context (the library reads no environment and
 * decides no paths of its own beyond these defaults).  Set them before the
 * context is shared with other threads.
 */
typedef enum maint_ctx_path {
    MAINT_PATH_PCI_HOLE_SHIM = 0, /* the PCI-hole shim HVM substitutes get
                                     (default: the installed one, in
                                     pkglibexecdir) */
    MAINT_PATH_LOG_DIR,           /* the shim's log, DIR/xmaint-pci-hole-DOMID.log
                                     (default: /var/log/xen) */
    MAINT_PATH_CONSOLE_LOG_DIR    /* guests' console logs, DIR/guest-NAME.log, where
                                     readiness is looked for (default:
                                     /var/log/xen/console) */
} maint_ctx_path;

/* Set one path: absolute, at most 1024 bytes, no control characters;
 * NULL: back to the default.  MAINT_ERROR_INVAL otherwise. */
int maint_ctx_set_path(maint_ctx *ctx, maint_ctx_path which, const char *path);

/* How long maint_domain_retire lets the domain's own toolstack reap a domain
 * that shut down before it destroys it (default 10000 ms; at most 600000). */
int maint_ctx_set_reap_wait(maint_ctx *ctx, unsigned ms);

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
int maint_domain_list(maint_ctx *ctx, maint_domain_info **list_r, unsigned *nr_r);
void maint_domain_list_free(maint_domain_info *list, unsigned nr);

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
char *maint_domain_list_to_json(const maint_domain_info *list, unsigned nr);

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
/* Dispose of opts (its hiding spec; the strings stay the caller's) and
 * initialise it again.  Idempotent; NULL is allowed. */
void maint_substitute_opts_dispose(maint_substitute_opts *opts);

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

/*
 * The same, the substitute taking the UUID the caller chose (the canonical
 * text form): a caller that records it before calling knows its own domain
 * after a crash, whatever state the domain was left in -- half built,
 * paused, dying -- even before it had a name.  MAINT_ERROR_INVAL for a
 * malformed uuid.
 */
int maint_substitute_create_uuid(maint_ctx *ctx, uint32_t domid,
                                 const maint_substitute_opts *opts, const char *uuid,
                                 unsigned timeout_ms, maint_progress_fn *progress, void *user,
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

/* ---- Workflows (typed; xmaintd runs them) -------------------------------- */

/*
 * Every call below speaks the xenstore request protocol to xmaintd (see
 * maint_request) and parses the answer strictly: a field of the wrong type,
 * or a missing id, is MAINT_ERROR_PROTOCOL.  Fields this library does not
 * know are ignored (a newer xmaintd may add some).  timeout_ms 0 means 10 s.
 * error_r, where a call has it, may be NULL; otherwise on
 * MAINT_ERROR_INVAL (refused here, before anything is sent) and
 * MAINT_ERROR_REMOTE (refused by xmaintd) it receives the reason, naming
 * the key at fault (malloc'd: call free()), and NULL on every other result.
 * A refusal is reported once: to the caller through error_r, or (error_r
 * NULL) to the logger.
 */

typedef enum maint_workflow_kind {
    MAINT_WORKFLOW_UNKNOWN = 0,
    MAINT_WORKFLOW_HW_REMOVE,     /* take devices away: hide_pci, remove */
    MAINT_WORKFLOW_HW_ADD,        /* give devices: add */
    MAINT_WORKFLOW_OS_UPGRADE,    /* a new system: kernel, ramdisk, cmdline or disk */
    MAINT_WORKFLOW_OS_PATCH,      /* patch the system in a substitute: patch */
    MAINT_WORKFLOW_APP_MAINT,     /* change the applications in a substitute: change */
    MAINT_WORKFLOW_RECONFIGURE    /* restart the domain reconfigured: set */
} maint_workflow_kind;

/* "hw-remove", ...; NULL for MAINT_WORKFLOW_UNKNOWN.  Static. */
const char *maint_workflow_kind_name(maint_workflow_kind kind);
/* The kind named name, or MAINT_WORKFLOW_UNKNOWN. */
maint_workflow_kind maint_workflow_kind_from_name(const char *name);

typedef enum maint_workflow_state {
    MAINT_WORKFLOW_STATE_UNKNOWN = 0,  /* a state this library does not know */
    MAINT_WORKFLOW_STATE_RUNNING,
    MAINT_WORKFLOW_STATE_ROLLING_BACK,
    MAINT_WORKFLOW_STATE_DONE,         /* ended: finished */
    MAINT_WORKFLOW_STATE_FAILED,       /* ended: failed */
    MAINT_WORKFLOW_STATE_ROLLED_BACK   /* ended: undone (failure or abort) */
} maint_workflow_state;

/* "running", "rolling-back", "done", "failed", "rolled-back", "unknown". */
const char *maint_workflow_state_name(maint_workflow_state state);
/* Has a workflow in this state ended (done, failed, rolled back)? */
bool maint_workflow_state_ended(maint_workflow_state state);

/*
 * Options of one workflow: a kind and the domain it maintains, then what
 * that kind takes.  A setter refuses (MAINT_ERROR_INVAL) a value out of its
 * range and an option the kind does not take; the reason, naming the
 * option's key as xmaintd names it ("drain_ms", "patch", ...), is then
 * maint_workflow_opts_error(opts).  Lists (hide_pci, remove, add, disk, set)
 * grow by one per call.
 */
typedef struct maint_workflow_opts maint_workflow_opts;

/* *opts_r: free with maint_workflow_opts_free().  domain: a name or an id. */
int maint_workflow_opts_new(maint_workflow_opts **opts_r, maint_workflow_kind kind,
                            const char *domain);
void maint_workflow_opts_free(maint_workflow_opts *opts);  /* NULL allowed */
/* The last refusal of a setter, or NULL.  Owned by opts. */
const char *maint_workflow_opts_error(const maint_workflow_opts *opts);

/* Every kind (the substitute: its name, what it boots, its configuration): */
int maint_workflow_opts_set_substitute(maint_workflow_opts *opts, const char *name);
int maint_workflow_opts_set_kernel(maint_workflow_opts *opts, const char *path);
int maint_workflow_opts_set_ramdisk(maint_workflow_opts *opts, const char *path);
int maint_workflow_opts_set_cmdline(maint_workflow_opts *opts, const char *cmdline);
int maint_workflow_opts_set_firmware(maint_workflow_opts *opts, const char *path);
int maint_workflow_opts_add_disk(maint_workflow_opts *opts, const char *spec); /* xl disk spec */
/* An xl.cfg KEY=VALUE for the substitute (reconfigure: the domain's new
 * configuration). */
int maint_workflow_opts_add_set(maint_workflow_opts *opts, const char *key_value);
int maint_workflow_opts_set_vcpus(maint_workflow_opts *opts, unsigned vcpus); /* 1-4096 */
int maint_workflow_opts_set_memory_kb(maint_workflow_opts *opts, uint64_t kb);
int maint_workflow_opts_set_drain_ms(maint_workflow_opts *opts, unsigned ms); /* 0-600000 */
int maint_workflow_opts_set_timeout_ms(maint_workflow_opts *opts, unsigned ms); /* 1000-3600000 */
/* hw-remove only: */
int maint_workflow_opts_add_hide_pci(maint_workflow_opts *opts, const char *bdf);
int maint_workflow_opts_add_remove(maint_workflow_opts *opts, const char *dev); /* vif:N, disk:VDEV */
/* hw-add only: */
int maint_workflow_opts_add_add(maint_workflow_opts *opts, const char *dev); /* vif:..., disk:SPEC */
/* os-patch only: */
int maint_workflow_opts_set_patch(maint_workflow_opts *opts, const char *command);
/* app-maint only: */
int maint_workflow_opts_set_change(maint_workflow_opts *opts, const char *command);

/*
 * Start a workflow.  The options are checked against what the kind needs
 * (hw-remove: a device; os-patch: a patch; ...) and against the request's
 * schema before anything is sent.  On MAINT_OK *id_r is the new workflow's
 * id (malloc'd: call free()); it runs on in xmaintd.
 */
int maint_workflow_start(maint_ctx *ctx, const maint_workflow_opts *opts,
                         unsigned timeout_ms, char **id_r, char **error_r);

/* Ask xmaintd to roll workflow id back at its next step. */
int maint_workflow_abort(maint_ctx *ctx, const char *id, unsigned timeout_ms,
                         char **error_r);

/* One workflow's state, as xmaintd reports it (a snapshot). */
typedef struct maint_workflow_info maint_workflow_info;

/* Strings are owned by info (valid until it is freed); never NULL except
 * where said. */
const char *maint_workflow_info_id(const maint_workflow_info *info);
maint_workflow_kind maint_workflow_info_kind(const maint_workflow_info *info);
const char *maint_workflow_info_kind_name(const maint_workflow_info *info); /* as sent */
const char *maint_workflow_info_domain(const maint_workflow_info *info);
const char *maint_workflow_info_substitute(const maint_workflow_info *info); /* NULL: none */
maint_workflow_state maint_workflow_info_state(const maint_workflow_info *info);
const char *maint_workflow_info_state_name(const maint_workflow_info *info); /* as sent */
const char *maint_workflow_info_step(const maint_workflow_info *info); /* NULL: none yet */
const char *maint_workflow_info_message(const maint_workflow_info *info); /* "" if none */
unsigned maint_workflow_info_nr_steps(const maint_workflow_info *info);
/* Step i (< nr_steps): its name, and whether it has finished. */
const char *maint_workflow_info_step_name(const maint_workflow_info *info, unsigned i);
bool maint_workflow_info_step_done(const maint_workflow_info *info, unsigned i);
/* Finished steps in percent of all (0-100), or -1 when it has no steps. */
int maint_workflow_info_percent(const maint_workflow_info *info);
/* The workflow as xmaintd wrote it, in JSON.  malloc'd: call free(). */
char *maint_workflow_info_to_json(const maint_workflow_info *info);
void maint_workflow_info_free(maint_workflow_info *info);        /* NULL allowed */

/*
 * Every workflow xmaintd knows, oldest first.  *list_r: an array of *nr_r
 * objects; free it with maint_workflow_info_list_free().
 */
int maint_workflow_list(maint_ctx *ctx, unsigned timeout_ms,
                        maint_workflow_info ***list_r, unsigned *nr_r);
void maint_workflow_info_list_free(maint_workflow_info **list, unsigned nr);
/* The list in JSON, as xmaintd answers workflow-list.  malloc'd. */
char *maint_workflow_info_list_to_json(maint_workflow_info *const *list, unsigned nr);

/* One workflow (from the list): MAINT_ERROR_NOENT when xmaintd has none
 * with that id.  *info_r: free with maint_workflow_info_free(). */
int maint_workflow_get(maint_ctx *ctx, const char *id, unsigned timeout_ms,
                       maint_workflow_info **info_r);

/* ---- Workflow events: progress through an fd ----------------------------- */

/*
 * xmaintd rewrites a workflow's published state at every step
 * (xenstore-schema: /local/domain/0/xmaint/workflow/$ID).  A watch follows
 * workflows over its own xenstore connection and hands out one fd that
 * becomes readable when events may be pending; it works while xmaintd is
 * down or restarting (the state resumes with the daemon).
 *
 * In a caller's own loop:
 *
 *     maint_workflow_watch_open(ctx, &w);
 *     maint_workflow_watch_add(w, id);
 *     struct pollfd p = { maint_workflow_watch_fd(w), POLLIN };
 *     while (poll(&p, 1, -1) >= 0)
 *         while ((rc = maint_workflow_watch_read(w, &ev)) == MAINT_OK) {
 *             ... maint_workflow_info_state(ev) ...
 *             maint_workflow_info_free(ev);
 *         }       // MAINT_ERROR_NOENT: none pending now
 *
 * An event is a maint_workflow_info snapshot.  Per workflow, events come in
 * the order of the states xmaintd published and never repeat one; a state
 * rewritten faster than the caller reads may be passed over (the latest is
 * always delivered).  The first event after maint_workflow_watch_add is the
 * workflow's state at that time (if it is published).
 */
typedef struct maint_workflow_watch maint_workflow_watch;

/* *w_r: close with maint_workflow_watch_close().  ctx gives the logger and
 * must outlive the watch; the watch does not otherwise use ctx. */
int maint_workflow_watch_open(maint_ctx *ctx, maint_workflow_watch **w_r);
void maint_workflow_watch_close(maint_workflow_watch *w);   /* NULL allowed */
/* Follow workflow id: 1-128 characters of [A-Za-z0-9_.-] (MAINT_ERROR_INVAL
 * otherwise), at most 64 per watch (MAINT_ERROR_TOOBIG). */
int maint_workflow_watch_add(maint_workflow_watch *w, const char *id);
/* The fd to poll for POLLIN.  Owned by w: do not read or close it. */
int maint_workflow_watch_fd(const maint_workflow_watch *w);
/*
 * Without blocking: MAINT_OK with the next event in *ev_r (free with
 * maint_workflow_info_free()), MAINT_ERROR_NOENT when none is pending,
 * MAINT_ERROR_CANCELLED once after maint_workflow_watch_cancel(),
 * MAINT_ERROR_PROTOCOL for a published state that does not parse (logged;
 * the next good one is delivered), or another MAINT_ERROR_* code.
 */
int maint_workflow_watch_read(maint_workflow_watch *w, maint_workflow_info **ev_r);
/*
 * Make the wait under way (or the next read or wait) return
 * MAINT_ERROR_CANCELLED promptly; the fd turns readable.  Safe from any
 * thread and from a signal handler.  One cancel is consumed by one return.
 */
void maint_workflow_watch_cancel(maint_workflow_watch *w);

/* Called for each event of a blocking wait; ev is freed after it returns. */
typedef void maint_workflow_event_fn(void *user, const maint_workflow_info *ev);

/*
 * Block until workflow id (followed by w: maint_workflow_watch_add is done
 * here if it was not) has ended, calling fn (may be NULL) for each of its
 * events.  timeout_ms 0: no deadline.  MAINT_OK when it ended (*state_r, if
 * not NULL, its final state), MAINT_ERROR_TIMEOUT when the deadline passed
 * first, MAINT_ERROR_CANCELLED, MAINT_ERROR_NOENT when the workflow is not
 * published (or vanished): xmaintd publishes a workflow it resumes after a
 * restart when its worker first reports, and forgets ended ones after its
 * retention time; maint_workflow_get() tells whether it knows the id.
 * Events of other workflows followed by w are dropped.
 */
int maint_workflow_wait(maint_workflow_watch *w, const char *id, unsigned timeout_ms,
                        maint_workflow_event_fn *fn, void *user,
                        maint_workflow_state *state_r);

/* ---- Service addresses -------------------------------------------------- */

/* A service address: traffic to vip:port goes to the domain serving app. */
typedef struct maint_service_info maint_service_info;

const char *maint_service_info_app(const maint_service_info *s);
const char *maint_service_info_vip(const maint_service_info *s);
unsigned maint_service_info_port(const maint_service_info *s);
const char *maint_service_info_domain(const maint_service_info *s);
/* Where the traffic goes now (the agent's address); NULL if unknown. */
const char *maint_service_info_addr(const maint_service_info *s);
void maint_service_info_list_free(maint_service_info **list, unsigned nr);
/* The list in JSON, as xmaintd answers service-list.  malloc'd. */
char *maint_service_info_list_to_json(maint_service_info *const *list, unsigned nr);

/* The services xmaintd keeps.  *list_r: maint_service_info_list_free(). */
int maint_service_list(maint_ctx *ctx, unsigned timeout_ms,
                       maint_service_info ***list_r, unsigned *nr_r);
/*
 * Add a service (app: an application name, vip: IPv4, port 1-65535) served
 * by domain (a name).  list_r/nr_r (both NULL, or both not) receive the
 * services afterwards.
 */
int maint_service_add(maint_ctx *ctx, const char *app, const char *vip, unsigned port,
                      const char *domain, unsigned timeout_ms,
                      maint_service_info ***list_r, unsigned *nr_r, char **error_r);
int maint_service_remove(maint_ctx *ctx, const char *app, unsigned timeout_ms,
                         maint_service_info ***list_r, unsigned *nr_r, char **error_r);

/* ---- Hot-standby pairs --------------------------------------------------- */

/* Options of a pair; defaults: standby minimum 64 MiB, reserve 256 MiB,
 * stall 15 s.  Setters refuse out-of-range values (MAINT_ERROR_INVAL). */
typedef struct maint_standby_opts maint_standby_opts;

int maint_standby_opts_new(maint_standby_opts **opts_r);
void maint_standby_opts_free(maint_standby_opts *opts);      /* NULL allowed */
/* The standby's memory while it waits: 16 MiB - 1 PiB. */
int maint_standby_opts_set_standby_min_kb(maint_standby_opts *opts, uint64_t kb);
/* Host memory kept for failovers (the first pair sets it): 0 - 1 PiB. */
int maint_standby_opts_set_reserve_kb(maint_standby_opts *opts, uint64_t kb);
/* An active whose heartbeat stops this long has failed: 3-3600 s. */
int maint_standby_opts_set_stall_s(maint_standby_opts *opts, unsigned s);

/* The resource table: the pairs and the protected areas. */
typedef struct maint_standby_table maint_standby_table;

uint64_t maint_standby_table_free_kb(const maint_standby_table *t);
uint64_t maint_standby_table_reserve_kb(const maint_standby_table *t);
unsigned maint_standby_table_nr_pairs(const maint_standby_table *t);
/* Pair i (< nr_pairs).  Names: NULL when xmaintd gave none. */
uint32_t maint_standby_pair_active(const maint_standby_table *t, unsigned i);
const char *maint_standby_pair_active_name(const maint_standby_table *t, unsigned i);
uint32_t maint_standby_pair_standby(const maint_standby_table *t, unsigned i);
const char *maint_standby_pair_standby_name(const maint_standby_table *t, unsigned i);
uint64_t maint_standby_pair_active_target_kb(const maint_standby_table *t, unsigned i);
uint64_t maint_standby_pair_standby_target_kb(const maint_standby_table *t, unsigned i);
uint64_t maint_standby_pair_standby_min_kb(const maint_standby_table *t, unsigned i);
bool maint_standby_pair_failed_over(const maint_standby_table *t, unsigned i);
unsigned maint_standby_table_nr_areas(const maint_standby_table *t);
/* Area i (< nr_areas): a protected application's memory. */
const char *maint_standby_area_name(const maint_standby_table *t, unsigned i);
uint64_t maint_standby_area_kb(const maint_standby_table *t, unsigned i);
uint32_t maint_standby_area_owner(const maint_standby_table *t, unsigned i);
const char *maint_standby_area_owner_name(const maint_standby_table *t, unsigned i);
/* The domain the area moves to when its owner fails; 0: none. */
uint32_t maint_standby_area_failover(const maint_standby_table *t, unsigned i);
/* The table in JSON, as xmaintd answered.  malloc'd. */
char *maint_standby_table_to_json(const maint_standby_table *t);
void maint_standby_table_free(maint_standby_table *t);       /* NULL allowed */

/*
 * Pair active with standby (names; both running).  opts may be NULL (the
 * defaults).  table_r (or NULL) receives the table afterwards
 * (maint_standby_table_free()).
 */
int maint_standby_create(maint_ctx *ctx, const char *active, const char *standby,
                         const maint_standby_opts *opts, unsigned timeout_ms,
                         maint_standby_table **table_r, char **error_r);
/* Unpair active (after its protected areas were released). */
int maint_standby_destroy(maint_ctx *ctx, const char *active, unsigned timeout_ms,
                          char **error_r);
/* The table: *table_r, maint_standby_table_free(). */
int maint_standby_show(maint_ctx *ctx, unsigned timeout_ms, maint_standby_table **table_r);

#ifdef __cplusplus
}
#endif

#endif /* MAINT_MAINT_H */
