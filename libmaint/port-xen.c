/*
 * The real port: libxenstore for xenstore, libxl for the hypervisor, QMP
 * for what a device model emulates.  This file and nothing else in libmaint
 * calls those libraries or sockets directly, so every other module can be
 * tested with a fake port.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <libxl_utils.h>
#include <yajl/yajl_tree.h>

#include "port-xen.h"
#include "schema.h"


static char *px_read(void *priv, uint32_t txn, const char *path, unsigned *len_r)
{
    struct port_xen *px = priv;
    unsigned len = 0;
    char *v = xs_read(px->xs, txn, path, &len);

    if (len_r)
        *len_r = len;
    return v;
}

static int px_write(void *priv, uint32_t txn, const char *path, const char *val,
                    unsigned len)
{
    struct port_xen *px = priv;

    return xs_write(px->xs, txn, path, val, len) ? 0 : -1;
}

static int px_mkdir(void *priv, uint32_t txn, const char *path)
{
    struct port_xen *px = priv;

    return xs_mkdir(px->xs, txn, path) ? 0 : -1;
}

static int px_rm(void *priv, uint32_t txn, const char *path)
{
    struct port_xen *px = priv;

    return xs_rm(px->xs, txn, path) ? 0 : -1;
}

static int px_directory(void *priv, uint32_t txn, const char *path,
                        char ***names_r, unsigned *nr_r)
{
    struct port_xen *px = priv;
    unsigned nr = 0;
    char **names = xs_directory(px->xs, txn, path, &nr);

    if (!names)
        return -1;
    *names_r = names;
    *nr_r = nr;
    return 0;
}

static int px_set_perms(void *priv, uint32_t txn, const char *path,
                        const maint__perm *perms, unsigned nr)
{
    struct port_xen *px = priv;
    struct xs_permissions p[16];
    unsigned i;

    if (nr == 0 || nr > 16) {
        errno = EINVAL;
        return -1;
    }
    for (i = 0; i < nr; i++) {
        p[i].id = perms[i].domid;
        switch (perms[i].perm) {
        case 'r': p[i].perms = XS_PERM_READ; break;
        case 'w': p[i].perms = XS_PERM_WRITE; break;
        case 'b': p[i].perms = XS_PERM_READ | XS_PERM_WRITE; break;
        default:  p[i].perms = XS_PERM_NONE; break;
        }
    }
    return xs_set_permissions(px->xs, txn, path, p, nr) ? 0 : -1;
}

static int px_txn_start(void *priv, uint32_t *txn_r)
{
    struct port_xen *px = priv;
    xs_transaction_t t = xs_transaction_start(px->xs);

    if (t == XBT_NULL)
        return -1;
    *txn_r = t;
    return 0;
}

static int px_txn_end(void *priv, uint32_t txn, bool abort)
{
    struct port_xen *px = priv;

    return xs_transaction_end(px->xs, txn, abort) ? 0 : -1;
}

static struct xs_handle *watch_handle(struct port_xen *px)
{
    if (!px->xsw) {
        px->xsw = xs_open(0);
        if (!px->xsw)
            LOGE(px->lg, ERROR, "cannot open a xenstore connection for watches");
    }
    return px->xsw;
}

static int px_watch(void *priv, const char *path, const char *token)
{
    struct xs_handle *h = watch_handle(priv);

    return h && xs_watch(h, path, token) ? 0 : -1;
}

static int px_unwatch(void *priv, const char *path, const char *token)
{
    struct port_xen *px = priv;

    return px->xsw && xs_unwatch(px->xsw, path, token) ? 0 : -1;
}

static int px_fileno(void *priv)
{
    struct xs_handle *h = watch_handle(priv);

    return h ? xs_fileno(h) : -1;
}

static bool px_introduced(void *priv, uint32_t domid)
{
    struct port_xen *px = priv;

    return domid == 0 || xs_is_domain_introduced(px->xs, domid);
}

static int px_read_watch(void *priv, maint__watch_event *ev_r)
{
    struct port_xen *px = priv;
    char **v;

    if (!px->xsw)
        return 0;
    v = xs_check_watch(px->xsw);
    if (!v)
        return errno == EAGAIN ? 0 : -1;
    ev_r->path = strdup(v[XS_WATCH_PATH]);
    ev_r->token = strdup(v[XS_WATCH_TOKEN]);
    free(v);
    if (!ev_r->path || !ev_r->token) {
        free(ev_r->path);
        free(ev_r->token);
        errno = ENOMEM;
        return -1;
    }
    return 1;
}

/* ---- Hypervisor -------------------------------------------------------- */

static maint_domain_state dominfo_state(const libxl_dominfo *d)
{
    if (d->dying)
        return MAINT_DOMAIN_STATE_DYING;
    if (d->shutdown)
        return d->shutdown_reason == LIBXL_SHUTDOWN_REASON_CRASH ?
               MAINT_DOMAIN_STATE_CRASHED : MAINT_DOMAIN_STATE_SHUTDOWN;
    if (d->paused)
        return MAINT_DOMAIN_STATE_PAUSED;
    if (d->running)
        return MAINT_DOMAIN_STATE_RUNNING;
    return MAINT_DOMAIN_STATE_BLOCKED;
}

static maint_domain_type dominfo_type(const libxl_dominfo *d)
{
    switch (d->domain_type) {
    case LIBXL_DOMAIN_TYPE_PV: return MAINT_DOMAIN_TYPE_PV;
    case LIBXL_DOMAIN_TYPE_PVH: return MAINT_DOMAIN_TYPE_PVH;
    case LIBXL_DOMAIN_TYPE_HVM: return MAINT_DOMAIN_TYPE_HVM;
    default: return MAINT_DOMAIN_TYPE_UNKNOWN;
    }
}

static int fill_info(struct port_xen *px, const libxl_dominfo *d,
                     maint_domain_info *info)
{
    uint64_t target = 0;
    char *name;

    maint_domain_info_init(info);
    info->domid = d->domid;
    name = libxl_domid_to_name(px->ctx, d->domid);
    info->name = name;          /* libxl returns malloc'd memory */
    snprintf(info->uuid, sizeof(info->uuid), LIBXL_UUID_FMT,
             LIBXL_UUID_BYTES(d->uuid));
    info->state = dominfo_state(d);
    info->type = d->domid == 0 ? MAINT_DOMAIN_TYPE_PV : dominfo_type(d);
    info->mem_actual_kb = d->current_memkb;
    info->mem_max_kb = d->max_memkb;
    {
        /* Xen's max_pages follows the target; the static maximum (xl.cfg
         * maxmem) is what libxl keeps in xenstore */
        char path[64], *v;
        unsigned len;

        snprintf(path, sizeof(path), MAINT_XS_DOMAIN_STATIC_MAX_FMT, d->domid);
        if ((v = xs_read(px->xs, XBT_NULL, path, &len))) {
            unsigned long long kb = strtoull(v, NULL, 10);
            if (kb > info->mem_max_kb)
                info->mem_max_kb = kb;
            free(v);
        }
    }
    if (libxl_get_memory_target(px->ctx, d->domid, &target) == 0)
        info->mem_target_kb = target;
    else
        info->mem_target_kb = d->current_memkb;
    info->vcpus_online = d->vcpu_online;
    info->vcpus_max = d->vcpu_max_id + 1;
    info->cpu_time_ns = d->cpu_time;
    return MAINT_OK;
}

static int px_domain_list(void *priv, maint_domain_info **list_r, int *nr_r)
{
    struct port_xen *px = priv;
    libxl_dominfo *infos;
    maint_domain_info *list;
    int nr = 0, i;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    infos = libxl_list_domain(px->ctx, &nr);
    if (!infos) {
        LOGE(px->lg, ERROR, "libxl_list_domain failed");
        return MAINT_ERROR_HYPERVISOR;
    }
    list = calloc(nr > 0 ? (size_t)nr : 1, sizeof(*list));
    if (!list) {
        libxl_dominfo_list_free(infos, nr);
        return MAINT_ERROR_NOMEM;
    }
    for (i = 0; i < nr; i++)
        fill_info(px, &infos[i], &list[i]);
    libxl_dominfo_list_free(infos, nr);
    *list_r = list;
    *nr_r = nr;
    return MAINT_OK;
}

static int px_domain_info(void *priv, uint32_t domid, maint_domain_info *info_r)
{
    struct port_xen *px = priv;
    libxl_dominfo d;
    int r, rc;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    libxl_dominfo_init(&d);
    r = libxl_domain_info(px->ctx, &d, domid);
    if (r == ERROR_DOMAIN_NOTFOUND) {
        rc = MAINT_ERROR_NOENT;
    } else if (r) {
        LOGD(px->lg, ERROR, domid, "libxl_domain_info failed (%d)", r);
        rc = MAINT_ERROR_HYPERVISOR;
    } else {
        rc = fill_info(px, &d, info_r);
    }
    libxl_dominfo_dispose(&d);
    return rc;
}

static int px_host_info(void *priv, maint_host_info *info)
{
    struct port_xen *px = priv;
    libxl_physinfo pi;
    const libxl_version_info *vi;
    libxl_cputopology *topo = NULL;
    libxl_numainfo *numa = NULL;
    int nr_topo = 0, nr_numa = 0, i, rc;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    libxl_physinfo_init(&pi);
    if (libxl_get_physinfo(px->ctx, &pi)) {
        LOG(px->lg, ERROR, "libxl_get_physinfo failed");
        rc = MAINT_ERROR_HYPERVISOR;
        goto out;
    }
    vi = libxl_get_version_info(px->ctx);
    if (vi)
        info->xen_version = maint__sprintf("%d.%d%s", vi->xen_version_major,
                                           vi->xen_version_minor,
                                           vi->xen_version_extra ?
                                           vi->xen_version_extra : "");
    info->nr_cpus = pi.nr_cpus;
    info->threads_per_core = pi.threads_per_core;
    info->cores_per_socket = pi.cores_per_socket;
    info->cpu_khz = pi.cpu_khz;
    info->total_kb = pi.total_pages * 4;
    info->free_kb = pi.free_pages * 4;
    info->hvm = pi.cap_hvm;
    info->hap = pi.cap_hap;
    info->pv = pi.cap_pv;

    topo = libxl_get_cpu_topology(px->ctx, &nr_topo);
    if (topo && nr_topo > 0) {
        info->cpus = calloc((size_t)nr_topo, sizeof(*info->cpus));
        if (!info->cpus) {
            rc = MAINT_ERROR_NOMEM;
            goto out;
        }
        for (i = 0; i < nr_topo; i++) {
            info->cpus[i].core = topo[i].core;
            info->cpus[i].socket = topo[i].socket;
            info->cpus[i].node = topo[i].node;
        }
        /* physinfo counts online CPUs; the topology covers max_cpu_id. */
        info->nr_cpus = (unsigned)nr_topo;
    }
    numa = libxl_get_numainfo(px->ctx, &nr_numa);
    if (numa && nr_numa > 0) {
        info->nodes = calloc((size_t)nr_numa, sizeof(*info->nodes));
        if (!info->nodes) {
            rc = MAINT_ERROR_NOMEM;
            goto out;
        }
        for (i = 0; i < nr_numa; i++) {
            info->nodes[i].size_kb = numa[i].size / 1024;
            info->nodes[i].free_kb = numa[i].free / 1024;
        }
        info->nr_nodes = (unsigned)nr_numa;
    }
    rc = MAINT_OK;
out:
    if (topo)
        libxl_cputopology_list_free(topo, nr_topo);
    if (numa)
        libxl_numainfo_list_free(numa, nr_numa);
    libxl_physinfo_dispose(&pi);
    return rc;
}

static int px_domain_config_get(void *priv, uint32_t domid, libxl_domain_config *cfg)
{
    struct port_xen *px = priv;
    int r;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    r = libxl_retrieve_domain_configuration(px->ctx, domid, cfg, NULL);
    if (r == ERROR_DOMAIN_NOTFOUND || r == ERROR_INVAL) {
        LOGD(px->lg, ERROR, domid, "no such domain (libxl error %d)", r);
        return MAINT_ERROR_NOENT;
    }
    if (r) {
        LOGD(px->lg, ERROR, domid, "libxl_retrieve_domain_configuration failed (%d)", r);
        return MAINT_ERROR_HYPERVISOR;
    }
    return MAINT_OK;
}

static int px_config_from_json(void *priv, libxl_domain_config *cfg, const char *json)
{
    struct port_xen *px = priv;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    if (libxl_domain_config_from_json(px->ctx, cfg, json)) {
        LOG(px->lg, ERROR, "not a libxl domain configuration (JSON)");
        return MAINT_ERROR_INVAL;
    }
    return MAINT_OK;
}

static char *px_config_to_json(void *priv, libxl_domain_config *cfg)
{
    struct port_xen *px = priv;

    return px->ctx ? libxl_domain_config_to_json(px->ctx, cfg) : NULL;
}

static int px_domain_create(void *priv, libxl_domain_config *cfg, uint32_t *domid_r)
{
    struct port_xen *px = priv;
    uint32_t domid = INVALID_DOMID;
    int r;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    /* libxl leaves a new domain paused; the caller unpauses it. */
    r = libxl_domain_create_new(px->ctx, cfg, &domid, NULL, NULL);
    if (r) {
        LOG(px->lg, ERROR, "cannot create domain '%s' (libxl error %d)",
            cfg->c_info.name ? cfg->c_info.name : "?", r);
        return MAINT_ERROR_HYPERVISOR;
    }
    *domid_r = domid;
    return MAINT_OK;
}

static int px_domain_unpause(void *priv, uint32_t domid)
{
    struct port_xen *px = priv;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    if (libxl_domain_unpause(px->ctx, domid, NULL)) {
        LOGD(px->lg, ERROR, domid, "cannot unpause");
        return MAINT_ERROR_HYPERVISOR;
    }
    return MAINT_OK;
}

static int px_domain_destroy(void *priv, uint32_t domid)
{
    struct port_xen *px = priv;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    if (libxl_domain_destroy(px->ctx, domid, NULL)) {
        LOGD(px->lg, ERROR, domid, "cannot destroy");
        return MAINT_ERROR_HYPERVISOR;
    }
    return MAINT_OK;
}

static int px_domain_shutdown(void *priv, uint32_t domid)
{
    struct port_xen *px = priv;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    if (libxl_domain_shutdown(px->ctx, domid, NULL)) {
        LOGD(px->lg, ERROR, domid, "cannot ask for a shutdown");
        return MAINT_ERROR_HYPERVISOR;
    }
    return MAINT_OK;
}

static int px_shutdown_reason(void *priv, uint32_t domid, int *reason_r)
{
    struct port_xen *px = priv;
    libxl_dominfo d;
    int rc;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    libxl_dominfo_init(&d);
    rc = maint__px_rc(libxl_domain_info(px->ctx, &d, domid));
    if (rc == MAINT_OK && d.dying)
        rc = MAINT_ERROR_NOENT;
    else if (rc == MAINT_OK && !d.shutdown)
        rc = MAINT_ERROR_BUSY;
    else if (rc == MAINT_OK)
        *reason_r = d.shutdown_reason;
    libxl_dominfo_dispose(&d);
    return rc;
}

static int px_set_memory_target(void *priv, uint32_t domid, uint64_t kb)
{
    struct port_xen *px = priv;
    int r;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    r = libxl_set_memory_target(px->ctx, domid, (int64_t)kb, 0, 1);
    if (r)
        LOGD(px->lg, WARN, domid, "cannot set the memory target to %llu KiB (libxl %d)",
             (unsigned long long)kb, r);
    return maint__px_rc(r);
}

/* ---- Processes ------------------------------------------------------------ */

/* In the launcher (a child): detach and exec, or _exit. */
static void launch(char *const argv[], const char *log_path, int ready_w)
{
    int fd = open("/dev/null", O_RDWR), lfd;

    lfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (lfd >= 0)
        dup2(lfd, 2);
    setsid();
    if (fork() != 0)
        _exit(0);
    if (dup2(ready_w, 3) < 0)
        _exit(127);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
    }
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv);
    _exit(127);
}

static int px_spawn_detached(void *priv, char *const argv[], const char *log_path,
                             int *ready_fd_r)
{
    struct port_xen *px = priv;
    int pfd[2];
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC) < 0) {
        LOGE(px->lg, ERROR, "cannot start %s: pipe", argv[0]);
        return MAINT_ERROR_FAIL;
    }
    pid = fork();
    if (pid < 0) {
        LOGE(px->lg, ERROR, "cannot start %s: fork", argv[0]);
        close(pfd[0]);
        close(pfd[1]);
        return MAINT_ERROR_FAIL;
    }
    if (pid == 0)
        launch(argv, log_path, pfd[1]);
    close(pfd[1]);
    /* the launcher, ours alone (libxl reaps only its own children) */
    if (maint__child_wait(pid, NULL) < 0)
        LOGE(px->lg, WARN, "waiting for %s's launcher %ld", argv[0], (long)pid);
    *ready_fd_r = pfd[0];
    return MAINT_OK;
}

static int px_name_to_domid(void *priv, const char *name, uint32_t *domid_r)
{
    struct port_xen *px = priv;

    if (!px->ctx)
        return MAINT_ERROR_UNAVAILABLE;
    return libxl_name_to_domid(px->ctx, name, domid_r) ? MAINT_ERROR_NOENT : MAINT_OK;
}

static int px_domain_config_json(void *priv, uint32_t domid, char **json_r)
{
    libxl_domain_config cfg;
    int rc;

    libxl_domain_config_init(&cfg);
    rc = px_domain_config_get(priv, domid, &cfg);
    if (rc == MAINT_OK) {
        *json_r = px_config_to_json(priv, &cfg);
        rc = *json_r ? MAINT_OK : MAINT_ERROR_NOMEM;
    }
    libxl_domain_config_dispose(&cfg);
    return rc;
}

/* ---- What an HVM domain's device model emulates (QMP) --------------------- */

#define QMP_SOCKET_FMT "/var/run/xen/qmp-libxl-%u"
#define QMP_TIMEOUT_MS 5000

/* Send all of s on fd. */
static int qmp_send(int fd, const char *s)
{
    size_t len = strlen(s);

    while (len) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Mark in present[devfn] the functions of bus 0 in a query-pci answer. */
static int qmp_pci_answer(yajl_val answer, bool present[256])
{
    static const char *ret_path[] = { "return", NULL };
    static const char *bus_path[] = { "bus", NULL };
    static const char *devs_path[] = { "devices", NULL };
    static const char *slot_path[] = { "slot", NULL };
    static const char *fn_path[] = { "function", NULL };
    yajl_val buses = yajl_tree_get(answer, ret_path, yajl_t_array);

    if (!buses)
        return -1;
    for (size_t i = 0; i < buses->u.array.len; i++) {
        yajl_val bus = yajl_tree_get(buses->u.array.values[i], bus_path, yajl_t_number);
        yajl_val devs = yajl_tree_get(buses->u.array.values[i], devs_path, yajl_t_array);

        if (!bus || !YAJL_IS_INTEGER(bus) || YAJL_GET_INTEGER(bus) != 0 || !devs)
            continue;
        for (size_t j = 0; j < devs->u.array.len; j++) {
            yajl_val slot = yajl_tree_get(devs->u.array.values[j], slot_path, yajl_t_number);
            yajl_val fn = yajl_tree_get(devs->u.array.values[j], fn_path, yajl_t_number);

            if (slot && fn && YAJL_IS_INTEGER(slot) && YAJL_IS_INTEGER(fn) &&
                YAJL_GET_INTEGER(slot) >= 0 && YAJL_GET_INTEGER(slot) < 32 &&
                YAJL_GET_INTEGER(fn) >= 0 && YAJL_GET_INTEGER(fn) < 8)
                present[YAJL_GET_INTEGER(slot) << 3 | YAJL_GET_INTEGER(fn)] = true;
        }
    }
    return 0;
}

/*
 * Ask the device model (qemu-xen) of HVM domain domid, over the QMP socket
 * libxl gives it, which PCI functions exist on bus 0 (query-pci): emulated
 * devices and passed-through ones alike.  0 with present[] filled, or -1
 * with *why_r set when it cannot be asked (no such socket: another device
 * model; or no answer in time).
 */
static int px_dm_pci_bus0(void *priv, uint32_t domid, bool present[256],
                          const char **why_r)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char buf[65536];
    size_t have = 0;
    int fd, state = 0, rc = -1;
    int64_t deadline;

    memset(present, 0, 256 * sizeof(present[0]));
    snprintf(sa.sun_path, sizeof(sa.sun_path), QMP_SOCKET_FMT, domid);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        *why_r = "no QMP socket (not a qemu-xen device model?)";
        goto out;
    }
    *why_r = "no answer from its QMP socket";
    deadline = maint__now_ms() + QMP_TIMEOUT_MS;
    /* One JSON object per line: the greeting, then one answer per command
     * (events may come in between: they are skipped). */
    while (state < 3) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char *nl;
        ssize_t n;

        if (maint__now_ms() >= deadline || poll(&p, 1, maint__ms_left(deadline)) <= 0)
            goto out;
        n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0)
            goto out;
        have += (size_t)n;
        buf[have] = '\0';
        while (state < 3 && (nl = strchr(buf, '\n'))) {
            static const char *greeting[] = { "QMP", NULL };
            static const char *ret[] = { "return", NULL };
            yajl_val v;

            *nl = '\0';
            v = yajl_tree_parse(buf, NULL, 0);
            if (v && state == 0 && yajl_tree_get(v, greeting, yajl_t_any)) {
                state = qmp_send(fd, "{\"execute\":\"qmp_capabilities\"}\n") ? 9 : 1;
            } else if (v && state == 1 && yajl_tree_get(v, ret, yajl_t_any)) {
                state = qmp_send(fd, "{\"execute\":\"query-pci\"}\n") ? 9 : 2;
            } else if (v && state == 2 && yajl_tree_get(v, ret, yajl_t_any)) {
                state = 3;
                if (qmp_pci_answer(v, present) == 0)
                    rc = 0;
                else
                    *why_r = "a malformed query-pci answer";
            }
            yajl_tree_free(v);
            have -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have + 1);
        }
        if (state == 9 || have == sizeof(buf) - 1)
            goto out;
    }
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static void px_close(void *priv)
{
    struct port_xen *px = priv;

    if (!px)
        return;
    if (px->ctx)
        libxl_ctx_free(px->ctx);
    if (px->xsw)
        xs_close(px->xsw);
    if (px->xs)
        xs_close(px->xs);
    free(px);
}

static const maint__port_ops port_xen_ops = {
    .xs_read = px_read,
    .xs_write = px_write,
    .xs_mkdir = px_mkdir,
    .xs_rm = px_rm,
    .xs_directory = px_directory,
    .xs_set_perms = px_set_perms,
    .xs_txn_start = px_txn_start,
    .xs_txn_end = px_txn_end,
    .xs_watch = px_watch,
    .xs_unwatch = px_unwatch,
    .xs_fileno = px_fileno,
    .xs_introduced = px_introduced,
    .xs_read_watch = px_read_watch,
    .domain_list = px_domain_list,
    .domain_info = px_domain_info,
    .host_info = px_host_info,
    .domain_config_json = px_domain_config_json,
    .domain_config_get = px_domain_config_get,
    .config_to_json = px_config_to_json,
    .domain_create = px_domain_create,
    .domain_unpause = px_domain_unpause,
    .domain_destroy = px_domain_destroy,
    .domain_shutdown = px_domain_shutdown,
    .config_from_json = px_config_from_json,
    .name_to_domid = px_name_to_domid,
    .dm_pci_bus0 = px_dm_pci_bus0,
    .shutdown_reason = px_shutdown_reason,
    .set_memory_target = px_set_memory_target,
    .spawn_detached = px_spawn_detached,
    .events_attach = maint__px_events_attach,
    .loop_fd_occurred = maint__px_fd_occurred,
    .loop_timeout_occurred = maint__px_timeout_occurred,
    .death_watch = maint__px_death_watch,
    .death_unwatch = maint__px_death_unwatch,
    .destroy_async = maint__px_destroy_async,
    .config_get_async = maint__px_config_get_async,
    .close = px_close,
};

int maint__port_xen_open(maint__port *port_r, xentoollog_logger *lg, unsigned flags)
{
    struct port_xen *px = calloc(1, sizeof(*px));
    int rc;

    if (!px)
        return MAINT_ERROR_NOMEM;
    px->lg = lg;
    px->xs = xs_open(0);
    if (!px->xs) {
        LOGE(lg, ERROR, "cannot connect to xenstore");
        rc = MAINT_ERROR_XENSTORE;
        goto fail;
    }
    if (!(flags & MAINT_CTX_NO_LIBXL)) {
        if (libxl_ctx_alloc(&px->ctx, LIBXL_VERSION, 0, lg)) {
            LOG(lg, ERROR, "cannot open a libxl context");
            px->ctx = NULL;
            rc = MAINT_ERROR_UNAVAILABLE;
            goto fail;
        }
        /* before it can have a child: libxl reaps only its own (util.c);
         * with the caller's hooks, events_attach sets it after them */
        if (!(flags & MAINT__CTX_CALLER_HOOKS))
            libxl_childproc_setmode(px->ctx, &maint__libxl_childproc, NULL);
    }
    port_r->ops = &port_xen_ops;
    port_r->priv = px;
    return MAINT_OK;
fail:
    px_close(px);
    return rc;
}

struct libxl__ctx *maint__port_xen_libxl(maint__port *port)
{
    if (!port || port->ops != &port_xen_ops)
        return NULL;
    return ((struct port_xen *)port->priv)->ctx;
}
