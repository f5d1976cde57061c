/*
 * A test double of the port, for unit tests of pure logic only: xenstore is
 * a hash table, watches fire through a pipe, the hypervisor is a list.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "unit.h"
#include <libxl_json.h>

/* What a port's priv points at: the fake, and the life of the daemon the
 * port belongs to.  The fake itself is a handle that never dies. */
typedef struct fake_handle {
    fake_port *fp;
    unsigned epoch;              /* its daemon's life */
} fake_handle;

struct fake_port {
    fake_handle self;            /* first: a fake_port * is a handle too */
    GRecMutex lock;              /* every operation: workers share one fake */
    gint refs;                   /* ports that close it (atomic) */
    GHashTable *store;           /* path -> value */
    guint64 gen;                 /* bumped by every change to the store */
    GHashTable *txns;            /* id -> struct txn* */
    uint32_t next_txn;
    bool conflict_once;          /* every transaction's first commit conflicts */
    unsigned conflicts;          /* conflicts answered (injected and real) */
    unsigned commits;            /* transactions committed */
    GList *watches;              /* struct watch* */
    GQueue events;               /* maint__watch_event* */
    int pipe[2];
    GArray *domains;             /* maint_domain_info */
    fake_write_hook hook;
    void *hook_opaque;
    bool in_hook;
    fake_config_fill config_fill; /* NULL: no configurations */
    bool dm_answers;             /* the device model can be asked */
    bool pci_bus0[256];          /* what it answers */
    uint32_t next_domid;         /* the next domain created */
    int create_rc;               /* what domain_create answers (0: creates) */
    fake_guest_hook guest;       /* plays the guests: unpause, shutdown */
    void *guest_opaque;
    char *last_created;          /* JSON of the last configuration created */
    /* events_attach: the caller's loop, told through a pipe */
    maint__loop_hooks loop;
    maint__event_hooks ev_hooks;
    void *ev_user;
    int evpipe[2];               /* -1 until attached */
    void *evreg;
    GQueue pending;              /* struct pending*: events and ends to deliver */
    GList *death_watches;        /* uint32_t* (the watch handles) */
    GHashTable *reasons;         /* domid -> shutdown reason + 1 */
    uint64_t host_free_kb;       /* host_info answers it (0: UNAVAILABLE) */
    bool spawn_fails;            /* a spawned program never says ready */
    char *last_spawn;            /* its argv, space-separated */
    /* kills (fake_port_kill_at): the daemon's life, the operations of its
     * threads counted towards the next kill */
    unsigned epoch;
    unsigned ops, kill_at, kills;
    GThread *test_thread;        /* never killed, never counted */
    GHashTable *building;        /* domids created but not yet introduced */
};

/* What the caller's loop is told next: a domain event, or an asynchronous
 * operation's end (done != NULL). */
struct pending {
    uint32_t domid;
    maint__dom_event what;
    int reason;
    maint__done_fn *done;
    void *user;
    int rc;
};

struct watch {
    char *path, *token;
};

/* A transaction works on a copy of the store taken at its start; it
 * commits only if nothing changed the store meanwhile (xenstored's rule
 * without per-node tracking). */
struct txn {
    GHashTable *copy;
    guint64 gen;
};

/* Whether this thread's next commit is the injected conflict (each thread
 * alternates: a transaction retried after EAGAIN commits the second time). */
static GPrivate conflict_due;

#define LOCKED(fp) g_autoptr(GRecMutexLocker) locker G_GNUC_UNUSED = g_rec_mutex_locker_new(&(fp)->lock)

/* A killed daemon's thread stops here for good, holding none of the fake's
 * locks (its process would be gone). */
static void G_GNUC_NORETURN park(void)
{
    for (;;)
        g_usleep((gulong)3600 * G_USEC_PER_SEC);
}

/*
 * The fake behind a port, at the start of each of its operations.  An
 * operation of a daemon's thread (not the test's) counts towards the next
 * kill; at the kill the daemon's life ends: this thread, and every thread
 * of that life at its next operation, parks for good.
 */
static fake_port *fake_of(void *priv)
{
    fake_handle *h = priv;
    fake_port *fp = h->fp;
    bool dead;

    if (h == &fp->self)
        return fp;
    g_rec_mutex_lock(&fp->lock);
    if (h->epoch == fp->epoch && fp->kill_at && g_thread_self() != fp->test_thread &&
        ++fp->ops == fp->kill_at) {
        fp->epoch++;
        fp->kills++;
        fp->kill_at = 0;
    }
    dead = h->epoch < fp->epoch;
    g_rec_mutex_unlock(&fp->lock);
    if (dead)
        park();
    return fp;
}

static bool under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);

    return !strncmp(path, prefix, n) && (path[n] == '\0' || path[n] == '/');
}

static void fire(fake_port *fp, const char *path)
{
    for (GList *l = fp->watches; l; l = l->next) {
        struct watch *w = l->data;

        if (under(path, w->path)) {
            maint__watch_event *ev = g_new(maint__watch_event, 1);

            ev->path = strdup(path);
            ev->token = strdup(w->token);
            g_queue_push_tail(&fp->events, ev);
            if (write(fp->pipe[1], "x", 1) < 0)
                abort();
        }
    }
}

/* The table an operation works on: the store, or a transaction's copy
 * (NULL with errno set for an unknown transaction). */
static GHashTable *table(fake_port *fp, uint32_t txn)
{
    struct txn *t;

    if (txn == MAINT__XS_NO_TXN)
        return fp->store;
    if (!(t = g_hash_table_lookup(fp->txns, GUINT_TO_POINTER(txn)))) {
        errno = ENOENT;
        return NULL;
    }
    return t->copy;
}

static char *f_read(void *priv, uint32_t txn, const char *path, unsigned *len_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    GHashTable *tbl = table(fp, txn);
    const char *v = tbl ? g_hash_table_lookup(tbl, path) : NULL;

    if (!v) {
        errno = ENOENT;
        return NULL;
    }
    if (len_r)
        *len_r = (unsigned)strlen(v);
    return strdup(v);
}

static void ensure_parents(GHashTable *tbl, const char *path)
{
    char *p = g_strdup(path), *slash;

    while ((slash = strrchr(p, '/')) && slash != p) {
        *slash = '\0';
        if (!g_hash_table_contains(tbl, p))
            g_hash_table_insert(tbl, g_strdup(p), g_strdup(""));
    }
    g_free(p);
}

/* A change to the store is seen: watches fire, the write hook runs. */
static void changed(fake_port *fp, const char *path, const char *value)
{
    fp->gen++;
    fire(fp, path);
    if (value && fp->hook && !fp->in_hook) {
        fp->in_hook = true;
        fp->hook(fp, path, value, fp->hook_opaque);
        fp->in_hook = false;
    }
}

static int put(fake_port *fp, uint32_t txn, const char *path, const char *value)
{
    GHashTable *tbl = table(fp, txn);

    if (!tbl)
        return -1;
    ensure_parents(tbl, path);
    g_hash_table_insert(tbl, g_strdup(path), g_strdup(value));
    if (txn == MAINT__XS_NO_TXN)
        changed(fp, path, value);
    return 0;
}

int fake_port_put(fake_port *fp, const char *path, const char *value)
{
    LOCKED(fp);

    return put(fp, MAINT__XS_NO_TXN, path, value);
}

static int f_write(void *priv, uint32_t txn, const char *path, const char *val,
                   unsigned len)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    g_autofree char *v = g_strndup(val, len);

    return put(fp, txn, path, v);
}

static int f_mkdir(void *priv, uint32_t txn, const char *path)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    GHashTable *tbl = table(fp, txn);

    if (!tbl)
        return -1;
    return g_hash_table_contains(tbl, path) ? 0 : put(fp, txn, path, "");
}

static int f_rm(void *priv, uint32_t txn, const char *path)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    GHashTable *tbl = table(fp, txn);
    GHashTableIter it;
    gpointer key;
    bool found = false;

    if (!tbl)
        return -1;
    g_hash_table_iter_init(&it, tbl);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        if (under(key, path)) {
            g_hash_table_iter_remove(&it);
            found = true;
        }
    }
    if (!found) {
        errno = ENOENT;
        return -1;
    }
    if (txn == MAINT__XS_NO_TXN)
        changed(fp, path, NULL);
    return 0;
}

static int f_directory(void *priv, uint32_t txn, const char *path, char ***names_r,
                       unsigned *nr_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    GHashTable *tbl = table(fp, txn);
    GPtrArray *names;
    GHashTableIter it;
    gpointer key;
    size_t n = strlen(path), total = 0;
    char **out, *strings;

    if (!tbl)
        return -1;
    if (!g_hash_table_contains(tbl, path)) {
        errno = ENOENT;
        return -1;
    }
    names = g_ptr_array_new();
    g_hash_table_iter_init(&it, tbl);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        const char *k = key;
        if (!strncmp(k, path, n) && k[n] == '/' && !strchr(k + n + 1, '/')) {
            g_ptr_array_add(names, (gpointer)(k + n + 1));
            total += strlen(k + n + 1) + 1;
        }
    }
    /* One allocation, like libxenstore. */
    out = malloc(names->len * sizeof(char *) + total + 1);
    strings = (char *)(out + names->len);
    for (unsigned i = 0; i < names->len; i++) {
        strcpy(strings, names->pdata[i]);
        out[i] = strings;
        strings += strlen(strings) + 1;
    }
    *names_r = out;
    *nr_r = names->len;
    g_ptr_array_free(names, TRUE);
    return 0;
}

static int f_set_perms(void *priv, uint32_t txn, const char *path,
                       const maint__perm *perms, unsigned nr)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    GHashTable *tbl = table(fp, txn);

    if (!tbl)
        return -1;
    if (!g_hash_table_contains(tbl, path)) {
        errno = ENOENT;
        return -1;
    }
    return 0;
}

static GHashTable *copy_table(GHashTable *src)
{
    GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, src);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_hash_table_insert(t, g_strdup(k), g_strdup(v));
    return t;
}

static void txn_free(gpointer p)
{
    struct txn *t = p;

    g_hash_table_destroy(t->copy);
    g_free(t);
}

static int f_txn_start(void *priv, uint32_t *txn_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    struct txn *t = g_new0(struct txn, 1);

    t->copy = copy_table(fp->store);
    t->gen = fp->gen;
    if (++fp->next_txn == MAINT__XS_NO_TXN)
        fp->next_txn++;
    *txn_r = fp->next_txn;
    g_hash_table_insert(fp->txns, GUINT_TO_POINTER(*txn_r), t);
    return 0;
}

/* The store becomes the transaction's copy; what differs is told (after
 * the comparison: a hook told of a change may write). */
static void commit(fake_port *fp, struct txn *t)
{
    GHashTable *old = fp->store;
    GHashTableIter it;
    gpointer k, v;
    GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *values = g_ptr_array_new_with_free_func(g_free);

    fp->store = t->copy;
    t->copy = old;
    g_hash_table_iter_init(&it, old);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (!g_hash_table_contains(fp->store, k)) {
            g_ptr_array_add(paths, g_strdup(k));
            g_ptr_array_add(values, NULL);
        }
    g_hash_table_iter_init(&it, fp->store);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const char *was = g_hash_table_lookup(old, k);

        if (!was || strcmp(was, v)) {
            g_ptr_array_add(paths, g_strdup(k));
            g_ptr_array_add(values, g_strdup(v));
        }
    }
    for (unsigned i = 0; i < paths->len; i++)
        changed(fp, paths->pdata[i], values->pdata[i]);
    g_ptr_array_free(paths, TRUE);
    g_ptr_array_free(values, TRUE);
    fp->commits++;
}

static int f_txn_end(void *priv, uint32_t txn, bool abort_it)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    struct txn *t = g_hash_table_lookup(fp->txns, GUINT_TO_POINTER(txn));
    bool inject;
    int r = 0;

    if (!t) {
        errno = ENOENT;
        return -1;
    }
    inject = fp->conflict_once && !abort_it && !g_private_get(&conflict_due);
    if (fp->conflict_once && !abort_it)
        g_private_set(&conflict_due, inject ? GINT_TO_POINTER(1) : NULL);
    if (!abort_it && (inject || t->gen != fp->gen)) {
        fp->conflicts++;
        errno = EAGAIN;
        r = -1;
    } else if (!abort_it) {
        commit(fp, t);
    }
    g_hash_table_remove(fp->txns, GUINT_TO_POINTER(txn));
    return r;
}

static int f_watch(void *priv, const char *path, const char *token)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    struct watch *w = g_new(struct watch, 1);

    w->path = g_strdup(path);
    w->token = g_strdup(token);
    fp->watches = g_list_append(fp->watches, w);
    fire(fp, path);     /* xenstored fires a new watch once */
    return 0;
}

static int f_unwatch(void *priv, const char *path, const char *token)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    for (GList *l = fp->watches; l; l = l->next) {
        struct watch *w = l->data;
        if (!strcmp(w->path, path) && !strcmp(w->token, token)) {
            fp->watches = g_list_delete_link(fp->watches, l);
            g_free(w->path);
            g_free(w->token);
            g_free(w);
            return 0;
        }
    }
    errno = ENOENT;
    return -1;
}

/* dom0 and the domains the test added (and has not removed) */
static bool f_introduced(void *priv, uint32_t domid)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    if (g_hash_table_contains(fp->building, GUINT_TO_POINTER(domid)))
        return false;
    for (unsigned i = 0; domid && i < fp->domains->len; i++)
        if (g_array_index(fp->domains, maint_domain_info, i).domid == domid)
            return true;
    return domid == 0;
}

static int f_fileno(void *priv)
{
    return ((fake_port *)priv)->pipe[0];
}

static int f_read_watch(void *priv, maint__watch_event *ev_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    maint__watch_event *ev = g_queue_pop_head(&fp->events);
    char c;

    if (!ev)
        return 0;
    if (read(fp->pipe[0], &c, 1) < 0)
        abort();
    *ev_r = *ev;
    g_free(ev);
    return 1;
}

static void copy_info(maint_domain_info *dst, const maint_domain_info *src)
{
    *dst = *src;
    dst->name = src->name ? strdup(src->name) : NULL;
}

static int f_domain_list(void *priv, maint_domain_info **list_r, int *nr_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    maint_domain_info *list = calloc(fp->domains->len + 1, sizeof(*list));

    for (unsigned i = 0; i < fp->domains->len; i++)
        copy_info(&list[i], &g_array_index(fp->domains, maint_domain_info, i));
    *list_r = list;
    *nr_r = (int)fp->domains->len;
    return MAINT_OK;
}

static int f_domain_info(void *priv, uint32_t domid, maint_domain_info *info_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    for (unsigned i = 0; i < fp->domains->len; i++) {
        maint_domain_info *d = &g_array_index(fp->domains, maint_domain_info, i);
        if (d->domid == domid) {
            copy_info(info_r, d);
            return MAINT_OK;
        }
    }
    return MAINT_ERROR_NOENT;
}

static int f_host_info(void *priv, maint_host_info *info_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    if (!fp->host_free_kb)
        return MAINT_ERROR_UNAVAILABLE;
    maint_host_info_init(info_r);
    info_r->total_kb = info_r->free_kb = fp->host_free_kb;
    return MAINT_OK;
}

static int f_domain_config_json(void *priv, uint32_t domid, char **json_r)
{
    return MAINT_ERROR_UNAVAILABLE;
}

static int f_config_get(void *priv, uint32_t domid, libxl_domain_config *cfg)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    maint_domain_info info;

    if (!fp->config_fill)
        return MAINT_ERROR_UNAVAILABLE;
    if (f_domain_info(fp, domid, &info) != MAINT_OK)
        return MAINT_ERROR_NOENT;
    free(info.name);
    fp->config_fill(cfg, domid);
    return MAINT_OK;
}

/* libxl's JSON of the configuration (compact), malloc'd. */
static char *f_config_to_json(void *priv, libxl_domain_config *cfg)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *out = NULL;

    if (libxl_domain_config_gen_json(g, cfg) == yajl_gen_status_ok &&
        yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
        out = strndup((const char *)buf, len);
    yajl_gen_free(g);
    return out;
}

static int f_dm_pci_bus0(void *priv, uint32_t domid, bool present[256], const char **why_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    if (!fp->dm_answers) {
        *why_r = "the fake port has no device model";
        return -1;
    }
    memcpy(present, fp->pci_bus0, sizeof(fp->pci_bus0));
    return 0;
}

static maint_domain_info *find_domain(fake_port *fp, uint32_t domid)
{
    for (unsigned i = 0; i < fp->domains->len; i++) {
        maint_domain_info *d = &g_array_index(fp->domains, maint_domain_info, i);

        if (d->domid == domid)
            return d;
    }
    return NULL;
}

/* Created paused with the configuration's UUID; then, as libxl goes on,
 * introduced, its home and name in xenstore.  A kill may come in between:
 * the domain is left half built (paused, unknown to xenstored, nameless). */
static int f_create(void *priv, libxl_domain_config *cfg, uint32_t *domid_r)
{
    fake_port *fp = fake_of(priv);
    maint_domain_info info;
    char *home;

    g_rec_mutex_lock(&fp->lock);
    if (!fp->next_domid || fp->create_rc) {
        int rc = fp->next_domid ? fp->create_rc : MAINT_ERROR_UNAVAILABLE;

        g_rec_mutex_unlock(&fp->lock);
        return rc;
    }
    maint_domain_info_init(&info);
    info.domid = fp->next_domid++;
    info.state = MAINT_DOMAIN_STATE_PAUSED;
    info.type = cfg->c_info.type == LIBXL_DOMAIN_TYPE_HVM ? MAINT_DOMAIN_TYPE_HVM
                : cfg->c_info.type == LIBXL_DOMAIN_TYPE_PVH ? MAINT_DOMAIN_TYPE_PVH
                : MAINT_DOMAIN_TYPE_PV;
    info.mem_max_kb = cfg->b_info.max_memkb;
    snprintf(info.uuid, sizeof(info.uuid), LIBXL_UUID_FMT,
             LIBXL_UUID_BYTES(cfg->c_info.uuid));
    fake_port_add_domain(fp, &info);
    g_hash_table_add(fp->building, GUINT_TO_POINTER(info.domid));
    g_rec_mutex_unlock(&fp->lock);

    fake_of(priv);                          /* a kill while it is being built */

    g_rec_mutex_lock(&fp->lock);
    g_hash_table_remove(fp->building, GUINT_TO_POINTER(info.domid));
    {
        maint_domain_info *d = find_domain(fp, info.domid);

        if (d && cfg->c_info.name)
            d->name = strdup(cfg->c_info.name);
    }
    home = g_strdup_printf("/local/domain/%u/name", info.domid);
    fake_port_put(fp, home, cfg->c_info.name ? cfg->c_info.name : "");
    g_free(home);
    free(fp->last_created);
    fp->last_created = f_config_to_json(fp, cfg);
    g_rec_mutex_unlock(&fp->lock);
    *domid_r = info.domid;
    return MAINT_OK;
}

static int f_unpause(void *priv, uint32_t domid)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    maint_domain_info *d = find_domain(fp, domid);

    if (!fp->next_domid)
        return MAINT_ERROR_UNAVAILABLE;
    if (!d)
        return MAINT_ERROR_NOENT;
    d->state = MAINT_DOMAIN_STATE_RUNNING;
    if (fp->guest)
        fp->guest(fp, domid, "unpause", fp->guest_opaque);
    return MAINT_OK;
}

/* Gone at once, its home with it. */
static int f_destroy(void *priv, uint32_t domid)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    char *home;

    if (!fp->next_domid)
        return MAINT_ERROR_UNAVAILABLE;
    if (!find_domain(fp, domid))
        return MAINT_ERROR_NOENT;
    fake_port_remove_domain(fp, domid);
    home = g_strdup_printf("/local/domain/%u", domid);
    f_rm(fp, MAINT__XS_NO_TXN, home);
    g_free(home);
    return MAINT_OK;
}

/* Asked: the guest decides (its hook may shut it down). */
static int f_shutdown(void *priv, uint32_t domid)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    if (!fp->next_domid)
        return MAINT_ERROR_UNAVAILABLE;
    if (!find_domain(fp, domid))
        return MAINT_ERROR_NOENT;
    if (fp->guest)
        fp->guest(fp, domid, "shutdown", fp->guest_opaque);
    return MAINT_OK;
}

static int f_name_to_domid(void *priv, const char *name, uint32_t *domid_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    for (unsigned i = 0; i < fp->domains->len; i++) {
        maint_domain_info *d = &g_array_index(fp->domains, maint_domain_info, i);

        if (d->name && !strcmp(d->name, name)) {
            *domid_r = d->domid;
            return MAINT_OK;
        }
    }
    return MAINT_ERROR_NOENT;
}

static void f_close(void *priv)
{
    fake_handle *h = priv;
    fake_port *fp = h->fp;
    maint__watch_event *ev;

    if (h != &fp->self)
        g_free(h);
    if (!g_atomic_int_dec_and_test(&fp->refs))
        return;
    g_hash_table_destroy(fp->building);
    g_hash_table_destroy(fp->store);
    g_hash_table_destroy(fp->txns);
    g_hash_table_destroy(fp->reasons);
    g_list_free_full(fp->death_watches, g_free);
    g_queue_clear_full(&fp->pending, g_free);
    if (fp->evpipe[0] >= 0) {
        if (fp->evreg)
            fp->loop.fd_deregister(fp->ev_user, fp->evpipe[0], fp->evreg);
        close(fp->evpipe[0]);
        close(fp->evpipe[1]);
    }
    while (fp->watches) {
        struct watch *w = fp->watches->data;
        g_free(w->path);
        g_free(w->token);
        g_free(w);
        fp->watches = g_list_delete_link(fp->watches, fp->watches);
    }
    while ((ev = g_queue_pop_head(&fp->events))) {
        free(ev->path);
        free(ev->token);
        g_free(ev);
    }
    for (unsigned i = 0; i < fp->domains->len; i++)
        free(g_array_index(fp->domains, maint_domain_info, i).name);
    g_array_free(fp->domains, TRUE);
    free(fp->last_created);
    g_free(fp->last_spawn);
    close(fp->pipe[0]);
    close(fp->pipe[1]);
    g_rec_mutex_clear(&fp->lock);
    g_free(fp);
}

/* ---- events and asynchronous operations, through the caller's loop -------- */

static void queue(fake_port *fp, struct pending *p)
{
    if (fp->evpipe[1] < 0) {        /* nobody attached: nobody told */
        g_free(p);
        return;
    }
    g_queue_push_tail(&fp->pending, p);
    if (write(fp->evpipe[1], "x", 1) < 0 && errno != EAGAIN)
        abort();
}

static bool watched(fake_port *fp, uint32_t domid)
{
    for (GList *l = fp->death_watches; l; l = l->next)
        if (*(uint32_t *)l->data == domid)
            return true;
    return false;
}

static void queue_event(fake_port *fp, uint32_t domid, maint__dom_event what, int reason)
{
    struct pending *p;

    if (!watched(fp, domid))
        return;
    p = g_new0(struct pending, 1);
    p->domid = domid;
    p->what = what;
    p->reason = reason;
    queue(fp, p);
}

static void queue_done(fake_port *fp, maint__done_fn *done, void *user, int rc)
{
    struct pending *p = g_new0(struct pending, 1);

    p->done = done;
    p->user = user;
    p->rc = rc;
    queue(fp, p);
}

static int f_events_attach(void *priv, const maint__loop_hooks *loop,
                           const maint__event_hooks *events, void *user)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    if (!fp->next_domid)
        return MAINT_ERROR_UNAVAILABLE;
    fp->loop = *loop;
    fp->ev_hooks = *events;
    fp->ev_user = user;
    if (pipe2(fp->evpipe, O_NONBLOCK | O_CLOEXEC) < 0)
        abort();
    return loop->fd_register(user, fp->evpipe[0], &fp->evreg, POLLIN, fp) ? MAINT_ERROR_FAIL
                                                                          : MAINT_OK;
}

/* What is pending is told outside the fake's lock: the caller may call in. */
static void f_fd_occurred(void *priv, void *for_port, int fd, short events, short revents)
{
    fake_port *fp = fake_of(priv);
    GQueue todo = G_QUEUE_INIT;
    struct pending *p;
    char buf[64];

    g_rec_mutex_lock(&fp->lock);
    while (read(fp->evpipe[0], buf, sizeof(buf)) > 0)
        ;
    while ((p = g_queue_pop_head(&fp->pending)))
        g_queue_push_tail(&todo, p);
    g_rec_mutex_unlock(&fp->lock);
    while ((p = g_queue_pop_head(&todo))) {
        if (p->done)
            p->done(p->user, p->rc);
        else
            fp->ev_hooks.domain_event(fp->ev_user, p->domid, p->what, p->reason);
        g_free(p);
    }
}

static void f_timeout_occurred(void *priv, void *for_port)
{
}

static int f_death_watch(void *priv, uint32_t domid, void **watch_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    uint32_t *w;

    if (!find_domain(fp, domid))
        return MAINT_ERROR_NOENT;
    w = g_new(uint32_t, 1);
    *w = domid;
    fp->death_watches = g_list_prepend(fp->death_watches, w);
    *watch_r = w;
    return MAINT_OK;
}

static void f_death_unwatch(void *priv, void *watch)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);

    fp->death_watches = g_list_remove(fp->death_watches, watch);
    g_free(watch);
}

static int f_destroy_async(void *priv, uint32_t domid, maint__done_fn *done, void *user)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    int rc = f_destroy(fp, domid);

    if (rc == MAINT_OK)
        queue_done(fp, done, user, MAINT_OK);
    return rc;
}

static int f_config_get_async(void *priv, uint32_t domid, libxl_domain_config *cfg,
                              maint__done_fn *done, void *user)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    int rc = f_config_get(fp, domid, cfg);

    if (rc == MAINT_OK)
        queue_done(fp, done, user, MAINT_OK);
    return rc;
}

/* A domain of the scripted hypervisor, or NULL with *rc_r: UNAVAILABLE
 * without one, NOENT when it has no such domain. */
static maint_domain_info *hv_domain(fake_port *fp, uint32_t domid, int *rc_r)
{
    maint_domain_info *d = fp->next_domid ? find_domain(fp, domid) : NULL;

    *rc_r = !fp->next_domid ? MAINT_ERROR_UNAVAILABLE : d ? MAINT_OK : MAINT_ERROR_NOENT;
    return d;
}

static int f_shutdown_reason(void *priv, uint32_t domid, int *reason_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    gpointer r;
    int rc;

    if (!hv_domain(fp, domid, &rc))
        return rc;
    if (!(r = g_hash_table_lookup(fp->reasons, GUINT_TO_POINTER(domid))))
        return MAINT_ERROR_BUSY;
    *reason_r = GPOINTER_TO_INT(r) - 1;
    return MAINT_OK;
}

static int f_set_memory_target(void *priv, uint32_t domid, uint64_t kb)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    maint_domain_info *d;
    int rc;

    if ((d = hv_domain(fp, domid, &rc)))
        d->mem_target_kb = kb;
    return rc;
}

/* Nothing runs: the program's readiness is what the test said. */
static int f_spawn_detached(void *priv, char *const argv[], const char *log_path,
                            int *ready_fd_r)
{
    fake_port *fp = fake_of(priv);
    LOCKED(fp);
    int pfd[2];

    g_free(fp->last_spawn);
    fp->last_spawn = g_strjoinv(" ", (char **)argv);
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return MAINT_ERROR_FAIL;
    if (!fp->spawn_fails && write(pfd[1], "ready\n", 6) != 6)
        abort();
    close(pfd[1]);
    *ready_fd_r = pfd[0];
    return MAINT_OK;
}

void fake_port_shutdown(fake_port *fp, uint32_t domid, int reason)
{
    LOCKED(fp);
    maint_domain_info *d = find_domain(fp, domid);

    if (!d)
        return;
    d->state = reason == LIBXL_SHUTDOWN_REASON_CRASH ? MAINT_DOMAIN_STATE_CRASHED
                                                     : MAINT_DOMAIN_STATE_SHUTDOWN;
    g_hash_table_insert(fp->reasons, GUINT_TO_POINTER(domid), GINT_TO_POINTER(reason + 1));
    queue_event(fp, domid, MAINT__DOM_SHUTDOWN, reason);
}

static const maint__port_ops fake_ops = {
    .xs_read = f_read, .xs_write = f_write, .xs_mkdir = f_mkdir, .xs_rm = f_rm,
    .xs_directory = f_directory, .xs_set_perms = f_set_perms,
    .xs_txn_start = f_txn_start, .xs_txn_end = f_txn_end,
    .xs_watch = f_watch, .xs_unwatch = f_unwatch, .xs_fileno = f_fileno,
    .xs_introduced = f_introduced,
    .xs_read_watch = f_read_watch, .domain_list = f_domain_list,
    .domain_info = f_domain_info, .host_info = f_host_info,
    .domain_config_json = f_domain_config_json, .domain_config_get = f_config_get,
    .config_to_json = f_config_to_json, .domain_create = f_create,
    .domain_unpause = f_unpause, .domain_destroy = f_destroy,
    .domain_shutdown = f_shutdown,
    .name_to_domid = f_name_to_domid, .dm_pci_bus0 = f_dm_pci_bus0,
    .shutdown_reason = f_shutdown_reason, .set_memory_target = f_set_memory_target,
    .spawn_detached = f_spawn_detached,
    .events_attach = f_events_attach, .loop_fd_occurred = f_fd_occurred,
    .loop_timeout_occurred = f_timeout_occurred, .death_watch = f_death_watch,
    .death_unwatch = f_death_unwatch, .destroy_async = f_destroy_async,
    .config_get_async = f_config_get_async, .close = f_close,
};

fake_port *fake_port_new(maint__port *port_r)
{
    fake_port *fp = g_new0(fake_port, 1);

    g_rec_mutex_init(&fp->lock);
    fp->refs = 1;
    fp->store = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    fp->txns = g_hash_table_new_full(NULL, NULL, NULL, txn_free);
    fp->reasons = g_hash_table_new(NULL, NULL);
    fp->building = g_hash_table_new(NULL, NULL);
    fp->self.fp = fp;
    fp->evpipe[0] = fp->evpipe[1] = -1;
    g_queue_init(&fp->pending);
    g_queue_init(&fp->events);
    if (pipe2(fp->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        abort();
    fp->domains = g_array_new(FALSE, TRUE, sizeof(maint_domain_info));
    port_r->ops = &fake_ops;
    port_r->priv = fp;
    return fp;
}

void fake_port_set_write_hook(fake_port *fp, fake_write_hook hook, void *opaque)
{
    LOCKED(fp);
    fp->hook = hook;
    fp->hook_opaque = opaque;
}

void fake_port_add_domain(fake_port *fp, const maint_domain_info *info)
{
    LOCKED(fp);
    maint_domain_info copy;

    copy_info(&copy, info);
    g_array_append_val(fp->domains, copy);
}

void fake_port_set_hypervisor(fake_port *fp, uint32_t first_domid, fake_guest_hook guest,
                              void *opaque)
{
    LOCKED(fp);
    fp->next_domid = first_domid;
    fp->guest = guest;
    fp->guest_opaque = opaque;
}

void fake_port_set_create_rc(fake_port *fp, int rc)
{
    LOCKED(fp);
    fp->create_rc = rc;
}

const char *fake_port_last_created(fake_port *fp)
{
    LOCKED(fp);
    return fp->last_created;
}

void fake_port_set_domain_state(fake_port *fp, uint32_t domid, maint_domain_state state)
{
    LOCKED(fp);
    maint_domain_info *d = find_domain(fp, domid);

    if (d)
        d->state = state;
}

static void queue_event(fake_port *fp, uint32_t domid, maint__dom_event what, int reason);

void fake_port_remove_domain(fake_port *fp, uint32_t domid)
{
    LOCKED(fp);
    if (fp->reasons)
        g_hash_table_remove(fp->reasons, GUINT_TO_POINTER(domid));
    queue_event(fp, domid, MAINT__DOM_DEATH, 0);
    for (unsigned i = 0; i < fp->domains->len; i++) {
        maint_domain_info *d = &g_array_index(fp->domains, maint_domain_info, i);

        if (d->domid == domid) {
            maint_domain_info_dispose(d);
            g_array_remove_index(fp->domains, i);
            return;
        }
    }
}

const char *fake_port_get(fake_port *fp, const char *path)
{
    LOCKED(fp);
    return g_hash_table_lookup(fp->store, path);
}

unsigned fake_port_count_prefix(fake_port *fp, const char *prefix)
{
    LOCKED(fp);
    GHashTableIter it;
    gpointer key;
    unsigned n = 0;

    g_hash_table_iter_init(&it, fp->store);
    while (g_hash_table_iter_next(&it, &key, NULL))
        if (under(key, prefix))
            n++;
    return n;
}

maint__port fake_port_ref(fake_port *fp)
{
    fake_handle *h = g_new(fake_handle, 1);
    maint__port port = { fake_port_port(fp).ops, h };

    h->fp = fp;
    g_rec_mutex_lock(&fp->lock);
    h->epoch = fp->epoch;
    g_rec_mutex_unlock(&fp->lock);
    g_atomic_int_inc(&fp->refs);
    return port;
}

maint__port fake_port_port(fake_port *fp)
{
    maint__port port = { &fake_ops, fp };

    return port;
}

void fake_port_set_config_fill(fake_port *fp, fake_config_fill fill)
{
    LOCKED(fp);
    fp->config_fill = fill;
}

void fake_port_set_pci_bus0(fake_port *fp, const bool present[256])
{
    LOCKED(fp);
    fp->dm_answers = present != NULL;
    if (present)
        memcpy(fp->pci_bus0, present, sizeof(fp->pci_bus0));
}

void fake_port_set_conflict_once(fake_port *fp, bool on)
{
    LOCKED(fp);
    fp->conflict_once = on;
}

unsigned fake_port_conflicts(fake_port *fp)
{
    LOCKED(fp);
    return fp->conflicts;
}

unsigned fake_port_commits(fake_port *fp)
{
    LOCKED(fp);
    return fp->commits;
}

void fake_port_set_host_free(fake_port *fp, uint64_t kb)
{
    LOCKED(fp);
    fp->host_free_kb = kb;
}

void fake_port_set_spawn_fails(fake_port *fp, bool fails)
{
    LOCKED(fp);
    fp->spawn_fails = fails;
}

const char *fake_port_last_spawn(fake_port *fp)
{
    LOCKED(fp);
    return fp->last_spawn;
}

void fake_port_kill_at(fake_port *fp, unsigned nth)
{
    LOCKED(fp);
    fp->test_thread = g_thread_self();
    fp->ops = 0;
    fp->kill_at = nth;
}

unsigned fake_port_ops(fake_port *fp)
{
    LOCKED(fp);
    return fp->ops;
}

unsigned fake_port_kills(fake_port *fp)
{
    LOCKED(fp);
    return fp->kills;
}

/* What killed lives were still to be told: kept, never told (what their
 * completions would have freed stays reachable, as a dead process's
 * memory is not a leak). */
static GQueue dead_pending = G_QUEUE_INIT;

void fake_port_forget_life(fake_port *fp)
{
    struct pending *p;

    LOCKED(fp);
    while ((p = g_queue_pop_head(&fp->pending)))
        g_queue_push_tail(&dead_pending, p);
    if (fp->evpipe[0] >= 0) {
        if (fp->evreg)
            fp->loop.fd_deregister(fp->ev_user, fp->evpipe[0], fp->evreg);
        close(fp->evpipe[0]);
        close(fp->evpipe[1]);
        fp->evpipe[0] = fp->evpipe[1] = -1;
    }
    fp->evreg = NULL;
}
