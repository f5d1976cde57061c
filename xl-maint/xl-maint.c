/*
 * xl-maint — the `xl maint` front end.  An xl-style command table; each
 * handler parses its own options and returns EXIT_SUCCESS or EXIT_FAILURE.
 * It uses only libmaint's public API.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include <maint/maint.h>

struct cmd_spec {
    const char *name;
    int (*impl)(int argc, char **argv);
    int can_dryrun;
    int modifies;
    const char *desc;
    const char *usage;
    const char *options;
};

static const struct cmd_spec cmd_table[];
static const int cmd_table_n;
static xentoollog_logger_stdiostream *logger;
static int verbosity;

static const struct cmd_spec *cmd_find(const char *name, int *ambiguous_r);

static void help(const char *command)
{
    const struct cmd_spec *cmd;
    int amb = 0, i;

    if (command && (cmd = cmd_find(command, &amb)) != NULL) {
        printf("Usage: xl maint [-v] %s %s\n\n%s.\n\n", cmd->name, cmd->usage,
               cmd->desc);
        if (cmd->options)
            printf("Options:\n\n%s\n", cmd->options);
        return;
    }
    printf("Usage: xl maint [-v] <subcommand> [args]\n\n"
           "xmaint: online maintenance of Xen guests.\n\n"
           "Global options:\n"
           "  -v                verbose (repeat for more)\n"
           "  -h, --help        this text\n\n"
           "Subcommands:\n");
    for (i = 0; i < cmd_table_n; i++)
        printf("  %-16s  %s\n", cmd_table[i].name, cmd_table[i].desc);
    printf("\nUnambiguous prefixes of subcommands are accepted.\n"
           "'xl maint help <subcommand>' describes one.\n");
}

static int usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xl maint %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'xl maint help %s'.\n", cmd);
    return EXIT_FAILURE;
}

/* Parse the common options; returns -1 on a usage error, else optind. */
static int parse_opts(int argc, char **argv, const char *cmd, bool *json_r,
                      int min_args, int max_args)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    int c, nargs;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (!json_r) {
                usage_error(cmd, "--json is not an option of this subcommand");
                return -1;
            }
            *json_r = true;
            break;
        case 'h':
            help(cmd);
            exit(EXIT_SUCCESS);
        default:
            usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    nargs = argc - optind;
    if (nargs < min_args || nargs > max_args) {
        if (nargs < min_args)
            usage_error(cmd, "missing argument");
        else
            usage_error(cmd, "unexpected argument '%s'", argv[argc - 1]);
        return -1;
    }
    return optind;
}

static maint_ctx *open_ctx(unsigned flags)
{
    maint_ctx *ctx = NULL;
    int rc = maint_ctx_open(&ctx, (xentoollog_logger *)logger, flags);

    if (rc) {
        fprintf(stderr, "xl maint: cannot open libmaint: %s\n", maint_strerror(rc));
        return NULL;
    }
    return ctx;
}

static void print_json_line(const char *json)
{
    fputs(json, stdout);
    fputc('\n', stdout);
}

/* ---- list ---------------------------------------------------------------- */

static void print_domains(const maint_domain_info *list, unsigned nr)
{
    printf("%-24s %5s %9s %9s %5s %-8s %-4s\n", "Name", "ID", "Mem(MiB)",
           "Target", "VCPUs", "State", "Type");
    for (unsigned i = 0; i < nr; i++)
        printf("%-24s %5u %9llu %9llu %5u %-8s %-4s\n",
               list[i].name ? list[i].name : "-", list[i].domid,
               (unsigned long long)(list[i].mem_actual_kb / 1024),
               (unsigned long long)(list[i].mem_target_kb / 1024),
               list[i].vcpus_online, maint_domain_state_name(list[i].state),
               maint_domain_type_name(list[i].type));
}

static int main_list(int argc, char **argv)
{
    maint_domain_info *list = NULL;
    maint_ctx *ctx;
    bool json = false;
    unsigned nr = 0;
    int rc, ret = EXIT_FAILURE;

    if (parse_opts(argc, argv, "list", &json, 0, 0) < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    rc = maint_domain_list(ctx, &list, &nr);
    if (rc) {
        fprintf(stderr, "xl maint list: %s\n", maint_strerror(rc));
        goto out;
    }
    if (json) {
        char *j = maint_domain_list_to_json(list, nr);
        if (!j)
            goto out;
        print_json_line(j);
        free(j);
    } else {
        print_domains(list, nr);
    }
    ret = EXIT_SUCCESS;
out:
    maint_domain_list_free(list, nr);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- status -------------------------------------------------------------- */

static int main_status(int argc, char **argv)
{
    maint_domain_info *list = NULL;
    maint_daemon_status st;
    maint_ctx *ctx;
    bool json = false;
    unsigned nr = 0;
    int rc, ret = EXIT_FAILURE;
    char *domains = NULL;

    maint_daemon_status_init(&st);
    if (parse_opts(argc, argv, "status", &json, 0, 0) < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    maint_daemon_status_get(ctx, 2000, &st);
    rc = maint_domain_list(ctx, &list, &nr);
    if (rc) {
        fprintf(stderr, "xl maint status: cannot list domains: %s\n",
                maint_strerror(rc));
        goto out;
    }
    if (json) {
        yajl_gen g = yajl_gen_alloc(NULL);
        const unsigned char *buf;
        size_t len;

        domains = maint_domain_list_to_json(list, nr);
        if (!g || !domains)
            goto out;
#define S(s) yajl_gen_string(g, (const unsigned char *)(s), strlen(s))
        yajl_gen_map_open(g);
        S("daemon");
        yajl_gen_map_open(g);
        S("answering"); yajl_gen_bool(g, st.answering);
        S("state"); st.state ? S(st.state) : yajl_gen_null(g);
        S("version"); st.version ? S(st.version) : yajl_gen_null(g);
        S("pid"); yajl_gen_integer(g, st.pid);
        S("host_id"); st.host_id ? S(st.host_id) : yajl_gen_null(g);
        yajl_gen_map_close(g);
        S("domains");
        yajl_gen_number(g, domains, strlen(domains));   /* verbatim JSON */
        yajl_gen_map_close(g);
#undef S
        yajl_gen_get_buf(g, &buf, &len);
        fwrite(buf, 1, len, stdout);
        fputc('\n', stdout);
        yajl_gen_free(g);
    } else {
        printf("xmaintd: %s", st.answering ? "running" :
               st.state ? st.state : "not running");
        if (st.answering)
            printf(" (version %s, pid %ld, host %s)", st.version ? st.version : "?",
                   st.pid, st.host_id ? st.host_id : "?");
        else if (st.state && !strcmp(st.state, "running"))
            printf(" but not answering");
        printf("\n\n");
        print_domains(list, nr);
    }
    ret = st.answering ? EXIT_SUCCESS : EXIT_FAILURE;
out:
    free(domains);
    maint_daemon_status_dispose(&st);
    maint_domain_list_free(list, nr);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- host ---------------------------------------------------------------- */

static int main_host(int argc, char **argv)
{
    maint_host_info info;
    maint_ctx *ctx;
    bool json = false;
    int rc, ret = EXIT_FAILURE;
    unsigned i;

    maint_host_info_init(&info);
    if (parse_opts(argc, argv, "host", &json, 0, 0) < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    rc = maint_host_info_get(ctx, &info);
    if (rc) {
        fprintf(stderr, "xl maint host: %s\n", maint_strerror(rc));
        goto out;
    }
    if (json) {
        char *j = maint_host_info_to_json(&info);
        if (!j)
            goto out;
        print_json_line(j);
        free(j);
    } else {
        printf("xen_version       : %s\n", info.xen_version ? info.xen_version : "?");
        printf("host_id           : %s\n", info.host_id ? info.host_id :
               "(not published: is xmaintd running?)");
        printf("cpu_signature     : %s\n", info.cpu_signature ? info.cpu_signature : "?");
        printf("nr_cpus           : %u\n", info.nr_cpus);
        printf("threads_per_core  : %u\n", info.threads_per_core);
        printf("cores_per_socket  : %u\n", info.cores_per_socket);
        printf("nr_nodes          : %u\n", info.nr_nodes);
        printf("cpu_mhz           : %u\n", info.cpu_khz / 1000);
        printf("total_memory      : %llu MiB\n", (unsigned long long)(info.total_kb / 1024));
        printf("free_memory       : %llu MiB\n", (unsigned long long)(info.free_kb / 1024));
        printf("virt_caps         :%s%s%s\n", info.pv ? " pv" : "", info.hvm ? " hvm" : "",
               info.hap ? " hap" : "");
        printf("cpu_topology      :\ncpu:    core    socket     node\n");
        for (i = 0; info.cpus && i < info.nr_cpus; i++)
            printf("%3u:    %4u    %6u     %4u\n", i, info.cpus[i].core,
                   info.cpus[i].socket, info.cpus[i].node);
        printf("numa_info         :\nnode:    memsize    memfree\n");
        for (i = 0; info.nodes && i < info.nr_nodes; i++)
            printf("%4u:    %7llu    %7llu\n", i,
                   (unsigned long long)(info.nodes[i].size_kb / 1024),
                   (unsigned long long)(info.nodes[i].free_kb / 1024));
    }
    ret = EXIT_SUCCESS;
out:
    maint_host_info_dispose(&info);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- config -------------------------------------------------------------- */

static int main_config(int argc, char **argv)
{
    maint_ctx *ctx;
    uint32_t domid;
    char *json = NULL;
    int idx, rc;

    idx = parse_opts(argc, argv, "config", NULL, 1, 1);
    if (idx < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    rc = maint_domain_lookup(ctx, argv[idx], &domid);
    if (rc == MAINT_OK)
        rc = maint_domain_config_json(ctx, domid, &json);
    if (rc == MAINT_OK)
        print_json_line(json);
    else
        fprintf(stderr, "xl maint config: %s: %s\n", argv[idx], maint_strerror(rc));
    free(json);
    maint_ctx_close(ctx);
    return rc == MAINT_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- substitute ---------------------------------------------------------- */

/* "256M", "1G", "131072k", plain numbers in MiB (as xl). 0 on error. */
static uint64_t parse_size_kb(const char *s)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-')
        return 0;
    switch (*end) {
    case '\0': case 'M': case 'm': v *= 1024; break;
    case 'G': case 'g': v *= 1024 * 1024; break;
    case 'K': case 'k': break;
    default: return 0;
    }
    if (*end && end[1])
        return 0;
    return v;
}

static void print_progress(void *user, const char *stage, int percent)
{
    fprintf(stderr, "xl maint substitute: %-8s %3d%%\n", stage, percent);
}

static int main_substitute(int argc, char **argv)
{
    static const struct option opts[] = {
        { "hide-pci", required_argument, NULL, 'P' },
        { "hide-vcpu", required_argument, NULL, 'C' },
        { "hide-mem", required_argument, NULL, 'M' },
        { "name", required_argument, NULL, 'n' },
        { "vcpus", required_argument, NULL, 'c' },
        { "memory", required_argument, NULL, 'm' },
        { "kernel", required_argument, NULL, 'k' },
        { "ramdisk", required_argument, NULL, 'r' },
        { "cmdline", required_argument, NULL, 'e' },
        { "disk", required_argument, NULL, 'd' },
        { "keep-mac", no_argument, NULL, 'K' },
        { "remove", required_argument, NULL, 'X' },
        { "set", required_argument, NULL, 's' },
        { "firmware", required_argument, NULL, 'f' },
        { "ready", required_argument, NULL, 'R' },
        { "console-log", required_argument, NULL, 'L' },
        { "timeout", required_argument, NULL, 't' },
        { "dry-run", no_argument, NULL, 'N' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *disks[16], *sets[32], *removes[16];
    maint_substitute_opts o;
    maint_ctx *ctx = NULL;
    bool dry_run = false, json = false;
    unsigned long timeout_s = 120, v;
    uint32_t domid, newid;
    char *out = NULL, *end;
    int c, rc, ret = EXIT_FAILURE;

    maint_substitute_opts_init(&o);
    o.disks = disks;
    o.sets = sets;
    optind = 1;
    opterr = 0;
    /* Options may come before or after the domain. */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            rc = maint_hide_spec_add_pci(&o.hide, optarg);
            if (rc == MAINT_ERROR_TOOBIG)
                return usage_error("substitute", "at most %d hidden PCI devices",
                                   MAINT_HIDE_MAX_PCI);
            if (rc)
                return usage_error("substitute", "--hide-pci '%s': not a PCI address "
                                   "BB:DD.F", optarg);
            break;
        case 'C':
            v = strtoul(optarg, &end, 10);
            rc = *end || !*optarg ? MAINT_ERROR_INVAL
                                  : maint_hide_spec_add_vcpu(&o.hide, (unsigned)v);
            if (rc)
                return usage_error("substitute", "--hide-vcpu '%s': a vCPU id other "
                                   "than 0 (at most %d)", optarg, MAINT_HIDE_MAX_VCPUS);
            break;
        case 'M':
            if (maint_hide_spec_add_mem(&o.hide, optarg))
                return usage_error("substitute", "--hide-mem '%s': 0xSTART-0xEND, page "
                                   "aligned (at most %d)", optarg, MAINT_HIDE_MAX_MEM);
            break;
        case 'n': o.name = optarg; break;
        case 'c':
            v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > 128)
                return usage_error("substitute", "--vcpus '%s': 1 to 128", optarg);
            o.vcpus = (unsigned)v;
            break;
        case 'm':
            o.memory_kb = parse_size_kb(optarg);
            if (!o.memory_kb)
                return usage_error("substitute", "--memory '%s': a size like 256M or 1G",
                                   optarg);
            break;
        case 'k': o.kernel = optarg; break;
        case 'r': o.ramdisk = optarg; break;
        case 'e': o.cmdline = optarg; break;
        case 'd':
            if (o.nr_disks >= 16)
                return usage_error("substitute", "at most 16 --disk");
            disks[o.nr_disks++] = optarg;
            break;
        case 'K': o.mac = MAINT_MAC_KEEP; break;
        case 'X':
            if (o.nr_remove >= 16)
                return usage_error("substitute", "at most 16 --remove");
            removes[o.nr_remove++] = optarg;
            o.remove = removes;
            break;
        case 's':
            if (o.nr_sets >= 32)
                return usage_error("substitute", "at most 32 --set");
            sets[o.nr_sets++] = optarg;
            break;
        case 'f': o.firmware = optarg; break;
        case 'R': o.ready_pattern = optarg; break;
        case 'L': o.console_log = optarg; break;
        case 't':
            timeout_s = strtoul(optarg, &end, 10);
            if (*end || timeout_s == 0 || timeout_s > 3600)
                return usage_error("substitute", "--timeout '%s': 1 to 3600 seconds",
                                   optarg);
            break;
        case 'N': dry_run = true; break;
        case 'j': json = true; break;
        case 'h': help("substitute"); return EXIT_SUCCESS;
        default:
            return usage_error("substitute", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return usage_error("substitute", argc - optind < 1 ? "missing the domain"
                                                           : "one domain only");
    if (!(ctx = open_ctx(0)))
        return EXIT_FAILURE;
    rc = maint_domain_lookup(ctx, argv[optind], &domid);
    if (rc) {
        fprintf(stderr, "xl maint substitute: %s: %s\n", argv[optind], maint_strerror(rc));
        goto out;
    }
    if (dry_run) {
        rc = maint_substitute_config_json(ctx, domid, &o, &out);
        if (rc) {
            fprintf(stderr, "xl maint substitute: %s\n", maint_strerror(rc));
            goto out;
        }
        print_json_line(out);
        ret = EXIT_SUCCESS;
        goto out;
    }
    rc = maint_substitute_create(ctx, domid, &o, (unsigned)timeout_s * 1000,
                                 print_progress, NULL, &newid);
    if (rc) {
        fprintf(stderr, "xl maint substitute: %s (nothing was left behind)\n",
                maint_strerror(rc));
        goto out;
    }
    if (json)
        printf("{\"domid\":%u,\"original\":%u}\n", newid, domid);
    else
        printf("substitute of d%u ready: d%u\n", domid, newid);
    ret = EXIT_SUCCESS;
out:
    free(out);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- request ------------------------------------------------------------- */

static int main_request(int argc, char **argv)
{
    char *result = NULL, *error = NULL;
    maint_ctx *ctx;
    int idx, rc;

    idx = parse_opts(argc, argv, "request", NULL, 1, 2);
    if (idx < 0)
        return EXIT_FAILURE;
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        return EXIT_FAILURE;
    rc = maint_request(ctx, argv[idx], argc - idx > 1 ? argv[idx + 1] : NULL, 10000,
                       &result, &error);
    if (rc == MAINT_OK)
        print_json_line(result);
    else if (rc == MAINT_ERROR_REMOTE)
        fprintf(stderr, "xl maint request: xmaintd refused: %s\n", error);
    else if (rc == MAINT_ERROR_INVAL)
        usage_error("request", "ARGS must be a JSON object");
    else
        fprintf(stderr, "xl maint request: %s\n", maint_strerror(rc));
    free(result);
    free(error);
    maint_ctx_close(ctx);
    return rc == MAINT_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- workflows ------------------------------------------------------------ */

/* Append a JSON string (escaped) to buf. */
static void jstr(char *buf, size_t size, const char *v)
{
    size_t o = strlen(buf);

    if (o + 3 >= size)
        return;
    buf[o++] = '"';
    for (; *v && o + 8 < size; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(buf + o, size - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = 0;
}

static void jkey(char *buf, size_t size, const char *key, const char *v)
{
    size_t o = strlen(buf);
    snprintf(buf + o, size - o, "%s\"%s\":", buf[o - 1] == '{' ? "" : ",", key);
    jstr(buf, size, v);
}

static void jkeyv(char *buf, size_t size, const char *key, const char *const *v, unsigned n)
{
    size_t o = strlen(buf);
    snprintf(buf + o, size - o, "%s\"%s\":[", buf[o - 1] == '{' ? "" : ",", key);
    for (unsigned i = 0; i < n; i++) {
        if (i)
            strncat(buf, ",", size - strlen(buf) - 1);
        jstr(buf, size, v[i]);
    }
    strncat(buf, "]", size - strlen(buf) - 1);
}

static int request_print_error(const char *cmd, int rc, const char *error)
{
    if (rc == MAINT_ERROR_REMOTE)
        fprintf(stderr, "xl maint %s: %s\n", cmd, error ? error : "refused");
    else
        fprintf(stderr, "xl maint %s: %s (is xmaintd running?)\n", cmd, maint_strerror(rc));
    return EXIT_FAILURE;
}

/* A string member of a flat JSON object (for ids in answers). */
static char *json_member(const char *json, const char *key)
{
    char pat[64];
    const char *p, *e;

    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    if (!(p = strstr(json, pat)))
        return NULL;
    p += strlen(pat);
    if (!(e = strchr(p, '"')))
        return NULL;
    return strndup(p, (size_t)(e - p));
}

/* The workflow's JSON out of workflow-list's array (NULL if absent). */
static char *workflow_find(const char *list, const char *id)
{
    char pat[160];
    const char *p, *q;
    int depth = 0;

    snprintf(pat, sizeof(pat), "{\"id\":\"%s\"", id);
    if (!(p = strstr(list, pat)))
        return NULL;
    for (q = p; *q; q++) {
        if (*q == '"') {             /* skip strings */
            for (q++; *q && *q != '"'; q++)
                if (*q == '\\' && q[1])
                    q++;
            continue;
        }
        if (*q == '{')
            depth++;
        else if (*q == '}' && --depth == 0)
            return strndup(p, (size_t)(q - p + 1));
    }
    return NULL;
}

/* Follow a workflow until it ends; prints progress; returns its final JSON. */
static int workflow_wait(maint_ctx *ctx, const char *id, bool json)
{
    char *last = NULL;
    int ret = EXIT_FAILURE;

    for (;;) {
        char *list = NULL, *err = NULL, *w, *state, *step, *msg;
        int rc = maint_request(ctx, "workflow-list", NULL, 10000, &list, &err);

        if (rc) {
            free(err);
            fprintf(stderr, "xl maint: lost xmaintd (%s); the workflow continues when it "
                    "is back: 'xl maint workflow wait %s'\n", maint_strerror(rc), id);
            sleep(2);
            free(list);
            continue;
        }
        w = workflow_find(list, id);
        free(list);
        if (!w) {
            fprintf(stderr, "xl maint: no workflow %s\n", id);
            break;
        }
        state = json_member(w, "state");
        step = json_member(w, "step");
        msg = json_member(w, "message");
        if (!json && (!last || strcmp(last, msg ? msg : ""))) {
            printf("[%s] %s: %s\n", state ? state : "?", step ? step : "-", msg ? msg : "");
            fflush(stdout);
            free(last);
            last = strdup(msg ? msg : "");
        }
        if (state && strcmp(state, "running") && strcmp(state, "rolling-back")) {
            if (json)
                print_json_line(w);
            else
                printf("workflow %s: %s\n", id, state);
            ret = !strcmp(state, "done") ? EXIT_SUCCESS : EXIT_FAILURE;
            free(state);
            free(step);
            free(msg);
            free(w);
            break;
        }
        free(state);
        free(step);
        free(msg);
        free(w);
        usleep(500000);
    }
    free(last);
    return ret;
}

static int workflow_cmd(const char *type, int argc, char **argv)
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
    const char *hide[16], *disks[8], *sets[32], *removes[16], *adds[16];
    unsigned nh = 0, nd = 0, ns = 0, nr = 0, na = 0;
    const char *name = NULL, *kernel = NULL, *ramdisk = NULL, *cmdline = NULL,
               *firmware = NULL, *patch = NULL, *change = NULL;
    unsigned long drain = 2000, timeout_s = 600;
    bool nowait = false, json = false;
    char args[8192], *result = NULL, *error = NULL, *id = NULL, *end;
    maint_ctx *ctx;
    int c, rc, ret = EXIT_FAILURE;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            if (nh == 16) return usage_error(type, "at most 16 --hide-pci");
            hide[nh++] = optarg;
            break;
        case 'X':
            if (nr == 16) return usage_error(type, "at most 16 --remove");
            if (strncmp(optarg, "vif:", 4) && strncmp(optarg, "disk:", 5))
                return usage_error(type, "--remove '%s': vif:DEVID or disk:VDEV", optarg);
            removes[nr++] = optarg;
            break;
        case 'A':
            if (na == 16) return usage_error(type, "at most 16 --add");
            if (strncmp(optarg, "vif:", 4) && strncmp(optarg, "disk:", 5))
                return usage_error(type, "--add '%s': vif:bridge=BR[,model=M] or disk:SPEC", optarg);
            adds[na++] = optarg;
            break;
        case 'd':
            if (nd == 8) return usage_error(type, "at most 8 --disk");
            disks[nd++] = optarg;
            break;
        case 's':
            if (ns == 32) return usage_error(type, "at most 32 --set");
            sets[ns++] = optarg;
            break;
        case 'n': name = optarg; break;
        case 'k': kernel = optarg; break;
        case 'r': ramdisk = optarg; break;
        case 'e': cmdline = optarg; break;
        case 'f': firmware = optarg; break;
        case 'p': patch = optarg; break;
        case 'c': change = optarg; break;
        case 'D':
            drain = strtoul(optarg, &end, 10);
            if (*end || end == optarg || drain > 600000)
                return usage_error(type, "--drain '%s': 0 to 600000 milliseconds", optarg);
            break;
        case 't':
            timeout_s = strtoul(optarg, &end, 10);
            if (*end || timeout_s == 0 || timeout_s > 3600)
                return usage_error(type, "--timeout '%s': 1 to 3600 seconds", optarg);
            break;
        case 'W': nowait = true; break;
        case 'j': json = true; break;
        case 'h': help(type); return EXIT_SUCCESS;
        default:
            return usage_error(type, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return usage_error(type, argc - optind < 1 ? "missing the domain" : "one domain only");
    if (!strcmp(type, "hw-remove") && !nh && !nr)
        return usage_error(type, "say which device goes: --hide-pci BB:DD.F or --remove vif:N|disk:VDEV");
    if (!strcmp(type, "os-upgrade") && !kernel && !ramdisk && !nd && !cmdline)
        return usage_error(type, "give the new system: --kernel, --ramdisk, --cmdline or --disk");
    if (!strcmp(type, "os-patch") && !patch)
        return usage_error(type, "give the patch step: --patch COMMAND");
    if (!strcmp(type, "app-maint") && !change)
        return usage_error(type, "give the change: --change COMMAND");
    if (!strcmp(type, "hw-add") && !na)
        return usage_error(type, "say which device comes: --add vif:bridge=BR or --add disk:SPEC");
    if (strcmp(type, "hw-add") && na)
        return usage_error(type, "--add belongs to hw-add");
    if (!strcmp(type, "reconfigure") && !ns)
        return usage_error(type, "give the new configuration: --set KEY=VALUE");
    if (strcmp(type, "hw-remove") && (nh || nr))
        return usage_error(type, "--hide-pci and --remove belong to hw-remove");
    if (strcmp(type, "os-patch") && patch)
        return usage_error(type, "--patch belongs to os-patch");
    if (strcmp(type, "app-maint") && change)
        return usage_error(type, "--change belongs to app-maint");
    for (unsigned i = 0; i < nh; i++) {
        maint_hide_spec h;
        maint_hide_spec_init(&h);
        if (maint_hide_spec_add_pci(&h, hide[i]) != MAINT_OK)
            return usage_error(type, "--hide-pci '%s' is not a PCI address BB:DD.F", hide[i]);
    }

    snprintf(args, sizeof(args), "{");
    jkey(args, sizeof(args), "type", type);
    jkey(args, sizeof(args), "domain", argv[optind]);
    if (name) jkey(args, sizeof(args), "substitute", name);
    if (kernel) jkey(args, sizeof(args), "kernel", kernel);
    if (ramdisk) jkey(args, sizeof(args), "ramdisk", ramdisk);
    if (cmdline) jkey(args, sizeof(args), "cmdline", cmdline);
    if (firmware) jkey(args, sizeof(args), "firmware", firmware);
    if (patch) jkey(args, sizeof(args), "patch", patch);
    if (change) jkey(args, sizeof(args), "change", change);
    if (nh) jkeyv(args, sizeof(args), "hide_pci", hide, nh);
    if (nr) jkeyv(args, sizeof(args), "remove", removes, nr);
    if (na) jkeyv(args, sizeof(args), "add", adds, na);
    if (nd) jkeyv(args, sizeof(args), "disks", disks, nd);
    if (ns) jkeyv(args, sizeof(args), "sets", sets, ns);
    snprintf(args + strlen(args), sizeof(args) - strlen(args),
             ",\"drain_ms\":%lu,\"timeout_ms\":%lu}", drain, timeout_s * 1000);
    if (strlen(args) >= sizeof(args) - 1)
        return usage_error(type, "arguments too long");

    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        return EXIT_FAILURE;
    rc = maint_request(ctx, "workflow-start", args, 30000, &result, &error);
    if (rc) {
        request_print_error(type, rc, error);
        goto out;
    }
    id = json_member(result, "id");
    if (!id) {
        fprintf(stderr, "xl maint %s: xmaintd answered without an id: %s\n", type, result);
        goto out;
    }
    if (nowait) {
        if (json)
            print_json_line(result);
        else
            printf("workflow %s started; follow it with 'xl maint workflow wait %s'\n", id, id);
        ret = EXIT_SUCCESS;
        goto out;
    }
    if (!json)
        printf("workflow %s started\n", id);
    ret = workflow_wait(ctx, id, json);
out:
    free(id);
    free(result);
    free(error);
    maint_ctx_close(ctx);
    return ret;
}

static int main_hw_remove(int argc, char **argv) { return workflow_cmd("hw-remove", argc, argv); }
static int main_hw_add(int argc, char **argv) { return workflow_cmd("hw-add", argc, argv); }
static int main_os_upgrade(int argc, char **argv) { return workflow_cmd("os-upgrade", argc, argv); }
static int main_os_patch(int argc, char **argv) { return workflow_cmd("os-patch", argc, argv); }
static int main_app_maint(int argc, char **argv) { return workflow_cmd("app-maint", argc, argv); }
static int main_reconfigure(int argc, char **argv) { return workflow_cmd("reconfigure", argc, argv); }

static int main_workflow(int argc, char **argv)
{
    bool json = false;
    const char *sub;
    char *result = NULL, *error = NULL, args[256];
    maint_ctx *ctx;
    int idx, rc, ret = EXIT_FAILURE;

    idx = parse_opts(argc, argv, "workflow", &json, 0, 2);
    if (idx < 0)
        return EXIT_FAILURE;
    sub = idx < argc ? argv[idx] : "list";
    if (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "abort") && strcmp(sub, "wait"))
        return usage_error("workflow", "'%s' is not list, show, wait or abort", sub);
    if (strcmp(sub, "list") && idx + 1 >= argc)
        return usage_error("workflow", "%s: which workflow (an id from 'xl maint workflow list')?", sub);
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        return EXIT_FAILURE;
    if (!strcmp(sub, "wait")) {
        ret = workflow_wait(ctx, argv[idx + 1], json);
        goto out;
    }
    if (!strcmp(sub, "abort")) {
        snprintf(args, sizeof(args), "{");
        jkey(args, sizeof(args), "id", argv[idx + 1]);
        strcat(args, "}");
        rc = maint_request(ctx, "workflow-abort", args, 10000, &result, &error);
        if (rc) {
            request_print_error("workflow abort", rc, error);
            goto out;
        }
        printf("workflow %s: abort requested; it rolls back at its next step\n", argv[idx + 1]);
        ret = EXIT_SUCCESS;
        goto out;
    }
    rc = maint_request(ctx, "workflow-list", NULL, 10000, &result, &error);
    if (rc) {
        request_print_error("workflow", rc, error);
        goto out;
    }
    if (!strcmp(sub, "show")) {
        char *w = workflow_find(result, argv[idx + 1]);
        if (!w) {
            fprintf(stderr, "xl maint workflow: no workflow %s\n", argv[idx + 1]);
            goto out;
        }
        if (json) {
            print_json_line(w);
        } else {
            char *t = json_member(w, "type"), *d = json_member(w, "domain"),
                 *st = json_member(w, "state"), *sp = json_member(w, "step"),
                 *m = json_member(w, "message"), *su = json_member(w, "substitute");
            printf("id:         %s\ntype:       %s\ndomain:     %s\nsubstitute: %s\n"
                   "state:      %s\nstep:       %s\nmessage:    %s\n", argv[idx + 1],
                   t ? t : "?", d ? d : "?", su ? su : "?", st ? st : "?", sp ? sp : "-",
                   m ? m : "");
            free(t); free(d); free(st); free(sp); free(m); free(su);
        }
        free(w);
        ret = EXIT_SUCCESS;
        goto out;
    }
    if (json) {
        print_json_line(result);
    } else {
        const char *p = result;
        printf("%-40s %-11s %-16s %-12s %s\n", "ID", "Type", "Domain", "State", "Step");
        while ((p = strstr(p, "{\"id\":\""))) {
            char *idv = json_member(p, "id");
            char *w = idv ? workflow_find(p, idv) : NULL;
            if (w) {
                char *t = json_member(w, "type"), *d = json_member(w, "domain"),
                     *st = json_member(w, "state"), *sp = json_member(w, "step");
                printf("%-40s %-11s %-16s %-12s %s\n", idv, t ? t : "?", d ? d : "?",
                       st ? st : "?", sp ? sp : "-");
                free(t); free(d); free(st); free(sp);
                p += strlen(w);
            } else {
                p++;
            }
            free(w);
            free(idv);
        }
    }
    ret = EXIT_SUCCESS;
out:
    free(result);
    free(error);
    maint_ctx_close(ctx);
    return ret;
}

static int main_service(int argc, char **argv)
{
    bool json = false;
    const char *sub;
    char args[512], *result = NULL, *error = NULL, *colon, *end;
    maint_ctx *ctx;
    int idx, rc, ret = EXIT_FAILURE;
    unsigned long port;

    idx = parse_opts(argc, argv, "service", &json, 0, 4);
    if (idx < 0)
        return EXIT_FAILURE;
    sub = idx < argc ? argv[idx] : "list";
    snprintf(args, sizeof(args), "{");
    if (!strcmp(sub, "add")) {
        if (argc - idx != 4)
            return usage_error("service", "add APP VIP:PORT DOMAIN");
        if (!maint_app_name_valid(argv[idx + 1]))
            return usage_error("service", "'%s' is not an application name", argv[idx + 1]);
        colon = strrchr(argv[idx + 2], ':');
        if (!colon)
            return usage_error("service", "'%s' is not VIP:PORT", argv[idx + 2]);
        *colon = 0;
        port = strtoul(colon + 1, &end, 10);
        if (*end || port == 0 || port > 65535)
            return usage_error("service", "port '%s' is not 1-65535", colon + 1);
        jkey(args, sizeof(args), "app", argv[idx + 1]);
        jkey(args, sizeof(args), "vip", argv[idx + 2]);
        jkey(args, sizeof(args), "domain", argv[idx + 3]);
        snprintf(args + strlen(args), sizeof(args) - strlen(args), ",\"port\":%lu}", port);
    } else if (!strcmp(sub, "remove")) {
        if (argc - idx != 2)
            return usage_error("service", "remove APP");
        jkey(args, sizeof(args), "app", argv[idx + 1]);
        strcat(args, "}");
    } else if (!strcmp(sub, "list")) {
        if (argc - idx > 1)
            return usage_error("service", "unexpected argument '%s'", argv[idx + 1]);
        strcat(args, "}");
    } else {
        return usage_error("service", "'%s' is not add, remove or list", sub);
    }
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        return EXIT_FAILURE;
    {
        char op[32];
        snprintf(op, sizeof(op), "service-%s", sub);
        rc = maint_request(ctx, op, args, 20000, &result, &error);
    }
    if (rc) {
        request_print_error("service", rc, error);
        goto out;
    }
    if (json) {
        print_json_line(result);
    } else {
        const char *p = result;
        printf("%-16s %-22s %-16s %s\n", "App", "Address", "Domain", "Backend");
        while ((p = strstr(p, "{\"app\":\""))) {
            char *a = json_member(p, "app"), *v = json_member(p, "vip"),
                 *d = json_member(p, "domain"), *b = json_member(p, "addr");
            const char *pp = strstr(p, "\"port\":");
            char addr[64];
            snprintf(addr, sizeof(addr), "%s:%ld", v ? v : "?", pp ? strtol(pp + 7, NULL, 10) : 0L);
            printf("%-16s %-22s %-16s %s\n", a ? a : "?", addr, d ? d : "?", b ? b : "-");
            free(a); free(v); free(d); free(b);
            p++;
        }
    }
    ret = EXIT_SUCCESS;
out:
    free(result);
    free(error);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- hot-standby pairs ----------------------------------------------------- */

static int main_standby(int argc, char **argv)
{
    static const struct option opts[] = {
        { "standby-min", required_argument, NULL, 'm' },
        { "reserve", required_argument, NULL, 'r' },
        { "stall", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    uint64_t min_kb = 64 * 1024, reserve_kb = 256 * 1024;
    unsigned long stall = 15;
    bool json = false;
    char args[512], *result = NULL, *error = NULL, *end;
    const char *sub, *op;
    maint_ctx *ctx;
    int c, rc, ret = EXIT_FAILURE, n;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (!(min_kb = parse_size_kb(optarg)))
                return usage_error("standby", "--standby-min '%s' is not a size (e.g. 64M)", optarg);
            break;
        case 'r':
            if (!(reserve_kb = parse_size_kb(optarg)))
                return usage_error("standby", "--reserve '%s' is not a size (e.g. 256M)", optarg);
            break;
        case 's':
            stall = strtoul(optarg, &end, 10);
            if (*end || stall < 3 || stall > 3600)
                return usage_error("standby", "--stall '%s': 3 to 3600 seconds", optarg);
            break;
        case 'j': json = true; break;
        case 'h': help("standby"); return EXIT_SUCCESS;
        default: return usage_error("standby", "unknown option '%s'", argv[optind - 1]);
        }
    }
    n = argc - optind;
    sub = n ? argv[optind] : "show";
    args[0] = 0;
    if (!strcmp(sub, "create")) {
        if (n != 3)
            return usage_error("standby", "create ACTIVE STANDBY");
        snprintf(args, sizeof(args), "{");
        jkey(args, sizeof(args), "active", argv[optind + 1]);
        jkey(args, sizeof(args), "standby", argv[optind + 2]);
        snprintf(args + strlen(args), sizeof(args) - strlen(args),
                 ",\"standby_min_kb\":%llu,\"reserve_kb\":%llu,\"stall_s\":%lu}",
                 (unsigned long long)min_kb, (unsigned long long)reserve_kb, stall);
        op = "standby-create";
    } else if (!strcmp(sub, "destroy")) {
        if (n != 2)
            return usage_error("standby", "destroy ACTIVE");
        snprintf(args, sizeof(args), "{");
        jkey(args, sizeof(args), "active", argv[optind + 1]);
        strcat(args, "}");
        op = "standby-destroy";
    } else if (!strcmp(sub, "show")) {
        if (n > 1)
            return usage_error("standby", "unexpected argument '%s'", argv[optind + 1]);
        op = "standby-show";
    } else {
        return usage_error("standby", "'%s' is not create, show or destroy", sub);
    }
    if (!(ctx = open_ctx(MAINT_CTX_NO_LIBXL)))
        return EXIT_FAILURE;
    rc = maint_request(ctx, op, args[0] ? args : NULL, 20000, &result, &error);
    if (rc) {
        request_print_error("standby", rc, error);
        goto out;
    }
    if (json || strcmp(op, "standby-show")) {
        print_json_line(result);
    } else {
        const char *p = result;
        printf("%-16s %-16s %12s %12s %s\n", "Active", "Standby", "Active(MiB)", "Standby(MiB)", "State");
        while ((p = strstr(p, "{\"active\":"))) {
            char *an = json_member(p, "active_name"), *sn = json_member(p, "standby_name");
            const char *at = strstr(p, "\"active_target_kb\":"), *st = strstr(p, "\"standby_target_kb\":");
            const char *fo = strstr(p, "\"failed_over\":");
            printf("%-16s %-16s %12lld %12lld %s\n", an ? an : "?", sn ? sn : "?",
                   at ? strtoll(at + 19, NULL, 10) / 1024 : 0, st ? strtoll(st + 20, NULL, 10) / 1024 : 0,
                   fo && !strncmp(fo + 14, "true", 4) ? "failed over" : "protected");
            free(an);
            free(sn);
            p++;
        }
        printf("\n%-16s %10s %-16s %s\n", "Area", "Size(MiB)", "Owner", "On failure");
        p = strstr(result, "\"areas\":");
        while (p && (p = strstr(p, "{\"name\":"))) {
            char *nm = json_member(p, "name"), *on = json_member(p, "owner_name");
            const char *kb = strstr(p, "\"kb\":"), *fo = strstr(p, "\"failover\":");
            long long f = fo ? strtoll(fo + 11, NULL, 10) : 0;
            char where[32];
            if (f)
                snprintf(where, sizeof(where), "moves to d%lld", f);
            else
                snprintf(where, sizeof(where), "(on the standby)");
            printf("%-16s %10lld %-16s %s\n", nm ? nm : "?", kb ? strtoll(kb + 5, NULL, 10) / 1024 : 0,
                   on ? on : "?", where);
            free(nm);
            free(on);
            p++;
        }
    }
    ret = EXIT_SUCCESS;
out:
    free(result);
    free(error);
    maint_ctx_close(ctx);
    return ret;
}

/* ---- help, version -------------------------------------------------------- */

static int main_help(int argc, char **argv)
{
    if (argc > 2)
        return usage_error("help", "unexpected argument '%s'", argv[2]);
    if (argc == 2) {
        int amb = 0;
        if (!cmd_find(argv[1], &amb))
            return usage_error("help", "no subcommand '%s'", argv[1]);
        help(argv[1]);
    } else {
        help(NULL);
    }
    return EXIT_SUCCESS;
}

static int main_version(int argc, char **argv)
{
    if (parse_opts(argc, argv, "version", NULL, 0, 0) < 0)
        return EXIT_FAILURE;
    printf("xl maint %s (libmaint %s)\n", PACKAGE_VERSION, maint_version());
    return EXIT_SUCCESS;
}

/* The options every workflow command shares (help text). */
#define WF_BASE_OPTS \
      "  --name NAME          the substitute's name (default <domain>-sub)\n" \
      "  --firmware F         HVM: the substitute's hvmloader\n" \
      "  --drain MS           redirect: how long the old instance drains (default 2000)\n" \
      "  --timeout SEC        how long the substitute may take to be ready (default 600)\n" \
      "  --no-wait            start it and return (follow: xl maint workflow wait ID)\n" \
      "  --json               machine-readable result"
#define WF_COMMON_OPTS \
      "  --set KEY=VALUE      an xl.cfg override for the substitute (repeatable)\n" \
      WF_BASE_OPTS

static const struct cmd_spec cmd_table[] = {
    { "help", main_help, 0, 0, "Print help about xl maint or one subcommand",
      "[subcommand]", NULL },
    { "status", main_status, 0, 0,
      "Show whether xmaintd answers, and the domains on this host",
      "[--json]", "  -j, --json   machine-readable output" },
    { "list", main_list, 0, 0, "List the domains on this host",
      "[--json]", "  -j, --json   machine-readable output" },
    { "host", main_host, 0, 0,
      "Show host information: CPUs, topology, NUMA, memory, identity",
      "[--json]", "  -j, --json   machine-readable output" },
    { "config", main_config, 0, 0,
      "Print a running domain's live configuration (libxl's JSON)",
      "<domain>", "  domain      a name or a domain id" },
    { "substitute", main_substitute, 1, 1,
      "Boot a substitute beside a running domain, with hardware hidden",
      "<domain> [options]",
      "  --hide-pci BB:DD.F   hide a PCI device (repeatable, at most 16)\n"
      "  --hide-vcpu N        hide vCPU N from the MADT (HVM; repeatable)\n"
      "  --hide-mem S-E       hide a memory range 0xSTART-0xEND (HVM; repeatable)\n"
      "  --name NAME          the substitute's name (default <domain>-sub)\n"
      "  --vcpus N            vCPUs\n"
      "  --memory SIZE        memory, e.g. 256M, 1G\n"
      "  --kernel F, --ramdisk F, --cmdline S   what it boots\n"
      "  --disk SPEC          an xl disk spec replacing the disks (repeatable)\n"
      "  --keep-mac           keep the original's MAC addresses\n"
      "  --remove DEV         leave a device out: vif:DEVID or disk:VDEV (repeatable)\n"
      "  --set KEY=VALUE      an xl.cfg override (memory, maxmem, vcpus, maxvcpus,\n"
      "                       kernel, ramdisk, extra, cmdline, firmware_override)\n"
      "  --firmware F         HVM: the hvmloader to boot (patched, hvmloader-patches/)\n"
      "  --ready TEXT         ready when the console log shows TEXT (else the agent)\n"
      "  --console-log FILE   the log to search (default: xenconsoled's log, or an\n"
      "                       HVM guest's file-backed serial port)\n"
      "  --timeout SEC        how long to wait until ready (default 120)\n"
      "  --dry-run            print the derived configuration (libxl JSON), create nothing\n"
      "  --json               machine-readable result" },
    { "hw-remove", main_hw_remove, 0, 1,
      "Take a device away from a domain without downtime (substitute, move, retire)",
      "<domain> (--hide-pci BB:DD.F | --remove vif:N | --remove disk:VDEV)... [options]",
      "  --hide-pci BB:DD.F   a PCI device the substitute does not get (repeatable)\n"
      "  --remove vif:N       a network interface it does not get (by devid)\n"
      "  --remove disk:VDEV   a disk it does not get (e.g. disk:xvdb)\n"
      WF_COMMON_OPTS },
    { "hw-add", main_hw_add, 0, 1,
      "Give a domain new hardware without downtime (a substitute with it takes over)",
      "<domain> (--add vif:bridge=BR[,model=M][,mac=MAC] | --add disk:SPEC)... [options]",
      "  --add vif:...        a network interface only the substitute gets\n"
      "  --add disk:SPEC      a disk (xl disk spec) only the substitute gets\n"
      WF_COMMON_OPTS },
    { "os-upgrade", main_os_upgrade, 0, 1,
      "Move a domain's applications to a substitute booting a new system",
      "<domain> [--kernel F] [--ramdisk F] [--cmdline S] [--disk SPEC]... [options]",
      "  --kernel F, --ramdisk F, --cmdline S, --disk SPEC   the new system\n"
      WF_COMMON_OPTS },
    { "os-patch", main_os_patch, 0, 1,
      "Patch a domain's system in a substitute, then move the applications to it",
      "<domain> --patch COMMAND [options]",
      "  --patch COMMAND      run in the substitute before the applications move\n"
      WF_COMMON_OPTS },
    { "app-maint", main_app_maint, 0, 1,
      "Change a second instance of the applications in a substitute, then cut over",
      "<domain> --change COMMAND [options]",
      "  --change COMMAND     run in the substitute before the request stream moves\n"
      WF_COMMON_OPTS },
    { "reconfigure", main_reconfigure, 0, 1,
      "Move the applications out, restart the domain reconfigured, move them back",
      "<domain> --set KEY=VALUE... [options]",
      "  --set KEY=VALUE      the domain's new configuration (memory, maxmem, vcpus,\n"
      "                       maxvcpus, kernel, ramdisk, extra, cmdline, firmware_override)\n"
      "                       while it restarts, a substitute serves its applications\n"
      WF_BASE_OPTS },
    { "workflow", main_workflow, 0, 1,
      "List, show, follow or abort maintenance workflows",
      "[list | show ID | wait ID | abort ID] [--json]",
      "  list      every workflow xmaintd knows (default)\n"
      "  show ID   one workflow's state\n"
      "  wait ID   follow it until it ends (exit 0 when it finished)\n"
      "  abort ID  roll it back at its next step\n"
      "  --json    machine-readable output" },
    { "service", main_service, 0, 1,
      "Service addresses dom0 redirects to the domain that serves them",
      "[list | add APP VIP:PORT DOMAIN | remove APP] [--json]",
      "  add      traffic to VIP:PORT goes to DOMAIN's address (nftables DNAT);\n"
      "           workflows switch it when APP moves\n"
      "  remove   forget the service\n"
      "  --json   machine-readable output" },
    { "standby", main_standby, 0, 1,
      "Hot-standby pairs: a standby held at minimal memory, memory on demand, failover",
      "[show | create ACTIVE STANDBY | destroy ACTIVE] [options] [--json]",
      "  create ACTIVE STANDBY   pair them; the standby is ballooned down to its minimum\n"
      "  --standby-min SIZE      the standby's memory while it waits (default 64M)\n"
      "  --reserve SIZE          host memory xmaintd keeps for failovers (default 256M)\n"
      "  --stall SEC             an active whose agent stops its heartbeat this long\n"
      "                          has failed (default 15)\n"
      "  show                    the pairs and the resource table\n"
      "  destroy ACTIVE          unpair (after the protected areas were released)\n"
      "  --json                  machine-readable output" },
    { "request", main_request, 0, 1,
      "Send one request to xmaintd through xenstore and print its result",
      "<op> [ARGS-JSON]",
      "  op          ping, list, host-info, ...\n"
      "  ARGS-JSON   a JSON object with the operation's arguments" },
    { "version", main_version, 0, 0, "Print the version", "", NULL },
};
static const int cmd_table_n = sizeof(cmd_table) / sizeof(cmd_table[0]);

static const struct cmd_spec *cmd_find(const char *name, int *ambiguous_r)
{
    const struct cmd_spec *found = NULL;
    size_t n = strlen(name);
    int i, matches = 0;

    *ambiguous_r = 0;
    for (i = 0; i < cmd_table_n; i++) {
        if (!strcmp(cmd_table[i].name, name))
            return &cmd_table[i];
        if (n && !strncmp(cmd_table[i].name, name, n)) {
            found = &cmd_table[i];
            matches++;
        }
    }
    if (matches > 1) {
        *ambiguous_r = 1;
        return NULL;
    }
    return found;
}

int main(int argc, char **argv)
{
    const struct cmd_spec *cmd;
    int i, amb, ret;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            help(NULL);
            return EXIT_SUCCESS;
        } else if (strspn(argv[i] + 1, "v") == strlen(argv[i] + 1) && argv[i][1]) {
            verbosity += (int)strlen(argv[i] + 1);
        } else {
            fprintf(stderr, "xl maint: unknown option '%s'\n\n", argv[i]);
            help(NULL);
            return EXIT_FAILURE;
        }
    }
    if (i >= argc) {
        help(NULL);
        return EXIT_FAILURE;
    }
    cmd = cmd_find(argv[i], &amb);
    if (!cmd) {
        fprintf(stderr, "xl maint: %s subcommand '%s'\n\n",
                amb ? "ambiguous" : "unknown", argv[i]);
        help(NULL);
        return EXIT_FAILURE;
    }
    logger = xtl_createlogger_stdiostream(stderr, verbosity >= 2 ? XTL_DEBUG :
                                          verbosity == 1 ? XTL_INFO : XTL_ERROR, 0);
    ret = cmd->impl(argc - i, argv + i);
    if (logger)
        xtl_logger_destroy((xentoollog_logger *)logger);
    return ret;
}
