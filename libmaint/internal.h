/*
 * libmaint internals: shared by the library, xmaintd (which links the
 * convenience library statically) and the unit tests.  Nothing here is
 * exported from libmaint.so: every symbol is maint__ with hidden visibility.
 */
#ifndef MAINT_INTERNAL_H
#define MAINT_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "maint/maint.h"
#include <libxl.h>

#define MAINT_EXPORT __attribute__((visibility("default")))

/* ---- The port: the only way the library reaches xenstore and Xen. ------ */

/* A watch event read from the port.  Both strings are malloc'd. */
typedef struct maint__watch_event {
    char *path;
    char *token;
} maint__watch_event;

/* Permission entry, as xenstore has it: the first entry names the owner. */
typedef struct maint__perm {
    uint32_t domid;
    unsigned char perm;     /* 'n' none, 'r' read, 'w' write, 'b' both */
} maint__perm;

#define MAINT__XS_NO_TXN 0u

/*
 * The caller's event loop, for the port's own fds and timeouts (the real
 * port: libxl's).  The contract is libxl_osevent_hooks': a registration may
 * be dropped from inside loop_fd_occurred; a timeout's registration is gone
 * when loop_timeout_occurred is called.
 */
typedef struct maint__loop_hooks {
    int (*fd_register)(void *user, int fd, void **reg_r, short events, void *for_port);
    int (*fd_modify)(void *user, int fd, void **reg, short events);
    void (*fd_deregister)(void *user, int fd, void *reg);
    int (*timeout_register)(void *user, void **reg_r, struct timeval abs, void *for_port);
    int (*timeout_modify)(void *user, void **reg, struct timeval abs);
    void (*timeout_deregister)(void *user, void *reg);
} maint__loop_hooks;

/* What the hypervisor tells of a watched domain. */
typedef enum maint__dom_event {
    MAINT__DOM_SHUTDOWN,        /* shut down by itself; reason: libxl_shutdown_reason */
    MAINT__DOM_DEATH,           /* gone */
} maint__dom_event;

typedef struct maint__event_hooks {
    /* From inside loop_*_occurred; the port may be called again from here
     * except for another synchronous hypervisor operation. */
    void (*domain_event)(void *user, uint32_t domid, maint__dom_event what, int reason);
    /* The event system broke: the caller should stop. */
    void (*disaster)(void *user, const char *msg, int errnoval);
} maint__event_hooks;

/* An asynchronous operation's end (from inside loop_*_occurred, or before
 * the call that started it returns); rc is a MAINT_* code. */
typedef void maint__done_fn(void *user, int rc);

typedef struct maint__port_ops {
    /* xenstore.  Strings are malloc'd; NULL/-1 with errno set on failure. */
    char *(*xs_read)(void *priv, uint32_t txn, const char *path, unsigned *len_r);
    int (*xs_write)(void *priv, uint32_t txn, const char *path, const char *val,
                    unsigned len);
    int (*xs_mkdir)(void *priv, uint32_t txn, const char *path);
    int (*xs_rm)(void *priv, uint32_t txn, const char *path);
    /* *names_r: malloc'd array of *nr_r strings in one allocation (free()). */
    int (*xs_directory)(void *priv, uint32_t txn, const char *path,
                        char ***names_r, unsigned *nr_r);
    int (*xs_set_perms)(void *priv, uint32_t txn, const char *path,
                        const maint__perm *perms, unsigned nr);
    /* Returns 0 or -1; *txn_r is never 0 on success. */
    int (*xs_txn_start)(void *priv, uint32_t *txn_r);
    /* abort: discard.  Returns -1/EAGAIN on a conflict. */
    int (*xs_txn_end)(void *priv, uint32_t txn, bool abort);
    int (*xs_watch)(void *priv, const char *path, const char *token);
    int (*xs_unwatch)(void *priv, const char *path, const char *token);
    int (*xs_fileno)(void *priv);
    /* Does xenstored know the domain (introduced, not released)? */
    bool (*xs_introduced)(void *priv, uint32_t domid);
    /* Non-blocking: 1 with an event, 0 with none pending, -1 on error. */
    int (*xs_read_watch)(void *priv, maint__watch_event *ev_r);

    /* The hypervisor (through libxl).  Return MAINT_* codes. */
    int (*domain_list)(void *priv, maint_domain_info **list_r, int *nr_r);
    int (*domain_info)(void *priv, uint32_t domid, maint_domain_info *info_r);
    int (*host_info)(void *priv, maint_host_info *info_r);
    int (*domain_config_json)(void *priv, uint32_t domid, char **json_r);
    /* The live configuration (libxl_retrieve_domain_configuration); the
     * caller initialised cfg and disposes of it. */
    int (*domain_config_get)(void *priv, uint32_t domid, libxl_domain_config *cfg);
    /* libxl's JSON of a configuration; malloc'd, or NULL. */
    char *(*config_to_json)(void *priv, libxl_domain_config *cfg);
    /* Parse libxl's JSON of a configuration into cfg (initialised by the caller). */
    int (*config_from_json)(void *priv, libxl_domain_config *cfg, const char *json);
    /* Create a domain, left paused. */
    int (*domain_create)(void *priv, libxl_domain_config *cfg, uint32_t *domid_r);
    int (*domain_unpause)(void *priv, uint32_t domid);
    int (*domain_destroy)(void *priv, uint32_t domid);
    /* Ask the guest to shut down (PV control or ACPI); does not wait. */
    int (*domain_shutdown)(void *priv, uint32_t domid);
    /* MAINT_ERROR_NOENT when no domain has that name. */
    int (*name_to_domid)(void *priv, const char *name, uint32_t *domid_r);
    /* Which PCI functions exist on bus 0 of HVM domain domid as its device
     * model sees them (emulated and passed through alike): 0 with
     * present[dev << 3 | fn] filled, or -1 with *why_r a static reason when
     * it cannot be asked (no qemu-xen QMP socket, no answer in time). */
    int (*dm_pci_bus0)(void *priv, uint32_t domid, bool present[256], const char **why_r);
    /* MAINT_OK with *reason_r (libxl_shutdown_reason) when the domain has
     * shut down and is not yet dying; MAINT_ERROR_BUSY while it runs;
     * MAINT_ERROR_NOENT when it is gone. */
    int (*shutdown_reason)(void *priv, uint32_t domid, int *reason_r);
    int (*set_memory_target)(void *priv, uint32_t domid, uint64_t kb);
    /* Start argv[0] detached (a new session, a grandchild nobody waits for:
     * the spawner's launcher is reaped here, libxl's children are not
     * touched), stdin and stdout /dev/null, stderr appended to log_path,
     * fd 3 the write end of a pipe whose read end is *ready_fd_r (the
     * caller closes it).  MAINT_OK, or MAINT_ERROR_FAIL (logged). */
    int (*spawn_detached)(void *priv, char *const argv[], const char *log_path,
                          int *ready_fd_r);

    /* Events and asynchronous operations, for a caller with an event loop
     * (xmaintd).  attach once, before any other call below; UNAVAILABLE
     * without a hypervisor.  It also makes the port reap only its own
     * children (the daemon's one SIGCHLD owner, MAINT__CTX_CALLER_HOOKS). */
    int (*events_attach)(void *priv, const maint__loop_hooks *loop,
                         const maint__event_hooks *events, void *user);
    void (*loop_fd_occurred)(void *priv, void *for_port, int fd, short events, short revents);
    void (*loop_timeout_occurred)(void *priv, void *for_port);
    /* Shutdown and death events of domid, until unwatched. */
    int (*death_watch)(void *priv, uint32_t domid, void **watch_r);
    void (*death_unwatch)(void *priv, void *watch);
    /* MAINT_OK: done will be called once; any other code: it will not. */
    int (*destroy_async)(void *priv, uint32_t domid, maint__done_fn *done, void *user);
    /* The live configuration into cfg (initialised by the caller, who
     * disposes of it after done). */
    int (*config_get_async)(void *priv, uint32_t domid, libxl_domain_config *cfg,
                            maint__done_fn *done, void *user);

    void (*close)(void *priv);
} maint__port_ops;

typedef struct maint__port {
    const maint__port_ops *ops;
    void *priv;
} maint__port;

/*
 * maint_ctx_open flag for xmaintd: the caller registers its libxl event-loop
 * hooks (libxl_osevent_register_hooks), then sets the child-process mode
 * (maint__libxl_childproc) itself.  libxl takes those hooks only while a
 * context has no fd registered, and the selective-reap mode registers one
 * (its SIGCHLD self-pipe).
 */
#define MAINT__CTX_CALLER_HOOKS (1u << 31)

/* The real port: libxenstore and libxl.  Returns a MAINT_* code. */
int maint__port_xen_open(maint__port *port_r, xentoollog_logger *lg, unsigned flags);
/* The libxl context of a real port, or NULL (xenstore-only or fake). */
struct libxl__ctx *maint__port_xen_libxl(maint__port *port);

/* ---- Context ------------------------------------------------------------ */

struct maint_ctx {
    xentoollog_logger *lg;
    maint__port port;
    unsigned flags;
    uint32_t self_domid;          /* the domain we run in (0 in dom0) */
    bool response_watch;          /* watch on our response dir registered */
    char last_request_id[MAINT_REQUEST_ID_MAX + 1];  /* for tests */
    char *paths[MAINT_PATH_CONSOLE_LOG_DIR + 1];     /* maint_ctx_set_path; NULL: default */
    unsigned reap_wait_ms;        /* maint_ctx_set_reap_wait */
};

/* The path the caller set, or its default (ctx.c). */
const char *maint__ctx_path(const maint_ctx *ctx, maint_ctx_path which);

/* A context around an existing port (unit tests use a fake port). */
int maint__ctx_from_port(maint_ctx **ctx_r, xentoollog_logger *lg,
                         const maint__port *port);

/* ---- Logging ----------------------------------------------------------- */

void maint__log(xentoollog_logger *lg, xentoollog_level lvl, int errnoval,
                const char *file, int line, const char *func, long domid,
                const char *fmt, ...) __attribute__((format(printf, 8, 9)));

#define MAINT__NO_DOMID (-1L)
#ifdef __FILE_NAME__
#define MAINT__FILE __FILE_NAME__      /* no build-tree paths in logs */
#else
#define MAINT__FILE __FILE__
#endif
#define LOG(lg, lvl, fmt, ...) \
    maint__log((lg), XTL_##lvl, -1, MAINT__FILE, __LINE__, __func__, \
               MAINT__NO_DOMID, fmt, ##__VA_ARGS__)
#define LOGE(lg, lvl, fmt, ...) \
    maint__log((lg), XTL_##lvl, errno, MAINT__FILE, __LINE__, __func__, \
               MAINT__NO_DOMID, fmt, ##__VA_ARGS__)
#define LOGD(lg, lvl, domid, fmt, ...) \
    maint__log((lg), XTL_##lvl, -1, MAINT__FILE, __LINE__, __func__, \
               (long)(domid), fmt, ##__VA_ARGS__)
#define LOGED(lg, lvl, domid, fmt, ...) \
    maint__log((lg), XTL_##lvl, errno, MAINT__FILE, __LINE__, __func__, \
               (long)(domid), fmt, ##__VA_ARGS__)

/* ---- Small helpers ------------------------------------------------------ */

/* malloc'd printf; NULL on allocation failure. */
char *maint__sprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Time: CLOCK_MONOTONIC in milliseconds, signed, so that a deadline minus
 * now is negative once it has passed (never a huge unsigned wait).
 */
int64_t maint__now_ms(void);
/* What is left until deadline_ms as a poll() timeout: 0 once it has passed,
 * at most INT_MAX (never poll's negative "wait forever"). */
int maint__ms_left(int64_t deadline_ms);

/*
 * Child processes.  libxl's contract (libxl_event.h, "Subprocess
 * handling"): every libxl context of this process is set up with
 * maint__libxl_childproc (libxl_sigchld_owner_libxl_always_selective_reap,
 * as libvirt does): libxl owns SIGCHLD and reaps only its own children, so
 * several contexts (the daemon's, one per workflow or standby thread) may
 * have children at once, and the process reaps its own synchronously.
 * maint__child_wait() is that synchronous reap: it waits for pid and no
 * other child (never wait() or waitpid(-1), which would take libxl's or
 * another thread's status), through EINTR (libxl's SIGCHLD handler may
 * interrupt it).  0 and *status_r, or -1 and errno.
 */
extern const libxl_childproc_hooks maint__libxl_childproc;
int maint__child_wait(pid_t pid, int *status_r);

/*
 * Run body inside one xenstore transaction, again from the start while the
 * commit conflicts (EAGAIN), at most 8 times.  body returns 0 to commit or
 * -1 (errno set) to abort.  0 once committed; -1 and errno: body's, the
 * transaction's, or EAGAIN when it kept conflicting.
 */
int maint__xs_transaction(maint__port *port,
                          int (*body)(maint__port *port, uint32_t txn, void *user),
                          void *user);

/* Has the domain gone down: no such domain, or shut down, dying or
 * crashed?  (Not when the hypervisor cannot tell.)  *what_r (may be
 * NULL): "gone", "unknown" or its state's name. */
bool maint__domain_down(maint__port *port, uint32_t domid, const char **what_r);

/* An agent command in two halves, for a caller that journals the sequence
 * number before the command exists (maint_agent_command_send is both): the
 * next sequence number (increasing across restarts); the command written
 * under it.  command_state: 0 neither the command nor its answer is there
 * (never sent, or answered and forgotten), 1 sent and not answered yet, 2
 * answered. */
void maint__agent_command_seq(char seq_r[21]);
int maint__agent_command_write(maint_ctx *ctx, uint32_t domid, const char *json,
                               const char *seq);
int maint__agent_command_state(maint_ctx *ctx, uint32_t domid, const char *seq);

/* Write fmt(domid) = value, owned by dom0 and readable by domid. */
int maint__xs_put_readonly(maint_ctx *ctx, uint32_t domid, const char *fmt,
                           const char *value);

/* An agent's application spec (JSON, from the guest); fills mode, port,
 * nr_state.  *why_r: malloc'd reason on failure. */
int maint__app_spec_parse(const char *text, size_t len, maint_app *app, char **why_r);

/* ---- JSON (yajl) --------------------------------------------------------- */

/* A JSON generator wrapper: yajl_gen with error latching. */
typedef struct maint__json maint__json;
maint__json *maint__json_new(void);
void maint__json_free(maint__json *j);
void maint__json_map_open(maint__json *j);
void maint__json_map_close(maint__json *j);
void maint__json_array_open(maint__json *j);
void maint__json_array_close(maint__json *j);
void maint__json_key(maint__json *j, const char *key);
void maint__json_string(maint__json *j, const char *s); /* NULL -> null */
void maint__json_uint(maint__json *j, uint64_t v);
void maint__json_int(maint__json *j, int64_t v);
void maint__json_bool(maint__json *j, bool v);
void maint__json_null(maint__json *j);
/* A key and its value, in a map. */
void maint__json_kv_string(maint__json *j, const char *key, const char *s);
void maint__json_kv_uint(maint__json *j, const char *key, uint64_t v);
void maint__json_kv_int(maint__json *j, const char *key, int64_t v);
void maint__json_kv_bool(maint__json *j, const char *key, bool v);
/* Insert already-serialised JSON text (validated by the caller). */
void maint__json_raw(maint__json *j, const char *text);
/* The finished text, malloc'd (call free()), or NULL if anything failed. */
char *maint__json_finish(maint__json *j);

/*
 * Strict validation of untrusted JSON text: well-formed, at most max_len
 * bytes and max_depth nesting levels, no NUL bytes.  Returns 0, or a
 * MAINT_ERROR_* code with a static message in *why_r.
 */
int maint__json_validate(const char *text, size_t len, size_t max_len,
                         unsigned max_depth, const char **why_r);

struct yajl_val_s;                /* <yajl/yajl_tree.h>'s yajl_val */

/* Serialise a parsed yajl tree (or subtree) into j. */
void maint__json_tree(maint__json *j, struct yajl_val_s *v);

/* Parse JSON text (len bytes, no NUL needed) into a tree (yajl_tree_free),
 * or NULL when it is not well-formed. */
struct yajl_val_s *maint__json_parse(const char *text, size_t len);
/* A tree's (or subtree's) compact text, malloc'd (free()), or NULL. */
char *maint__json_text(struct yajl_val_s *v);

/*
 * A table of an object's fields, read strictly into a C struct (libxl's
 * IDL in miniature): each key's type is checked, a required key must be
 * there, an optional string may be null; other keys are ignored (a newer
 * peer may add some).  STR stores a malloc'd copy (char *), UINT a
 * uint64_t (negative refused), BOOL a bool.
 */
typedef enum maint__jtype { MAINT__J_STR, MAINT__J_UINT, MAINT__J_BOOL } maint__jtype;

typedef struct maint__jfield {
    const char *key;
    maint__jtype type;
    bool required;
    size_t offset;                /* offsetof() the member */
} maint__jfield;

/* Fill base from obj; MAINT_ERROR_PROTOCOL (logged, naming `what` and the
 * key) for a missing or mistyped field, MAINT_ERROR_NOMEM. */
int maint__json_fields(xentoollog_logger *lg, const char *what, struct yajl_val_s *obj,
                       const maint__jfield *fields, unsigned nr, void *base);

/*
 * The other way: members of a C struct written as keys of the map the
 * caller has open, named as the members are.  STRP a char * (NULL: null),
 * STRA a char array, U32 a uint32_t or unsigned, U64 a uint64_t, BOOL a bool.
 */
typedef enum maint__otype {
    MAINT__O_STRP, MAINT__O_STRA, MAINT__O_U32, MAINT__O_U64, MAINT__O_BOOL
} maint__otype;

typedef struct maint__ofield {
    const char *key;
    maint__otype type;
    size_t offset;
} maint__ofield;

#define MAINT__OF(st, member, type) { #member, MAINT__O_##type, offsetof(st, member) }

void maint__json_kv_struct(maint__json *j, const void *base, const maint__ofield *fields,
                           unsigned nr);

/* ---- The request protocol (xenstore-schema/xenstore-paths.md) ---------- */

#define MAINT_NONCE_LEN 32        /* hex digits of a request's nonce */

typedef struct maint__request {
    char op[MAINT_OP_MAX + 1];
    char nonce[MAINT_NONCE_LEN + 1];  /* "" when the request carries none */
    struct yajl_val_s *tree;      /* the parsed request (yajl_tree_free) */
    struct yajl_val_s *args;      /* its "args" object (in tree), or NULL */
} maint__request;

void maint__request_init(maint__request *req);
void maint__request_dispose(maint__request *req);

/* Is id a valid request id ([A-Za-z0-9_.-], 1..MAINT_REQUEST_ID_MAX)? */
bool maint__request_id_valid(const char *id);

/*
 * Parse one request value written by a (possibly hostile) client.
 * Returns 0 and fills *req_r, or a MAINT_ERROR_* code with a malloc'd
 * explanation in *err_r (call free()).  A well-formed nonce is kept in
 * req_r->nonce even when the request is refused, so that the refusal can
 * echo it; the caller refuses a request without one (an old client).
 */
int maint__request_parse(const char *buf, size_t len, maint__request *req_r,
                         char **err_r);

/*
 * A new request id, as maint_request() names it under ~/xmaint/request/:
 * c<pid>-<n>, n from a process-wide atomic counter, so that no two
 * contexts or threads of one process ever share one.  size >=
 * MAINT_REQUEST_ID_MAX + 1.
 */
void maint__request_id(char *buf, size_t size);

/* Is s a well-formed nonce (MAINT_NONCE_LEN lowercase hex digits)? */
bool maint__nonce_valid(const char *s);

/*
 * A fresh random nonce (getrandom(2)) in buf[MAINT_NONCE_LEN + 1].
 * Returns MAINT_OK or MAINT_ERROR_FAIL (errno set).
 */
int maint__nonce_new(char *buf);

/*
 * maint_request() with an absolute deadline in maint__now_ms() time instead
 * of a timeout; one that has already passed gives MAINT_ERROR_TIMEOUT after
 * a single look for the answer (the request is withdrawn).
 */
int maint__request_until(maint_ctx *ctx, const char *op, const char *args_json,
                         int64_t deadline_ms, char **result_json_r, char **error_r);

/*
 * Operation arguments (libmaint/args.c; "Operation arguments" in
 * xenstore-schema/xenstore-paths.md): one typed schema per operation, a
 * table of keys.  INT: min..max is the value range; STR: min..max its
 * length in bytes; STRV: min..max the number of items, item_max the bytes
 * of one (at least 1).
 */
typedef enum maint__arg_type {
    MAINT__ARG_STR, MAINT__ARG_INT, MAINT__ARG_STRV
} maint__arg_type;

typedef struct maint__arg_spec {
    const char *key;
    maint__arg_type type;
    bool required;
    long long min, max;
    size_t item_max;
} maint__arg_spec;

typedef struct maint__op_args_schema {
    const char *op;
    const maint__arg_spec *keys;
    unsigned nr;
} maint__op_args_schema;

/* The schema of op, or NULL: op takes no arguments. */
const maint__op_args_schema *maint__op_args_schema_find(const char *op);

typedef struct maint__arg_value {
    bool set;
    long long i;                  /* INT */
    char *s;                      /* STR, malloc'd */
    char **v;                     /* STRV, n malloc'd strings */
    unsigned n;
} maint__arg_value;

/* Typed arguments: one value per key of the schema (val[i] for keys[i]). */
typedef struct maint__args {
    const maint__op_args_schema *schema;   /* NULL: none */
    maint__arg_value *val;
} maint__args;

void maint__args_init(maint__args *a);
void maint__args_dispose(maint__args *a);     /* idempotent */

/*
 * Parse op's arguments (a yajl object, or NULL for none) against its
 * schema, once, into *a_r (maint__args_dispose()).  Refuses an unknown or
 * repeated key, a value of the wrong type, an integer out of range (never
 * cast), a string or array too long, a missing required key: returns
 * MAINT_ERROR_INVAL with a malloc'd message naming the key in *err_r.
 */
int maint__args_parse(const char *op, struct yajl_val_s *obj, maint__args *a_r,
                      char **err_r);

/* Typed accessors: the value, or NULL / dflt / 0 when it was not given.
 * Strings stay a's. */
const char *maint__args_str(const maint__args *a, const char *key);
long long maint__args_int(const maint__args *a, const char *key, long long dflt);
unsigned maint__args_strv(const maint__args *a, const char *key, const char **out,
                          unsigned max);
/* The given arguments as a JSON object, in schema order.  malloc'd. */
char *maint__args_to_json(const maint__args *a);

/*
 * Building arguments on the client's side, checked as the daemon checks
 * them (a typed call refuses what xmaintd would refuse, before sending).
 * new_for: *a_r with op's schema and nothing set (MAINT_ERROR_INVAL: op has
 * no schema).  Setters return MAINT_ERROR_INVAL with *err_r (malloc'd)
 * naming the key for a key not in the schema, a value of another type or
 * out of its bounds; add_str appends one item to an array.
 */
int maint__args_new_for(const char *op, maint__args *a_r);
int maint__args_set_str(maint__args *a, const char *key, const char *s, char **err_r);
int maint__args_set_int(maint__args *a, const char *key, long long i, char **err_r);
int maint__args_add_str(maint__args *a, const char *key, const char *s, char **err_r);
bool maint__args_has(const maint__args *a, const char *key);
/* new_for and setters in one: after err_r, pairs "s:KEY", const char * or
 * "i:KEY", long long, then NULL.  On failure a_r still needs disposing. */
int maint__args_build(maint__args *a_r, const char *op, char **err_r, ...);
/* The arguments as JSON after the full check maint__args_parse makes
 * (required keys); NULL with *err_r (malloc'd) when they fail it. */
char *maint__args_to_checked_json(const maint__args *a, char **err_r);

/*
 * A typed call: op with args (NULL: none), checked here first
 * (maint__args_to_checked_json), sent with maint_request; on MAINT_OK
 * *result_r is the parsed result (yajl_tree_free), on MAINT_ERROR_INVAL
 * (refused here) or MAINT_ERROR_REMOTE (refused by xmaintd) *error_r (if
 * error_r) holds the reason (malloc'd).  Every refusal is logged once.
 */
int maint__call(maint_ctx *ctx, const char *op, const maint__args *args,
                unsigned timeout_ms, struct yajl_val_s **result_r, char **error_r);

/* A refusal made on the client's side: log why once, hand it to *error_r
 * (if error_r; else free it); returns rc. */
int maint__refuse_here(maint_ctx *ctx, int rc, char *why, char **error_r);

/* maint__call with arguments a built with build_rc (why: the builder's
 * reason): refused here when build_rc, else sent.  Disposes of a (NULL:
 * no arguments). */
int maint__call_built(maint_ctx *ctx, const char *op, maint__args *a, int build_rc,
                      char *why, unsigned timeout_ms, struct yajl_val_s **result_r,
                      char **error_r);

/* Result objects in arrays (api-common.c). */
typedef void *maint__item_parse_fn(xentoollog_logger *lg, struct yajl_val_s *obj, int *rc_r);
typedef void maint__item_free_fn(void *item);
typedef const char *maint__item_json_fn(const void *item);
/* Each element of arr parsed: *list_r (nr_r items) or a MAINT_ERROR_* code
 * (logged; nothing left allocated). */
int maint__parse_array(xentoollog_logger *lg, const char *what, struct yajl_val_s *arr,
                       maint__item_parse_fn *parse, maint__item_free_fn *free_fn,
                       void ***list_r, unsigned *nr_r);
/* A JSON array of the items' texts.  malloc'd. */
char *maint__json_array_raw(void *const *items, unsigned nr, maint__item_json_fn *text);

/* A workflow's state object from its JSON (api-workflow.c); NULL with
 * *rc_r a MAINT_ERROR_* code (logged) when it does not parse. */
maint_workflow_info *maint__workflow_info_parse(xentoollog_logger *lg,
                                                struct yajl_val_s *obj, int *rc_r);

/* Build the request text for op/args_json/nonce.  malloc'd (free()), or NULL. */
char *maint__request_format(const char *op, const char *args_json, const char *nonce);

/*
 * The response value: {"status":"ok","nonce":"<nonce>","result":<result_json>}
 * or {"status":"error","nonce":..,"op":..,"error":"<text>"}; the nonce is
 * left out when NULL or "" (a request that carried none).  malloc'd
 * (free()), or NULL.
 */
char *maint__response_format_ok(const char *nonce, const char *result_json);
char *maint__response_format_error(const char *nonce, const char *op, const char *error);

/*
 * Parse a response value.  Returns MAINT_OK with *result_r (malloc'd JSON),
 * MAINT_ERROR_REMOTE with *error_r (malloc'd text), MAINT_ERROR_PROTOCOL
 * when the text is not a valid response, or, when nonce is not NULL,
 * MAINT_ERROR_NOENT when the response does not carry that nonce (it answers
 * some other request).
 */
int maint__response_parse(const char *buf, size_t len, const char *nonce,
                          char **result_r, char **error_r);

/*
 * Write a response for domain domid's request id, in chunks when it does not
 * fit one xenstore value (see the schema).  Returns a MAINT_* code.
 */
int maint__response_write(maint__port *port, xentoollog_logger *lg,
                          uint32_t domid, const char *id, const char *value);

/*
 * Read a response (joining chunks).  Returns MAINT_OK with *value_r
 * (malloc'd), MAINT_ERROR_NOENT when it is not (fully) there yet.
 */
int maint__response_read(maint__port *port, uint32_t domid, const char *id,
                         char **value_r);

/* The CPU signature of this host (host.c).  malloc'd, or NULL. */
char *maint__cpu_signature(const maint_host_info *info);

/* Substitute derivation on a configuration (derive.c): pure logic. */
int maint__substitute_derive(xentoollog_logger *lg, libxl_domain_config *cfg,
                             const char *orig_name, const maint_substitute_opts *opts);
/* A console log's size now (0: none), and whether pattern is on a line of
 * it written from offset from on (all of it when the file is now shorter:
 * replaced).  (substitute.c) */
off_t maint__log_end(const char *log);
bool maint__log_has(const char *log, const char *pattern, off_t from);
/* Is d the passed-through device bdf names (its guest address on bus 0 when
 * it has one, else its host address)?  (derive.c) */
bool maint__pci_matches(const libxl_device_pci *d, const maint_bdf *bdf);
/* The hiding spec's xenstore values ("00:05.0,00:06.0", ...); malloc'd (hide.c). */
char *maint__hide_pci_value(const maint_hide_spec *spec);
char *maint__hide_vcpus_value(const maint_hide_spec *spec);
char *maint__hide_mem_value(const maint_hide_spec *spec);
/* Add what domid's published hiding spec (~/xmaint/hide, written by dom0)
 * hides to spec; nothing when it has none.  MAINT_ERROR_INVAL (logged) for
 * a value that does not parse. */
int maint__hide_spec_read(maint_ctx *ctx, uint32_t domid, maint_hide_spec *spec);

/* Domain/state helpers shared with the daemon. */
int maint__domain_list_json(maint__port *port, char **json_r);

#endif /* MAINT_INTERNAL_H */
