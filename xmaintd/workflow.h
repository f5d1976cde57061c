/*
 * The workflows' own header: workflow.c (lifecycle, the worker, the list),
 * wfsteps.c (the step table of each kind), journal.c (the durable record).
 * xmaintd.h holds what the rest of the daemon calls.
 */
#ifndef XMAINTD_WORKFLOW_H
#define XMAINTD_WORKFLOW_H

#include "xmaintd.h"
#include "shutdown.h"

typedef enum { WF_RUNNING, WF_DONE, WF_FAILED, WF_ROLLED_BACK } xmd_wf_state;
/* "running", "done", "failed", "rolled-back": indexed by xmd_wf_state */
extern const char *const xmd_wf_state_names[4];

/*
 * One step of a workflow kind.  run: do it (idempotent: a daemon killed
 * mid-step runs it again after its restart).  undo: take a finished step
 * back in a rollback (idempotent as well); NULL when there is nothing to
 * take back (the substitute goes anyway).  cleanup: what a run that failed
 * half-way leaves behind, taken back first in the rollback (NULL: a failed
 * run leaves nothing).  A step that never finished is never undone.
 */
typedef struct xmd_wf_step {
    const char *name;
    gboolean (*run)(xmd_wf *w, GError **error);
    gboolean (*undo)(xmd_wf *w, GError **error);
    gboolean (*cleanup)(xmd_wf *w, GError **error);
} xmd_wf_step;

typedef struct xmd_wf_kind {
    const char *name;
    const xmd_wf_step *steps;
    guint nr_steps;
    /* the step after which the applications are in the substitute: from
     * then on there is no way back (no abort, no rollback) */
    const char *point_of_no_return;
} xmd_wf_kind;

/* wfsteps.c: the kind called type, or NULL. */
const xmd_wf_kind *xmd_wf_kind_find(const char *type);

struct xmd_wf {
    xmd *d;
    char *id, *type, *domain, *substitute;
    const xmd_wf_kind *kind;
    char *args;                  /* argv as JSON (journal, xenstore), malloc'd */
    maint__args argv;            /* the typed arguments (workflow-start's schema) */
    GHashTable *done;            /* steps finished (under lock) */
    GHashTable *undone;          /* steps a rollback took back (worker's) */
    const char *failed_step;     /* the step whose run failed (worker's; the
                                  * kind's name), or NULL */
    GArray *created;             /* xmd_sd_created: the domains it made (under lock) */
    char sub_uuid[37];           /* the substitute's UUID, journalled ("intent")
                                  * before it is created; "" until then (under lock) */
    GHashTable *cmd_seq;         /* step -> the agent command it sent (journalled
                                  * "intent" before it was sent; worker's) */
    GHashTable *began;           /* step -> gint64 *: wall-clock ms it first began
                                  * (a resumed wait counts from then; worker's) */
    gboolean rolling_back;       /* under lock */
    xmd_wf_state state;          /* under lock */
    gint64 ended_ms;             /* wall-clock ms it ended (its journal's last
                                  * write); 0 while it runs (under lock) */
    char *step, *message;        /* under lock */
    gint abort;                  /* atomic; set under lock (xmd_workflow_abort) */
    GThread *thread;
    maint_ctx *ctx;              /* the worker's own context */
    GMutex lock;                 /* the fields marked "under lock", for readers */
};

/* wfstate.c: a workflow's state, and what the steps share */
/* A new workflow; it takes *args over (leaving it initialised). */
xmd_wf *xmd_wf_new(xmd *d, const char *id, const xmd_wf_kind *kind, const char *domain,
                   const char *substitute, maint__args *args);
void xmd_wf_free(gpointer w);
/* Its state to /local/domain/0/xmaint/workflow/ID. */
void xmd_wf_publish(xmd_wf *w);
/* A new step (or NULL: the same) and message: logged, published. */
void xmd_wf_progress(xmd_wf *w, const char *step, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
gboolean xmd_wf_lookup(xmd_wf *w, const char *name, uint32_t *domid_r);
/* The workflow made domain domid (at step): journalled with its UUID, so
 * xmaintd acts as its toolstack (toolstack.c), also after a restart. */
void xmd_wf_record_created(xmd_wf *w, const char *step, uint32_t domid);
gboolean xmd_wf_aborted(xmd_wf *w);
/* What is left of timeout_ms since step first began (before a restart too),
 * at least floor_ms: a guest waited for gets that much after a restart. */
unsigned xmd_wf_time_left(xmd_wf *w, const char *step, unsigned timeout_ms,
                          unsigned floor_ms);
/* The substitute's UUID, chosen and journalled (an "intent" record,
 * fsync'd) the first time it is asked for, before anything is created. */
const char *xmd_wf_substitute_uuid(xmd_wf *w);
/* Is (domid, uuid) a domain the workflow made or is making?  Under
 * w->lock. */
gboolean xmd_wf_ours_locked(xmd_wf *w, uint32_t domid, const char *uuid);


/* journal.c: STATE_DIR/workflows/ID.journal, one JSON record a line,
 * written with one write() and fsync'd. */
char *xmd_journal_path(xmd *d, const char *id);
/* One record; kv: more key/value string pairs, NULL-terminated (or NULL). */
void xmd_journal_kv(xmd_wf *w, const char *event, const char *step, const char *const *kv);
void xmd_journal(xmd_wf *w, const char *event, const char *step, const char *key,
                 const char *value);
/* "type", "domain", "substitute" and their values into j (the start
 * record, the published JSON). */
void xmd_wf_json_names(maint__json *j, xmd_wf *w);
/* Rebuild a workflow from its journal (NULL if it has no usable start
 * record, logged); an ended one has state != WF_RUNNING and ended_ms set.
 * make: the workflow of a start record (NULL: not one to rebuild), with
 * xmd_wf_new's arguments but the kind's name. */
typedef xmd_wf *(*xmd_journal_make_fn)(xmd *d, const char *id, const char *type,
                                       const char *domain, const char *substitute,
                                       maint__args *args);
xmd_wf *xmd_journal_replay(xmd *d, const char *path, xmd_journal_make_fn make);
/* Step began at wall-clock ms `when`, unless it had begun before (a
 * resumed step keeps its first begin: xmd_wf_time_left). */
void xmd_journal_began(xmd_wf *w, const char *step, gint64 when);
/* Remove a workflow's files in the state directory (journal, reconfigure's). */
void xmd_journal_remove(xmd *d, const char *id);

#endif
