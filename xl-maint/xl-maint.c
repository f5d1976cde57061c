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
    while ((c = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
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

static void print_domains(const maint_domain_info *list, int nr)
{
    printf("%-24s %5s %9s %9s %5s %-8s %-4s\n", "Name", "ID", "Mem(MiB)",
           "Target", "VCPUs", "State", "Type");
    for (int i = 0; i < nr; i++)
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
    int nr = 0, rc, ret = EXIT_FAILURE;

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
    int nr = 0, rc, ret = EXIT_FAILURE;
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
    const char *disks[16], *sets[32];
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
      "  --set KEY=VALUE      an xl.cfg override (memory, maxmem, vcpus, maxvcpus,\n"
      "                       kernel, ramdisk, extra, cmdline, firmware_override)\n"
      "  --firmware F         HVM: the hvmloader to boot (patched, hvmloader-patches/)\n"
      "  --ready TEXT         ready when the console log shows TEXT (else the agent)\n"
      "  --console-log FILE   the log to search (default: xenconsoled's log, or an\n"
      "                       HVM guest's file-backed serial port)\n"
      "  --timeout SEC        how long to wait until ready (default 120)\n"
      "  --dry-run            print the derived configuration (libxl JSON), create nothing\n"
      "  --json               machine-readable result" },
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
