/*
 * libxl's child-process contract (libxl_event.h, "Subprocess handling"):
 * every libxl context libmaint opens -- the daemon's, one per workflow
 * thread, one per standby job, several at once -- is set to
 * libxl_sigchld_owner_libxl_always_selective_reap before it is used, and
 * the library's own children are reaped by pid only.
 *
 * xmaintd's own context (events.c) gets the mode after its event-loop
 * hooks: libxl takes hooks only while a context has no fd registered, and
 * the selective-reap mode registers its SIGCHLD self-pipe.
 *
 * libxl_ctx_alloc/_free, libxl_childproc_setmode and the hook
 * registrations are replaced at link time (-Wl,--wrap): there is no
 * hypervisor here, and the test sees the order of the calls.  xenstore is
 * the real xenstored (tests/xsd/).
 *
 * Exit: 0 all passed, 1 some failed, 77 skipped (no xenstored), 99 error.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CUnit/Basic.h>

#include "xmaintd.h"
#include "xsd.h"
#include "../cunit-report.h"

/* ---- libxl, as far as libmaint's contexts use it ------------------------- */

#define MAX_CTX 16

static struct {
    libxl_ctx *ctx;
    int setmode_calls;
    libxl_sigchld_owner mode;
    bool freed;
    bool hooks;               /* libxl_osevent_register_hooks was called */
    bool hooks_too_late;      /* ... after the mode had registered an fd */
    bool callbacks;           /* libxl_event_register_callbacks */
} ctxs[MAX_CTX];
static int nr_ctxs;
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;

int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                           xentoollog_logger *lg);
int __wrap_libxl_ctx_alloc(libxl_ctx **pctx, int version, unsigned flags,
                           xentoollog_logger *lg)
{
    int rc = ERROR_FAIL;

    pthread_mutex_lock(&ctx_lock);
    if (nr_ctxs < MAX_CTX) {
        ctxs[nr_ctxs].ctx = malloc(64);     /* opaque to libmaint */
        ctxs[nr_ctxs].mode = (libxl_sigchld_owner)-1;
        *pctx = ctxs[nr_ctxs++].ctx;
        rc = 0;
    }
    pthread_mutex_unlock(&ctx_lock);
    return rc;
}

typedef enum { SETMODE, HOOKS, CALLBACKS, FREE } libxl_call;

/* What libxl was asked of ctx; mode: SETMODE's. */
static void record(libxl_ctx *ctx, libxl_call call, libxl_sigchld_owner mode)
{
    pthread_mutex_lock(&ctx_lock);
    for (int i = 0; i < nr_ctxs; i++) {
        if (ctxs[i].ctx != ctx || ctxs[i].freed)
            continue;
        switch (call) {
        case SETMODE:
            ctxs[i].setmode_calls++;
            ctxs[i].mode = mode;
            break;
        case HOOKS:
            /* as libxl: hooks are taken only while no fd is registered,
             * and the selective-reap mode registers one */
            ctxs[i].hooks = true;
            ctxs[i].hooks_too_late = ctxs[i].setmode_calls &&
                                     ctxs[i].mode != libxl_sigchld_owner_libxl;
            break;
        case CALLBACKS:
            ctxs[i].callbacks = true;
            break;
        case FREE:
            ctxs[i].freed = true;
            free(ctx);
            break;
        }
        break;
    }
    pthread_mutex_unlock(&ctx_lock);
}

void __wrap_libxl_childproc_setmode(libxl_ctx *ctx, const libxl_childproc_hooks *hooks,
                                    void *user);
void __wrap_libxl_childproc_setmode(libxl_ctx *ctx, const libxl_childproc_hooks *hooks,
                                    void *user)
{
    /* NULL hooks: libxl's default, libxl_sigchld_owner_libxl */
    record(ctx, SETMODE, hooks ? hooks->chldowner : libxl_sigchld_owner_libxl);
}

void __wrap_libxl_osevent_register_hooks(libxl_ctx *ctx, const libxl_osevent_hooks *hooks,
                                         void *user);
void __wrap_libxl_osevent_register_hooks(libxl_ctx *ctx, const libxl_osevent_hooks *hooks,
                                         void *user)
{
    record(ctx, HOOKS, 0);
}

void __wrap_libxl_event_register_callbacks(libxl_ctx *ctx, const libxl_event_hooks *hooks,
                                           void *user);
void __wrap_libxl_event_register_callbacks(libxl_ctx *ctx, const libxl_event_hooks *hooks,
                                           void *user)
{
    record(ctx, CALLBACKS, 0);
}

int __wrap_libxl_ctx_free(libxl_ctx *ctx);
int __wrap_libxl_ctx_free(libxl_ctx *ctx)
{
    record(ctx, FREE, 0);
    return 0;
}

/* ---- every context selective-reap, several at once ----------------------- */

#define THREADS 4

static void *open_hold_close(void *arg)
{
    pthread_barrier_t *b = arg;
    maint_ctx *c = NULL;
    int rc = maint_ctx_open(&c, NULL, 0);

    pthread_barrier_wait(b);          /* all contexts open at the same time */
    maint_ctx_close(c);
    return (void *)(intptr_t)rc;
}

static void test_every_context_selective(void)
{
    pthread_t t[THREADS];
    pthread_barrier_t b;
    maint_ctx *main_ctx = NULL, *xs_only = NULL;
    int base = nr_ctxs;

    CU_ASSERT_FATAL(maint_ctx_open(&main_ctx, NULL, 0) == MAINT_OK);
    CU_ASSERT_FATAL(maint_ctx_open(&xs_only, NULL, MAINT_CTX_NO_LIBXL) == MAINT_OK);
    pthread_barrier_init(&b, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, open_hold_close, &b);
    for (int i = 0; i < THREADS; i++) {
        void *rc;

        pthread_join(t[i], &rc);
        CU_ASSERT_EQUAL((intptr_t)rc, MAINT_OK);
    }
    pthread_barrier_destroy(&b);
    maint_ctx_close(xs_only);
    maint_ctx_close(main_ctx);
    /* the main context and one a thread: MAINT_CTX_NO_LIBXL has none */
    CU_ASSERT_EQUAL(nr_ctxs - base, 1 + THREADS);
    for (int i = base; i < nr_ctxs; i++) {
        CU_ASSERT_EQUAL(ctxs[i].setmode_calls, 1);
        CU_ASSERT_EQUAL(ctxs[i].mode, libxl_sigchld_owner_libxl_always_selective_reap);
        CU_ASSERT(ctxs[i].freed);
    }
}

/* ---- xmaintd's context: hooks first, then the mode ------------------------- */

/* What events.c calls elsewhere in the daemon (not reached here). */
G_DEFINE_QUARK(xmaintd-error-quark, xmd_error)
void xmd_domains_rescan(xmd *d) { }
xmd_domain *xmd_domain_find(xmd *d, uint32_t domid) { return NULL; }
const char *xmd_domain_label(xmd_domain *dom) { return "?"; }
void xmd_domain_died(xmd *d, uint32_t domid) { }
void xmd_domain_shut_down(xmd *d, uint32_t domid, int reason) { }
void xmd_requests_scan(xmd *d, xmd_domain *dom) { }
void xmd_request_event(xmd *d, xmd_domain *dom, const char *id) { }

static int observers;

void xmd_domain_observe(xmd *d, const xmd_domain_observer *o)
{
    observers++;
}

static void test_daemon_context(void)
{
    xmd d = { 0 };
    int i, base = nr_ctxs;

    /* as main.c's ctx_open, then events.c */
    CU_ASSERT_FATAL(maint_ctx_open(&d.ctx, NULL, MAINT__CTX_CALLER_HOOKS) == MAINT_OK);
    CU_ASSERT_FATAL(maint__port_xen_libxl(&d.ctx->port) != NULL && nr_ctxs == base + 1);
    i = base;
    CU_ASSERT_EQUAL(ctxs[i].setmode_calls, 0);     /* left to the daemon */
    xmd_hv_attach(&d);
    CU_ASSERT(d.hv);
    CU_ASSERT(ctxs[i].hooks);
    CU_ASSERT_FALSE(ctxs[i].hooks_too_late);
    CU_ASSERT(ctxs[i].callbacks);
    CU_ASSERT_EQUAL(ctxs[i].setmode_calls, 1);
    CU_ASSERT_EQUAL(ctxs[i].mode, libxl_sigchld_owner_libxl_always_selective_reap);
    CU_ASSERT_EQUAL(observers, 1);                 /* its death watch */
    maint_ctx_close(d.ctx);
    CU_ASSERT(ctxs[i].freed);
}

/* ---- each waiter gets its own child's status ----------------------------- */

/* What libxl's handler does in this mode: catch SIGCHLD, reap nothing of
 * ours.  Without SA_RESTART, so a wait it interrupts sees EINTR. */
static int sigchlds;

static void on_sigchld(int sig)
{
    int saved = errno;

    (void)sig;
    __atomic_fetch_add(&sigchlds, 1, __ATOMIC_RELAXED);
    errno = saved;
}

typedef struct waiter {
    int code;             /* the child exits with it */
    int delay_ms;         /* ... after this long */
    int status;
    int rc, err;
    pthread_t self;
} waiter;

static void *spawn_and_wait(void *arg)
{
    waiter *w = arg;
    pid_t pid = fork();

    if (pid == 0) {
        usleep((useconds_t)w->delay_ms * 1000);
        _exit(w->code);
    }
    w->rc = pid < 0 ? -1 : maint__child_wait(pid, &w->status);
    w->err = errno;
    return NULL;
}

/* Signals the waiters while they wait, as other children's deaths do. */
static void *interrupter(void *arg)
{
    waiter *ws = arg;

    for (int k = 0; k < 10; k++) {
        usleep(10 * 1000);
        pthread_kill(ws[0].self, SIGCHLD);
        pthread_kill(ws[1].self, SIGCHLD);
    }
    return NULL;
}

static void test_own_status(void)
{
    struct sigaction sa = { .sa_handler = on_sigchld }, old;
    sigset_t chld;

    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;        /* no SA_RESTART */
    sigaction(SIGCHLD, &sa, &old);
    /* the signals go to the waiters, not to this thread */
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (int round = 0; round < 6; round++) {
        /* the one that exits first alternates with the round */
        waiter ws[2] = { { .code = 3, .delay_ms = round % 2 ? 150 : 30 },
                         { .code = 5, .delay_ms = round % 2 ? 30 : 150 } };
        pthread_t it;

        pthread_create(&ws[0].self, NULL, spawn_and_wait, &ws[0]);
        pthread_create(&ws[1].self, NULL, spawn_and_wait, &ws[1]);
        pthread_sigmask(SIG_BLOCK, &chld, NULL);
        pthread_create(&it, NULL, interrupter, ws);
        pthread_join(it, NULL);
        pthread_join(ws[0].self, NULL);
        pthread_join(ws[1].self, NULL);
        pthread_sigmask(SIG_UNBLOCK, &chld, NULL);
        for (int i = 0; i < 2; i++) {
            if (ws[i].rc != 0)
                fprintf(stderr, "\nround %d waiter %d: %s\n", round, i, strerror(ws[i].err));
            CU_ASSERT_EQUAL(ws[i].rc, 0);
            CU_ASSERT(WIFEXITED(ws[i].status));
            CU_ASSERT_EQUAL(WEXITSTATUS(ws[i].status), ws[i].code);
        }
    }
    CU_ASSERT(__atomic_load_n(&sigchlds, __ATOMIC_RELAXED) > 0);   /* waits interrupted */
    sigaction(SIGCHLD, &old, NULL);
}

static void test_not_a_child(void)
{
    int status = 42;

    /* pid 1 is nobody's child here: an error, not some other child's status */
    CU_ASSERT_EQUAL(maint__child_wait(1, &status), -1);
    CU_ASSERT_EQUAL(errno, ECHILD);
    CU_ASSERT_EQUAL(status, 42);
    CU_ASSERT_EQUAL(maint__child_wait(0, &status), -1);
}

int main(void)
{
    struct xsd *xsd = NULL;
    CU_pSuite s;
    int rc, failed;

    alarm(300);      /* a wait that takes another child's status can hang */
    rc = xsd_start(&xsd);

    if (rc)
        return xsd_exit_code(rc);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 99;
    s = CU_add_suite("childproc", NULL, NULL);
    if (!s || !CU_add_test(s, "every libxl context reaps only its own children",
                           test_every_context_selective) ||
        !CU_add_test(s, "xmaintd's context: its loop's hooks, then the mode",
                     test_daemon_context) ||
        !CU_add_test(s, "two children at once: each waiter gets its own status",
                     test_own_status) ||
        !CU_add_test(s, "waiting for a process that is not our child fails",
                     test_not_a_child))
        return 99;
    failed = cunit_run_and_report();
    xsd_stop(xsd);
    return failed < 0 ? 99 : failed ? 1 : 0;
}
