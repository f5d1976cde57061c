/*
 * Every workflow kind of xmaintd/wfsteps.c with its REAL steps (substitute
 * creation, agent commands, application moves with their state, the service
 * redirect, retirement), the workflow engine of workflow.c around them, on a
 * fake port shared by the daemon's context and the workers' (fake-port.c)
 * whose guests' agents are played by fake-agent.c.  Each kind runs to
 * success, then fails at every one of its steps in turn; then all of it
 * again with every xenstore transaction conflicting once.
 *
 * What users rely on, checked after every run: each application runs in
 * exactly one domain, with its state, and the service points at the one
 * that runs it; no domain was shut down with applications in it; success
 * leaves the applications in the surviving domain and the retired one gone
 * (reconfigure: the original back with its overrides, the substitute gone);
 * a failure up to the point of no return ("move") rolls back (applications
 * home, no substitute left, "rolled-back"); a failure past it ends the
 * workflow "failed" without a rollback; steps after a failed one never
 * begin.
 *
 * Exit: 0 all passed, 1 some failed, 77 no non-loopback IPv4 address (the
 * agents' addresses may not be loopback), 99 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <glib.h>
#include <yajl/yajl_tree.h>
#include <CUnit/Basic.h>

#include "workflow.h"
#include "schema.h"
#include "unit.h"
#include "fake-agent.h"
#include "../cunit-report.h"

G_DEFINE_QUARK(xmaintd-error-quark, xmd_error)

/* ---- what the workflow path calls outside it ------------------------------- */

/* domains.c hands a recorded domain to the main loop's observers
 * (toolstack.c: xmaintd as its toolstack); no main loop runs here and the
 * workflow does not wait for it. */
void xmd_domain_recheck(xmd *d, uint32_t domid)
{
}

/* ---- one world: a fake hypervisor with the original, its agents ------------ */

#define ORIG_DOMID   5
#define FIRST_DOMID  20
#define KV_STATE     "counter=42"
#define ORIG_UUID    "5a5a5a5a-0000-4000-8000-000000000005"

/* The daemon of this life: a kill leaves the killed life's to its stopped
 * threads (their workflows point at it) and the next life gets a new one. */
static xmd first_life, *life = &first_life;
#define d (*life)
static char host_addr[INET_ADDRSTRLEN];  /* what every agent publishes */
static int listen_fd = -1;               /* web's instances "answer" here */
static unsigned web_port;

static struct {
    fake_port *fp;
    fake_agent *agent;
    const char *fail_create, *fail_destroy;   /* by domain name */
    GString *configs;                         /* every configuration created */
} W;

static maint__port_ops base_ops;   /* the fake's own */
static maint__port_ops world_ops;  /* the fake's with the changes below */

/* A domain whose creation the test makes fail; every configuration created
 * kept for the checks. */
static int w_create(void *priv, libxl_domain_config *cfg, uint32_t *domid_r)
{
    char *json;

    if (W.fail_create && cfg->c_info.name && !strcmp(cfg->c_info.name, W.fail_create))
        return MAINT_ERROR_HYPERVISOR;
    json = base_ops.config_to_json(priv, cfg);
    g_string_append_printf(W.configs, "%s\n", json ? json : "");
    free(json);
    return base_ops.domain_create(priv, cfg, domid_r);
}

/* A domain whose destruction the test makes fail (it stays, shut down). */
static int w_destroy(void *priv, uint32_t domid)
{
    maint_domain_info info;
    gboolean fail;

    maint_domain_info_init(&info);
    fail = W.fail_destroy && base_ops.domain_info(priv, domid, &info) == MAINT_OK &&
           info.name && !strcmp(info.name, W.fail_destroy);
    maint_domain_info_dispose(&info);
    return fail ? MAINT_ERROR_HYPERVISOR : base_ops.domain_destroy(priv, domid);
}

/* Domains have UUIDs (the workflow journals the ones it creates by it). */
static int w_domain_info(void *priv, uint32_t domid, maint_domain_info *info_r)
{
    int rc = base_ops.domain_info(priv, domid, info_r);

    if (rc == MAINT_OK && !info_r->uuid[0])
        snprintf(info_r->uuid, sizeof(info_r->uuid), "%08x-0000-4000-8000-000000000000",
                 domid);
    return rc;
}

/* The fake port parses no libxl JSON (libxl's parser needs a libxl
 * context): the fields the fake hypervisor keeps, for reconfigure's
 * re-creation of the original. */
static int w_config_from_json(void *priv, libxl_domain_config *cfg, const char *json)
{
    const char *pn[] = { "c_info", "name", NULL }, *pt[] = { "c_info", "type", NULL },
               *pm[] = { "b_info", "max_memkb", NULL }, *pu[] = { "c_info", "uuid", NULL };
    yajl_val v = yajl_tree_parse(json, NULL, 0);
    yajl_val name = yajl_tree_get(v, pn, yajl_t_string), type = yajl_tree_get(v, pt, yajl_t_string),
             mem = yajl_tree_get(v, pm, yajl_t_number);
    libxl_domain_type t;
    int rc = MAINT_ERROR_INVAL;

    if (name && type && mem && !libxl_domain_type_from_string(YAJL_GET_STRING(type), &t)) {
        yajl_val uuid = yajl_tree_get(v, pu, yajl_t_string);

        if (uuid)
            libxl_uuid_from_string(&cfg->c_info.uuid, YAJL_GET_STRING(uuid));
        cfg->c_info.name = strdup(YAJL_GET_STRING(name) ?: "");
        cfg->c_info.type = t;
        libxl_domain_build_info_init_type(&cfg->b_info, t);
        cfg->b_info.max_memkb = cfg->b_info.target_memkb = (uint64_t)YAJL_GET_INTEGER(mem);
        rc = MAINT_OK;
    }
    yajl_tree_free(v);
    return rc;
}

/* Every context, the daemon's and each worker's, on the one fake (each
 * holds a reference: the fake goes with the last). */
static int world_ctx_open(maint_ctx **ctx_r, xentoollog_logger *lg, unsigned flags)
{
    maint__port port = fake_port_ref(W.fp);
    int rc;

    port.ops = &world_ops;
    rc = maint__ctx_from_port(ctx_r, lg, &port);
    /* nobody reaps a shut-down guest here: retire destroys it at once */
    if (rc == MAINT_OK)
        maint_ctx_set_reap_wait(*ctx_r, 0);
    else
        base_ops.close(port.priv);
    return rc;
}

/* The original "g" as the hypervisor has it: PV, a passed-through PCI
 * device (00:05.0, for hw-remove), a read-only disk (shared with its
 * substitute). */
static void g_config(libxl_domain_config *cfg, uint32_t domid)
{
    cfg->c_info.type = LIBXL_DOMAIN_TYPE_PV;
    libxl_domain_build_info_init_type(&cfg->b_info, LIBXL_DOMAIN_TYPE_PV);
    cfg->c_info.name = strdup("g");
    libxl_uuid_from_string(&cfg->c_info.uuid, ORIG_UUID);
    cfg->b_info.max_memkb = cfg->b_info.target_memkb = 131072;
    cfg->b_info.kernel = strdup("/boot/vmlinuz-old");
    cfg->num_disks = 1;
    cfg->disks = calloc(1, sizeof(*cfg->disks));
    libxl_device_disk_init(&cfg->disks[0]);
    cfg->disks[0].pdev_path = strdup("/srv/g.img");
    cfg->disks[0].vdev = strdup("xvda");
    cfg->num_pcidevs = 1;
    cfg->pcidevs = calloc(1, sizeof(*cfg->pcidevs));
    libxl_device_pci_init(&cfg->pcidevs[0]);
    cfg->pcidevs[0].dev = 5;
}

/* A fresh world: the original running with its agent (kv in state mode,
 * web in redirect mode behind the service "web"), the daemon's context. */
static void world_new(gboolean conflicts)
{
    maint_domain_info g = { .domid = ORIG_DOMID, .name = (char *)"g",
                            .state = MAINT_DOMAIN_STATE_RUNNING, .type = MAINT_DOMAIN_TYPE_PV };
    g_autofree char *web = g_strdup_printf("{\"mode\":\"redirect\",\"port\":%u}", web_port);
    g_autofree char *sj = g_build_filename(d.state_dir, "services.json", NULL);
    g_autoptr(GError) e = NULL;
    maint__port port;

    g_strlcpy(g.uuid, ORIG_UUID, sizeof(g.uuid));
    memset(&W, 0, sizeof(W));
    W.fp = fake_port_new(&port);
    base_ops = *port.ops;
    world_ops = base_ops;
    world_ops.domain_create = w_create;
    world_ops.domain_destroy = w_destroy;
    world_ops.domain_info = w_domain_info;
    world_ops.config_from_json = w_config_from_json;
    W.configs = g_string_new("");
    W.agent = fake_agent_new(W.fp, FIRST_DOMID, host_addr);
    fake_agent_add_app(W.agent, "kv", "{\"mode\":\"state\",\"state\":[\"/var/lib/kv\"]}", KV_STATE);
    fake_agent_add_app(W.agent, "web", web, NULL);
    fake_port_set_config_fill(W.fp, g_config);
    fake_port_set_conflict_once(W.fp, conflicts);
    fake_port_add_domain(W.fp, &g);
    fake_port_put(W.fp, "/local/domain/5/name", "g");
    fake_agent_boot(W.agent, ORIG_DOMID);
    CU_ASSERT_EQUAL_FATAL(world_ctx_open(&d.ctx, NULL, 0), MAINT_OK);
    d.hv = TRUE;            /* the fake's hypervisor */
    xmd_services_fini(&d);
    unlink(sj);
    xmd_services_load(&d);
    CU_ASSERT_FATAL(xmd_service_add(&d, d.ctx, "web", "10.99.0.100", web_port, "g", &e));
}

static void world_free(void)
{
    maint_ctx_close(d.ctx);
    d.ctx = NULL;
    base_ops.close(W.fp);                 /* fake_port_new's reference */
    fake_agent_free(W.agent);
    g_string_free(W.configs, TRUE);
    /* the connections port_answers made */
    while (1) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            break;
        close(fd);
    }
}

/* ---- the listener web's instances answer on ------------------------------ */

/* The first non-loopback IPv4 address of this host, listened on: the
 * agents publish it (maint_agent_addr refuses loopback ones, which would
 * point dom0's DNAT at dom0 itself) and the redirect's check that the new
 * instance answers connects to it. */
static gboolean listen_somewhere(void)
{
    struct ifaddrs *ifs = NULL;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t len = sizeof(sa);

    if (getifaddrs(&ifs) < 0)
        return FALSE;
    for (struct ifaddrs *i = ifs; i && !host_addr[0]; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
            !(i->ifa_flags & IFF_LOOPBACK)) {
            sa.sin_addr = ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr;
            inet_ntop(AF_INET, &sa.sin_addr, host_addr, sizeof(host_addr));
        }
    freeifaddrs(ifs);
    if (!host_addr[0])
        return FALSE;
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(listen_fd, 64) < 0 || getsockname(listen_fd, (struct sockaddr *)&sa, &len) < 0)
        return FALSE;
    web_port = ntohs(sa.sin_port);
    return TRUE;
}

/* ---- the cases -------------------------------------------------------------- */

/* Per kind: its arguments, and what its success shows in the
 * configurations created, the agents' log and the substitute's hiding
 * spec (has; lacks: must not). */
typedef struct kind_case {
    const char *type, *args, *has, *lacks;
} kind_case;

static const kind_case kinds[] = {
    { "hw-remove", "\"hide_pci\":[\"00:05.0\"]", "hide/pci=00:05.0", "\"pcidevs\"" },
    { "hw-add", "\"add\":[\"vif:bridge=xenbr9\"]", "\"bridge\":\"xenbr9\"", NULL },
    { "os-upgrade", "\"kernel\":\"/boot/vmlinuz-new\"", "\"kernel\":\"/boot/vmlinuz-new\"",
      "vmlinuz-old" },
    { "os-patch", "\"patch\":\"apply-patch\"", "g-sub:run:apply-patch", NULL },
    { "app-maint", "\"change\":\"change-app\"", "g-sub:run:change-app", NULL },
    /* the original re-created as itself: its name and its UUID */
    { "reconfigure", "\"sets\":[\"memory=256\"]", "\"name\":\"g\",\"uuid\":\"" ORIG_UUID "\"}",
      NULL },
};

/* How step `step` is made to fail, and what is left once it has (past
 * the point of no return; before it, a rollback leaves the original alone):
 * where the applications run (NULL: each in one domain), the domains. */
typedef struct fault {
    const char *step;
    const char *create, *destroy;             /* this domain's creation/destruction fails */
    const char *refuse_in, *op, *app;         /* this agent refuses this command */
    const char *apps_in, *live;
} fault;

static const fault faults[] = {
    { "substitute", "g-sub", NULL, NULL, NULL, NULL, NULL, NULL },
    { "patch", NULL, NULL, "g-sub", "run", NULL, NULL, NULL },
    { "change", NULL, NULL, "g-sub", "run", NULL, NULL, NULL },
    /* kv stopped in g, its state copied, then its start refused */
    { "move", NULL, NULL, "g-sub", "start", "kv", NULL, NULL },
    { "retire", NULL, "g", NULL, NULL, NULL, "g-sub", "g g-sub" },
    { "reconfigure", "g", NULL, NULL, NULL, NULL, "g-sub", "g-sub" },
    /* the same in the re-created g: kv runs in g-sub again (web, in either:
     * it may have moved first) */
    { "move-back", NULL, NULL, "g", "start", "kv", NULL, "g g-sub" },
    { "retire-substitute", NULL, "g-sub", NULL, NULL, NULL, "g", "g g-sub" },
};

static const fault *fault_for(const char *step)
{
    for (guint i = 0; i < G_N_ELEMENTS(faults); i++)
        if (!strcmp(faults[i].step, step))
            return &faults[i];
    return NULL;
}

static guint step_index(const xmd_wf_kind *k, const char *name)
{
    for (guint i = 0; i < k->nr_steps; i++)
        if (!strcmp(k->steps[i].name, name))
            return i;
    return G_MAXUINT;
}

/* ---- running one ------------------------------------------------------------- */

/* The journal xmaintd resumes it from: its start record only, so it runs
 * from the first step, as a workflow-start request makes it. */
static void write_start(const char *id, const kind_case *kc)
{
    g_autofree char *name = g_strdup_printf("%s.journal", id);
    g_autofree char *path = g_build_filename(d.state_dir, "workflows", name, NULL);
    g_autofree char *text = g_strdup_printf(
        "{\"time\":1,\"event\":\"start\",\"type\":\"%s\",\"domain\":\"g\","
        "\"substitute\":\"g-sub\",\"args\":{\"type\":\"%s\",\"domain\":\"g\","
        "\"drain_ms\":20,\"timeout_ms\":1000,%s}}\n", kc->type, kc->type, kc->args);

    CU_ASSERT_FATAL(g_file_set_contents(path, text, -1, NULL));
}

/* Started as a workflow-start request starts it (xmd_workflow_start): its
 * id, or NULL. */
static char *start_now(const kind_case *kc)
{
    g_autofree char *json = g_strdup_printf(
        "{\"type\":\"%s\",\"domain\":\"g\",\"drain_ms\":20,\"timeout_ms\":1000,%s}",
        kc->type, kc->args);
    struct yajl_val_s *tree = maint__json_parse(json, strlen(json));
    g_autoptr(GError) e = NULL;
    maint__args a;
    char *err = NULL, *id = NULL;

    maint__args_init(&a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tree);
    if (maint__args_parse("workflow-start", tree, &a, &err) == MAINT_OK &&
        !(id = xmd_workflow_start(&d, &a, &e)))
        fprintf(stderr, "\nworkflow-start %s: %s\n", kc->type, e->message);
    if (err)
        fprintf(stderr, "\nworkflow-start %s: %s\n", kc->type, err);
    free(err);
    maint__args_dispose(&a);
    yajl_tree_free(tree);
    return id;
}

/* Wait (10 s at most) until the one workflow has ended: its state. */
static char *wait_end(void)
{
    static const char *const ends[] = { "done", "failed", "rolled-back" };

    for (int i = 0; i < 1000; i++) {
        g_autofree char *json = xmd_workflows_json(&d);

        for (guint k = 0; k < G_N_ELEMENTS(ends); k++) {
            g_autofree char *want = g_strdup_printf("\"state\":\"%s\"", ends[k]);

            if (strstr(json, want))
                return g_strdup(ends[k]);
        }
        g_usleep(10000);
    }
    return g_strdup("(still running)");
}

static char *journal_text(const char *id)
{
    g_autofree char *name = g_strdup_printf("%s.journal", id);
    g_autofree char *path = g_build_filename(d.state_dir, "workflows", name, NULL);
    char *text = NULL;

    g_file_get_contents(path, &text, NULL, NULL);
    return text ? text : g_strdup("");
}

static gboolean has_record(const char *journal, const char *event, const char *step)
{
    g_autofree char *r = g_strdup_printf("\"event\":\"%s\",\"step\":\"%s\"", event, step);

    return strstr(journal, r) != NULL;
}

/* ---- what users rely on -------------------------------------------------- */

static gint by_name(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The domains of the fake hypervisor by name, sorted ("g g-sub"); *running:
 * the domids of those running. */
static char *domains(GArray *running)
{
    maint__port port = fake_port_port(W.fp);
    maint_domain_info *list = NULL;
    int nr = 0;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);

    CU_ASSERT_EQUAL_FATAL(port.ops->domain_list(port.priv, &list, &nr), MAINT_OK);
    for (int i = 0; i < nr; i++) {
        g_ptr_array_add(names, g_strdup(list[i].name ? list[i].name : "?"));
        if (running && list[i].state == MAINT_DOMAIN_STATE_RUNNING)
            g_array_append_val(running, list[i].domid);
    }
    maint_domain_list_free(list, (unsigned)nr);
    g_ptr_array_sort(names, by_name);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(" ", (char **)names->pdata);
}

static char *name_of(uint32_t domid)
{
    g_autofree char *p = g_strdup_printf(MAINT_XS_DOMAIN_NAME_FMT, domid);

    return g_strdup(fake_port_get(W.fp, p) ?: "?");
}

/* Each application runs in exactly one running domain (apps_in, when
 * given), kv with its state; web's service points there.  No domain went
 * down with applications in it. */
static void check_apps(const char *id, const char *apps_in)
{
    static const char *const apps[] = { "kv", "web" };
    g_autoptr(GArray) running = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    g_autofree char *all = domains(running);
    g_autofree char *svc = xmd_services_json(&d);

    CU_ASSERT_EQUAL(fake_agent_killed(W.agent), 0);
    for (guint a = 0; a < G_N_ELEMENTS(apps); a++) {
        guint in = 0;
        uint32_t where = 0;

        for (guint i = 0; i < running->len; i++)
            if (fake_agent_runs(W.agent, g_array_index(running, uint32_t, i), apps[a]))
                in++, where = g_array_index(running, uint32_t, i);
        if (in != 1)
            fprintf(stderr, "\n%s: %s runs in %u domain(s) of '%s'\n", id, apps[a], in, all);
        CU_ASSERT_EQUAL(in, 1);
        if (in != 1)
            continue;
        g_autofree char *name = name_of(where);
        g_autofree char *state = fake_agent_state(W.agent, where, apps[a]);
        g_autofree char *served = g_strdup_printf("\"domain\":\"%s\"", name);

        if (apps_in) {
            CU_ASSERT_STRING_EQUAL(name, apps_in);
        }
        if (!strcmp(apps[a], "kv")) {
            CU_ASSERT_STRING_EQUAL(state ?: "(none)", KV_STATE);
        } else {
            CU_ASSERT_PTR_NOT_NULL(strstr(svc, served));
        }
    }
}

/* The journal and the published state: ended `state`; step k failed (k <
 * nr_steps) and nothing after it began; a rollback took back the failed
 * step's leftovers and every finished step. */
static void check_journal(const char *id, const xmd_wf_kind *k, guint fail, const char *state)
{
    g_autofree char *j = journal_text(id);
    g_autofree char *end = g_strdup_printf("\"event\":\"end\",\"state\":\"%s\"", state);
    g_autofree char *node = g_strdup_printf(MAINT_XS_WORKFLOW_FMT, id);
    g_autofree char *pub = g_strdup_printf("\"state\":\"%s\"", state);
    gboolean rolled = !strcmp(state, "rolled-back");

    CU_ASSERT_PTR_NOT_NULL(strstr(j, end));
    CU_ASSERT_PTR_NOT_NULL(strstr(fake_port_get(W.fp, node) ?: "", pub));
    CU_ASSERT_EQUAL(strstr(j, "\"event\":\"rollback\"") != NULL, rolled);
    for (guint i = 0; i < k->nr_steps; i++) {
        const xmd_wf_step *s = &k->steps[i];

        CU_ASSERT_EQUAL(has_record(j, "begin", s->name), i <= fail);
        CU_ASSERT_EQUAL(has_record(j, "done", s->name), i < fail);
        CU_ASSERT_EQUAL(has_record(j, "fail", s->name), i == fail);
        if (rolled)
            CU_ASSERT_EQUAL(has_record(j, "undone", s->name),
                            i < fail || (i == fail && s->cleanup));
    }
}

/* What the kind's success shows (kc->has, kc->lacks). */
static void check_success(const kind_case *kc)
{
    g_autofree char *log = fake_agent_log(W.agent);
    g_autoptr(GString) trace = g_string_new(W.configs->str);
    uint32_t id;

    g_string_append(trace, log);
    if (maint_domain_lookup(d.ctx, "g-sub", &id) == MAINT_OK) {
        g_autofree char *p = g_strdup_printf(MAINT_XS_HIDE_PCI_FMT, id);

        g_string_append_printf(trace, "hide/pci=%s\n", fake_port_get(W.fp, p) ?: "");
    }
    if (!strstr(trace->str, kc->has) || (kc->lacks && strstr(trace->str, kc->lacks)))
        fprintf(stderr, "\n%s: not '%s' / '%s' in:\n%s\n", kc->type, kc->has,
                kc->lacks ? kc->lacks : "", trace->str);
    CU_ASSERT_PTR_NOT_NULL(strstr(trace->str, kc->has));
    if (kc->lacks)
        CU_ASSERT_PTR_NULL(strstr(trace->str, kc->lacks));
    if (!strcmp(kc->type, "reconfigure")) {
        /* the original, re-created (a new domid) with its override, as itself */
        CU_ASSERT_PTR_NOT_NULL(strstr(fake_port_last_created(W.fp) ?: "", "\"max_memkb\":262144"));
        CU_ASSERT_FATAL(maint_domain_lookup(d.ctx, "g", &id) == MAINT_OK);
        CU_ASSERT_NOT_EQUAL(id, ORIG_DOMID);
        g_autofree char *role = g_strdup_printf(MAINT_XS_ROLE_FMT, id);
        CU_ASSERT_STRING_EQUAL(fake_port_get(W.fp, role) ?: "", "reconfigured");
    }
}

/* Make step `fail` of kc's kind fail (nr_steps: none), run it to its end:
 * what users rely on checked; the conflicts the fake answered. */
static unsigned run_case(const kind_case *kc, guint fail, gboolean conflicts)
{
    const xmd_wf_kind *k = xmd_wf_kind_find(kc->type);
    const fault *f = fail < k->nr_steps ? fault_for(k->steps[fail].name) : NULL;
    g_autofree char *id = NULL;
    g_autofree char *state = NULL, *live = NULL;
    const char *want = "done", *apps_in, *left;
    uint32_t g;
    unsigned n;

    if (fail < k->nr_steps)
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);            /* every step has a fault */
    apps_in = left = strcmp(kc->type, "reconfigure") ? "g-sub" : "g";
    if (f && fail <= step_index(k, k->point_of_no_return)) {
        want = "rolled-back";
        apps_in = left = "g";
    } else if (f) {
        want = "failed";
        apps_in = f->apps_in;
        left = f->live;
    }
    world_new(conflicts);
    W.fail_create = f ? f->create : NULL;
    W.fail_destroy = f ? f->destroy : NULL;
    if (f && f->refuse_in)
        fake_agent_refuse(W.agent, f->refuse_in, f->op, f->app);
    if (f) {        /* resumed from its journal, as after a restart */
        id = g_strdup_printf("%s-%s%s", kc->type, f->step, conflicts ? "-conflicts" : "");
        write_start(id, kc);
        xmd_workflows_init(&d);
    } else {        /* started by a request */
        xmd_workflows_init(&d);
        id = start_now(kc);
        CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    }
    state = wait_end();
    xmd_workflows_fini(&d);
    if (strcmp(state, want) || getenv("TEST_VERBOSE"))
        fprintf(stderr, "\n%s: %s (expected %s)\n", id, state, want);
    CU_ASSERT_STRING_EQUAL(state, want);
    check_journal(id, k, f ? fail : k->nr_steps, want);
    check_apps(id, apps_in);
    live = domains(NULL);
    CU_ASSERT_STRING_EQUAL(live, left);
    if (!strcmp(want, "rolled-back"))      /* the original itself, untouched */
        CU_ASSERT(maint_domain_lookup(d.ctx, "g", &g) == MAINT_OK && g == ORIG_DOMID);
    if (!f)
        check_success(kc);
    n = fake_port_conflicts(W.fp);
    xmd_journal_remove(&d, id);
    world_free();
    return n;
}

/* Every kind to success and failing at each of its steps; conflicts: every
 * xenstore transaction conflicts once first. */
static void run_all(gboolean conflicts)
{
    unsigned total = 0;

    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
        const xmd_wf_kind *k = xmd_wf_kind_find(kinds[i].type);

        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        for (guint fail = 0; fail <= k->nr_steps; fail++) {
            unsigned n = run_case(&kinds[i], fail, conflicts);

            /* hw-remove's substitute writes its hiding spec in a transaction */
            if (conflicts && !strcmp(kinds[i].type, "hw-remove") && fail > 0)
                CU_ASSERT(n > 0);
            total += n;
        }
    }
    if (conflicts) {
        CU_ASSERT(total > 0);
        if (getenv("TEST_VERBOSE"))
            fprintf(stderr, "\n%u transaction conflicts answered\n", total);
    }
}

static void test_kinds(void)
{
    run_all(FALSE);
}

static void test_kinds_conflicts(void)
{
    run_all(TRUE);
}

/* ---- the daemon killed at any moment ----------------------------------------- */

/* A life of the daemon ends at a kill (its threads stopped for good inside
 * a port operation): what it holds is left as a killed process leaves it --
 * its workflows, its context -- and the next life starts from the state
 * directory and what the hypervisor and xenstore hold, as after a restart. */
static GPtrArray *dead_lives;    /* what killed lives left: kept, not freed */

static void next_life(void)
{
    xmd *next = g_new0(xmd, 1);

    if (!dead_lives)
        dead_lives = g_ptr_array_new();
    g_ptr_array_add(dead_lives, life);      /* its threads may still run until they stop */
    next->state_dir = d.state_dir;
    next->wf_retention_s = d.wf_retention_s;
    next->ctx_open = d.ctx_open;
    next->services = NULL;
    if (life->wf_prune_timer)               /* the dead process's loop goes with it */
        g_source_remove(life->wf_prune_timer);
    life = next;
    CU_ASSERT_EQUAL_FATAL(world_ctx_open(&d.ctx, NULL, 0), MAINT_OK);
    xmd_services_load(&d);
    d.hv = TRUE;
    xmd_workflows_init(&d);
}

/* Until this life is killed (TRUE) or its workflow has ended (FALSE), 20 s
 * at most: the workflows' state is read only while no kill has come (a
 * killed thread may be stopped holding its workflow's lock). */
static gboolean killed_or_ended(unsigned kills_before)
{
    for (int i = 0; i < 2000; i++) {
        if (fake_port_kills(W.fp) > kills_before)
            return TRUE;
        {
            g_autofree char *json = xmd_workflows_json(&d);

            /* ended: no kill from now on (its thread still publishes; a
             * kill that came first is one after the end) */
            if (strstr(json, "\"state\":\"done\"") || strstr(json, "\"state\":\"failed\"") ||
                strstr(json, "\"state\":\"rolled-back\"")) {
                fake_port_kill_at(W.fp, 0);
                return fake_port_kills(W.fp) > kills_before;
            }
        }
        g_usleep(5000);
    }
    CU_FAIL("neither killed nor ended within 20 s");
    return FALSE;
}

/* The daemon operations a run of kc makes without a kill. */
static unsigned ops_of(const kind_case *kc)
{
    g_autofree char *id = NULL, *state = NULL;
    unsigned n;

    world_new(FALSE);
    fake_port_kill_at(W.fp, G_MAXUINT);
    xmd_workflows_init(&d);
    id = start_now(kc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    state = wait_end();
    xmd_workflows_fini(&d);
    CU_ASSERT_STRING_EQUAL(state, "done");
    n = fake_port_ops(W.fp);
    xmd_journal_remove(&d, id);
    world_free();
    return n;
}

/* One workflow of kc killed at up to `kills` moments drawn from rng (each
 * an operation number in 1..ops), restarted after each: it ends done or
 * rolled back, the applications each in exactly one domain with their
 * state and the service following, no domain left that should not be (no
 * half-built one), its journal ended.  The kills that happened. */
static unsigned killed_run(const kind_case *kc, unsigned ops, unsigned kills, GRand *rng,
                           GString *moments)
{
    const char *done_left = strcmp(kc->type, "reconfigure") ? "g-sub" : "g";
    g_autofree char *id = NULL, *state = NULL, *live = NULL;
    unsigned happened = 0;

    world_new(FALSE);
    xmd_workflows_init(&d);
    fake_port_kill_at(W.fp, (unsigned)g_rand_int_range(rng, 1, (gint32)ops + 1));
    id = start_now(kc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    while (killed_or_ended(happened)) {
        g_string_append_printf(moments, " %s@%u", kc->type, fake_port_ops(W.fp));
        happened++;
        next_life();
        fake_port_kill_at(W.fp, happened < kills ?
                          (unsigned)g_rand_int_range(rng, 1, (gint32)ops + 1) : 0);
    }
    state = wait_end();
    xmd_workflows_fini(&d);
    if ((strcmp(state, "done") && strcmp(state, "rolled-back")) || getenv("TEST_VERBOSE"))
        fprintf(stderr, "\n%s killed%s: %s\n", id, moments->str, state);
    CU_ASSERT(!strcmp(state, "done") || !strcmp(state, "rolled-back"));
    {
        g_autofree char *j = journal_text(id);
        g_autofree char *end = g_strdup_printf("\"event\":\"end\",\"state\":\"%s\"", state);

        CU_ASSERT_PTR_NOT_NULL(strstr(j, end));
    }
    check_apps(id, strcmp(state, "done") ? "g" : done_left);
    {
        /* a command in the substitute (patch, change) ran once at most:
         * resumed, its step waited for it instead of running it again */
        g_autofree char *log = fake_agent_log(W.agent);
        unsigned runs = 0;

        for (const char *p = log; (p = strstr(p, ":run:")); p++)
            runs++;
        if (runs > 1)
            fprintf(stderr, "\n%s killed%s: its command ran %u times:\n%s\n", id, moments->str,
                    runs, log);
        CU_ASSERT(runs <= 1);
    }
    live = domains(NULL);
    if (strcmp(live, strcmp(state, "done") ? "g" : done_left))
        fprintf(stderr, "\n%s killed%s: %s leaves '%s'\n", id, moments->str, state, live);
    CU_ASSERT_STRING_EQUAL(live, strcmp(state, "done") ? "g" : done_left);
    xmd_journal_remove(&d, id);
    world_free();
    return happened;
}

/*
 * Kills at random moments, uniform over each kind's operations (hundreds
 * in all: XMAINT_KILLS, default 510), one to three in a workflow.  The
 * seed (XMAINT_KILL_SEED, default random) is printed: a failure replays.
 */
static void test_killed_anywhere(void)
{
    const char *want_s = getenv("XMAINT_KILLS"), *seed_s = getenv("XMAINT_KILL_SEED");
    unsigned want = want_s ? (unsigned)atoi(want_s) : 510, total = 0, runs = 0;
    guint32 seed = seed_s ? (guint32)strtoul(seed_s, NULL, 10) : g_random_int();
    g_autoptr(GRand) rng = g_rand_new_with_seed(seed);
    unsigned ops[G_N_ELEMENTS(kinds)];

    fprintf(stderr, "\n  XMAINT_KILL_SEED=%u\n", seed);
    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++)
        ops[i] = ops_of(&kinds[i]);
    while (total < want && runs < 4 * want) {
        guint i = runs++ % G_N_ELEMENTS(kinds);
        g_autoptr(GString) moments = g_string_new("");
        unsigned before = CU_get_number_of_failures();

        total += killed_run(&kinds[i], ops[i], (unsigned)g_rand_int_range(rng, 1, 4), rng,
                            moments);
        if (CU_get_number_of_failures() != before) {
            fprintf(stderr, "  replay: XMAINT_KILL_SEED=%u (run %u:%s)\n", seed, runs,
                    moments->str);
            break;
        }
    }
    fprintf(stderr, "  %u kills in %u workflows (operations per kind:", total, runs);
    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++)
        fprintf(stderr, " %s %u", kinds[i].type, ops[i]);
    fprintf(stderr, ")\n");
    CU_ASSERT(total >= want);
}

/* The daemon's state directory, its workflows/ made (g_free), or NULL. */
static char *state_dir_new(void)
{
    char *dir = g_dir_make_tmp("xmd-wfkinds-XXXXXX", NULL);
    g_autofree char *wdir = dir ? g_build_filename(dir, "workflows", NULL) : NULL;

    if (wdir && g_mkdir_with_parents(wdir, 0700) < 0)
        g_clear_pointer(&dir, g_free);
    return dir;
}

int main(void)
{
    g_autofree char *dir = NULL;
    CU_pSuite s;
    int failed;

    if (!listen_somewhere()) {
        fprintf(stderr, "no non-loopback IPv4 address to listen on: skipped\n");
        return 77;
    }
    if (!(dir = state_dir_new()))
        return 99;
    /* the redirect table is "loaded" by true(1), not into this host's netfilter */
    cunit_plain_log();
    g_setenv("XMAINT_NFT", "true", TRUE);
    d.state_dir = dir;
    d.wf_retention_s = 3600;
    d.ctx_open = world_ctx_open;
    if (CU_initialize_registry() != CUE_SUCCESS || !(s = CU_add_suite("workflow kinds", NULL, NULL)))
        return 99;
    CU_add_test(s, "every kind to success, and failing at each step: rolled back up to "
                "the point of no return, failed after it", test_kinds);
    CU_add_test(s, "the same with every xenstore transaction conflicting once", test_kinds_conflicts);
    CU_add_test(s, "the daemon killed at random moments: each workflow resumes to done or "
                "rolled back, nothing left behind", test_killed_anywhere);
    failed = cunit_run_and_report();
    xmd_services_fini(&d);
    close(listen_fd);
    if (!failed) {
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
        if (system(cmd)) { /* best effort */ }
    }
    return failed < 0 ? 99 : failed ? 1 : 0;
}
