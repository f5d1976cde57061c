/*
 * xl-maint workflows: hw-remove, hw-add, os-upgrade, os-patch, app-maint,
 * reconfigure (typed options, maint_workflow_start) and `workflow` (list,
 * show, wait, abort).  Progress is followed through workflow events.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "xl-maint.h"

/* What one workflow command line gave. */
struct wf_args {
    const char *hide[16], *disks[8], *sets[32], *removes[16], *adds[16];
    unsigned nh, nd, ns, nr, na;
    const char *name, *kernel, *ramdisk, *cmdline, *firmware, *patch, *change;
    unsigned long drain, timeout_s;
    bool nowait, json;
};

/* Parse the options; returns optind, or -1 after a usage error. */
static int wf_parse(const char *type, int argc, char **argv, struct wf_args *a)
{
    static const struct option opts[] = {
        { "hide-pci", required_argument, NULL, 'P' },
        { "remove", required_argument, NULL, 'X' },
        { "add", required_argument, NULL, 'A' },
        { "name", required_argument, NULL, 'n' },
        { "kernel", required_argument, NULL, 'k' },
        { "ramdisk", required_argument, NULL, 'r' },
        { "cmdline", required_argument, NULL, 'e' },
        { "disk", required_argument, NULL, 'd' },
        { "set", required_argument, NULL, 's' },
        { "firmware", required_argument, NULL, 'f' },
        { "patch", required_argument, NULL, 'p' },
        { "change", required_argument, NULL, 'c' },
        { "drain", required_argument, NULL, 'D' },
        { "timeout", required_argument, NULL, 't' },
        { "no-wait", no_argument, NULL, 'W' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char *end;
    bool started = false;
    int c;

    while ((c = next_option(argc, argv, "jh", opts, &started)) != -1) {
        switch (c) {
        case 'P':
            if (a->nh == 16) return usage_error(type, "at most 16 --hide-pci"), -1;
            a->hide[a->nh++] = optarg;
            break;
        case 'X':
            if (a->nr == 16) return usage_error(type, "at most 16 --remove"), -1;
            if (strncmp(optarg, "vif:", 4) && strncmp(optarg, "disk:", 5))
                return usage_error(type, "--remove '%s': vif:DEVID or disk:VDEV", optarg), -1;
            a->removes[a->nr++] = optarg;
            break;
        case 'A':
            if (a->na == 16) return usage_error(type, "at most 16 --add"), -1;
            if (strncmp(optarg, "vif:", 4) && strncmp(optarg, "disk:", 5))
                return usage_error(type, "--add '%s': vif:bridge=BR[,model=M] or disk:SPEC",
                                   optarg), -1;
            a->adds[a->na++] = optarg;
            break;
        case 'd':
            if (a->nd == 8) return usage_error(type, "at most 8 --disk"), -1;
            a->disks[a->nd++] = optarg;
            break;
        case 's':
            if (a->ns == 32) return usage_error(type, "at most 32 --set"), -1;
            a->sets[a->ns++] = optarg;
            break;
        case 'n': a->name = optarg; break;
        case 'k': a->kernel = optarg; break;
        case 'r': a->ramdisk = optarg; break;
        case 'e': a->cmdline = optarg; break;
        case 'f': a->firmware = optarg; break;
        case 'p': a->patch = optarg; break;
        case 'c': a->change = optarg; break;
        case 'D':
            a->drain = strtoul(optarg, &end, 10);
            if (*end || end == optarg || a->drain > 600000)
                return usage_error(type, "--drain '%s': 0 to 600000 milliseconds", optarg), -1;
            break;
        case 't':
            a->timeout_s = strtoul(optarg, &end, 10);
            if (*end || a->timeout_s == 0 || a->timeout_s > 3600)
                return usage_error(type, "--timeout '%s': 1 to 3600 seconds", optarg), -1;
            break;
        case 'W': a->nowait = true; break;
        case 'j': a->json = true; break;
        case 'h': help(type); exit(EXIT_SUCCESS);
        default:
            return usage_error(type, "unknown option '%s'", argv[optind - 1]), -1;
        }
    }
    return optind;
}

/* The command-line rules of each kind (the library checks them again). */
static int wf_check(const char *type, int argc, int idx, const struct wf_args *a)
{
    if (argc - idx != 1)
        return usage_error(type, argc - idx < 1 ? "missing the domain" : "one domain only");
    if (!strcmp(type, "hw-remove") && !a->nh && !a->nr)
        return usage_error(type, "say which device goes: --hide-pci BB:DD.F or --remove vif:N|disk:VDEV");
    if (!strcmp(type, "os-upgrade") && !a->kernel && !a->ramdisk && !a->nd && !a->cmdline)
        return usage_error(type, "give the new system: --kernel, --ramdisk, --cmdline or --disk");
    if (!strcmp(type, "os-patch") && !a->patch)
        return usage_error(type, "give the patch step: --patch COMMAND");
    if (!strcmp(type, "app-maint") && !a->change)
        return usage_error(type, "give the change: --change COMMAND");
    if (!strcmp(type, "hw-add") && !a->na)
        return usage_error(type, "say which device comes: --add vif:bridge=BR or --add disk:SPEC");
    if (strcmp(type, "hw-add") && a->na)
        return usage_error(type, "--add belongs to hw-add");
    if (!strcmp(type, "reconfigure") && !a->ns)
        return usage_error(type, "give the new configuration: --set KEY=VALUE");
    if (strcmp(type, "hw-remove") && (a->nh || a->nr))
        return usage_error(type, "--hide-pci and --remove belong to hw-remove");
    if (strcmp(type, "os-patch") && a->patch)
        return usage_error(type, "--patch belongs to os-patch");
    if (strcmp(type, "app-maint") && a->change)
        return usage_error(type, "--change belongs to app-maint");
    for (unsigned i = 0; i < a->nh; i++) {
        maint_hide_spec h;
        maint_hide_spec_init(&h);
        if (maint_hide_spec_add_pci(&h, a->hide[i]) != MAINT_OK)
            return usage_error(type, "--hide-pci '%s' is not a PCI address BB:DD.F", a->hide[i]);
    }
    return EXIT_SUCCESS;
}

typedef int opt_str_fn(maint_workflow_opts *o, const char *v);

/* The typed options of a command line; NULL after a usage error. */
static maint_workflow_opts *wf_opts(const char *type, const char *domain,
                                    const struct wf_args *a)
{
    const struct { opt_str_fn *set; const char *v; } one[] = {
        { maint_workflow_opts_set_substitute, a->name },
        { maint_workflow_opts_set_kernel, a->kernel },
        { maint_workflow_opts_set_ramdisk, a->ramdisk },
        { maint_workflow_opts_set_cmdline, a->cmdline },
        { maint_workflow_opts_set_firmware, a->firmware },
        { maint_workflow_opts_set_patch, a->patch },
        { maint_workflow_opts_set_change, a->change },
    };
    const struct { opt_str_fn *add; const char *const *v; unsigned n; } many[] = {
        { maint_workflow_opts_add_hide_pci, a->hide, a->nh },
        { maint_workflow_opts_add_remove, a->removes, a->nr },
        { maint_workflow_opts_add_add, a->adds, a->na },
        { maint_workflow_opts_add_disk, a->disks, a->nd },
        { maint_workflow_opts_add_set, a->sets, a->ns },
    };
    maint_workflow_opts *o = NULL;
    int rc;

    rc = maint_workflow_opts_new(&o, maint_workflow_kind_from_name(type), domain);
    if (rc) {
        usage_error(type, "%s", maint_strerror(rc));
        return NULL;
    }
    for (size_t i = 0; !rc && i < sizeof(one) / sizeof(one[0]); i++)
        if (one[i].v)
            rc = one[i].set(o, one[i].v);
    for (size_t i = 0; !rc && i < sizeof(many) / sizeof(many[0]); i++)
        for (unsigned k = 0; !rc && k < many[i].n; k++)
            rc = many[i].add(o, many[i].v[k]);
    if (!rc)
        rc = maint_workflow_opts_set_drain_ms(o, (unsigned)a->drain);
    if (!rc)
        rc = maint_workflow_opts_set_timeout_ms(o, (unsigned)a->timeout_s * 1000);
    if (rc) {
        usage_error(type, "%s", maint_workflow_opts_error(o) ? maint_workflow_opts_error(o)
                                                             : maint_strerror(rc));
        maint_workflow_opts_free(o);
        return NULL;
    }
    return o;
}

/* ---- following a workflow ------------------------------------------------- */

struct follow {
    bool json;
    char *last_msg;               /* the last message printed */
    char *last_json;              /* the last event in full */
};

static void show_event(void *user, const maint_workflow_info *ev)
{
    struct follow *f = user;
    const char *msg = maint_workflow_info_message(ev), *step = maint_workflow_info_step(ev);

    free(f->last_json);
    f->last_json = maint_workflow_info_to_json(ev);
    if (f->json || (f->last_msg && !strcmp(f->last_msg, msg)))
        return;
    printf("[%s] %s: %s\n", maint_workflow_info_state_name(ev), step ? step : "-", msg);
    fflush(stdout);
    free(f->last_msg);
    f->last_msg = strdup(msg);
}

/* The end of a workflow: its final state printed; the exit status. */
static int show_end(const maint_workflow_info *w, bool json)
{
    if (json) {
        char *j = maint_workflow_info_to_json(w);
        if (j)
            print_json_line(j);
        free(j);
    } else {
        printf("workflow %s: %s\n", maint_workflow_info_id(w),
               maint_workflow_info_state_name(w));
    }
    return maint_workflow_info_state(w) == MAINT_WORKFLOW_STATE_DONE ? EXIT_SUCCESS
                                                                     : EXIT_FAILURE;
}

/* Not published (yet, or any more): xmaintd's list says whether it exists.
 * MAINT_OK with *w_r when it has ended, MAINT_ERROR_BUSY while it runs,
 * MAINT_ERROR_NOENT when there is no such workflow. */
static int ask_daemon(maint_ctx *ctx, const char *id, maint_workflow_info **w_r)
{
    int rc = maint_workflow_get(ctx, id, 10000, w_r);

    if (rc == MAINT_OK && !maint_workflow_state_ended(maint_workflow_info_state(*w_r))) {
        maint_workflow_info_free(*w_r);
        *w_r = NULL;
        rc = MAINT_ERROR_BUSY;
    }
    return rc;
}

/* Follow a workflow until it ends, through its events; prints progress and
 * the end.  Returns the exit status. */
static int workflow_wait(maint_ctx *ctx, const char *id, bool json)
{
    struct follow f = { json, NULL, NULL };
    maint_workflow_watch *w = NULL;
    maint_workflow_info *info = NULL;
    maint_workflow_state state;
    int rc, ret = EXIT_FAILURE;

    rc = maint_workflow_watch_open(ctx, &w);
    while (rc == MAINT_OK) {
        rc = maint_workflow_wait(w, id, 0, show_event, &f, &state);
        if (rc != MAINT_ERROR_NOENT)
            break;
        rc = ask_daemon(ctx, id, &info);
        if (rc == MAINT_ERROR_BUSY) {       /* resumed, about to publish */
            sleep(1);
            rc = MAINT_OK;
        } else if (rc == MAINT_OK) {
            show_event(&f, info);
            ret = show_end(info, json);
            goto out;
        }
    }
    if (rc == MAINT_OK) {
        /* the end as published */
        if (json && f.last_json)
            print_json_line(f.last_json);
        else if (!json)
            printf("workflow %s: %s\n", id, maint_workflow_state_name(state));
        ret = state == MAINT_WORKFLOW_STATE_DONE ? EXIT_SUCCESS : EXIT_FAILURE;
    } else if (rc == MAINT_ERROR_NOENT) {
        fprintf(stderr, "xl maint: no workflow %s\n", id);
    } else {
        fprintf(stderr, "xl maint: cannot follow workflow %s: %s\n", id, maint_strerror(rc));
    }
out:
    maint_workflow_info_free(info);
    maint_workflow_watch_close(w);
    free(f.last_msg);
    free(f.last_json);
    return ret;
}

static void print_id_json(const char *id)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;

    if (!g)
        return;
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *)"id", 2);
    yajl_gen_string(g, (const unsigned char *)id, strlen(id));
    yajl_gen_map_close(g);
    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok) {
        fwrite(buf, 1, len, stdout);
        fputc('\n', stdout);
    }
    yajl_gen_free(g);
}

static int workflow_cmd(const char *type, int argc, char **argv)
{
    struct wf_args a = { .drain = 2000, .timeout_s = 600 };
    maint_workflow_opts *o = NULL;
    maint_ctx *ctx = NULL;
    char *id = NULL, *error = NULL;
    int idx, rc, ret = EXIT_FAILURE;

    idx = wf_parse(type, argc, argv, &a);
    if (idx < 0 || wf_check(type, argc, idx, &a) != EXIT_SUCCESS)
        return EXIT_FAILURE;
    if (!(o = wf_opts(type, argv[idx], &a)))
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        goto out;
    rc = maint_workflow_start(ctx, o, 30000, &id, &error);
    if (rc) {
        request_print_error(type, rc, error);
        goto out;
    }
    if (a.nowait) {
        if (a.json)
            print_id_json(id);
        else
            printf("workflow %s started; follow it with 'xl maint workflow wait %s'\n", id, id);
        ret = EXIT_SUCCESS;
        goto out;
    }
    if (!a.json)
        printf("workflow %s started\n", id);
    fflush(stdout);
    ret = workflow_wait(ctx, id, a.json);
out:
    free(id);
    free(error);
    maint_workflow_opts_free(o);
    maint_ctx_close(ctx);
    return ret;
}

int main_hw_remove(int argc, char **argv) { return workflow_cmd("hw-remove", argc, argv); }
int main_hw_add(int argc, char **argv) { return workflow_cmd("hw-add", argc, argv); }
int main_os_upgrade(int argc, char **argv) { return workflow_cmd("os-upgrade", argc, argv); }
int main_os_patch(int argc, char **argv) { return workflow_cmd("os-patch", argc, argv); }
int main_app_maint(int argc, char **argv) { return workflow_cmd("app-maint", argc, argv); }
int main_reconfigure(int argc, char **argv) { return workflow_cmd("reconfigure", argc, argv); }

/* ---- workflow list | show | wait | abort ------------------------------------- */

static void show_one(const maint_workflow_info *w, bool json)
{
    const char *step = maint_workflow_info_step(w), *sub = maint_workflow_info_substitute(w);

    if (json) {
        char *j = maint_workflow_info_to_json(w);
        if (j)
            print_json_line(j);
        free(j);
        return;
    }
    printf("id:         %s\ntype:       %s\ndomain:     %s\nsubstitute: %s\n"
           "state:      %s\nstep:       %s\nmessage:    %s\n", maint_workflow_info_id(w),
           maint_workflow_info_kind_name(w), maint_workflow_info_domain(w),
           sub ? sub : "?", maint_workflow_info_state_name(w),
           step ? step : "-", maint_workflow_info_message(w));
}

static void show_list(maint_workflow_info *const *list, unsigned nr, bool json)
{
    char *j;

    if (json) {
        if ((j = maint_workflow_info_list_to_json(list, nr)))
            print_json_line(j);
        free(j);
        return;
    }
    printf("%-40s %-11s %-16s %-12s %s\n", "ID", "Type", "Domain", "State", "Step");
    for (unsigned i = 0; i < nr; i++) {
        const char *step = maint_workflow_info_step(list[i]);

        printf("%-40s %-11s %-16s %-12s %s\n", maint_workflow_info_id(list[i]),
               maint_workflow_info_kind_name(list[i]), maint_workflow_info_domain(list[i]),
               maint_workflow_info_state_name(list[i]), step ? step : "-");
    }
}

int main_workflow(int argc, char **argv)
{
    maint_workflow_info **list = NULL, *w = NULL;
    unsigned nr = 0;
    bool json = false;
    const char *sub;
    char *error = NULL;
    maint_ctx *ctx;
    int idx, rc, ret = EXIT_FAILURE;

    if ((idx = parse_sub(argc, argv, "workflow", &json, 2, "list", &sub)) < 0)
        return EXIT_FAILURE;
    if (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "abort") && strcmp(sub, "wait"))
        return usage_error("workflow", "'%s' is not list, show, wait or abort", sub);
    if (strcmp(sub, "list") && idx + 1 >= argc)
        return usage_error("workflow", "%s: which workflow (an id from 'xl maint workflow list')?", sub);
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        return EXIT_FAILURE;
    if (!strcmp(sub, "wait")) {
        ret = workflow_wait(ctx, argv[idx + 1], json);
    } else if (!strcmp(sub, "abort")) {
        rc = maint_workflow_abort(ctx, argv[idx + 1], 10000, &error);
        if (rc)
            request_print_error("workflow abort", rc, error);
        else
            printf("workflow %s: abort requested; it rolls back at its next step\n",
                   argv[idx + 1]);
        ret = rc ? EXIT_FAILURE : EXIT_SUCCESS;
    } else if (!strcmp(sub, "show")) {
        rc = maint_workflow_get(ctx, argv[idx + 1], 10000, &w);
        if (rc == MAINT_ERROR_NOENT)
            fprintf(stderr, "xl maint workflow: no workflow %s\n", argv[idx + 1]);
        else if (rc)
            request_print_error("workflow", rc, NULL);
        else
            show_one(w, json);
        ret = rc ? EXIT_FAILURE : EXIT_SUCCESS;
    } else {
        rc = maint_workflow_list(ctx, 10000, &list, &nr);
        if (rc)
            request_print_error("workflow", rc, NULL);
        else
            show_list(list, nr, json);
        ret = rc ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    maint_workflow_info_free(w);
    maint_workflow_info_list_free(list, nr);
    free(error);
    maint_ctx_close(ctx);
    return ret;
}
