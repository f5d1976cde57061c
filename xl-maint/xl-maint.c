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
