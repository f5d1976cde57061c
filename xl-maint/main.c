/*
 * xl-maint -- the `xl maint` front end: the command table, help, the
 * helpers every command family shares, main().  An xl-style table; each
 * handler (cmd-*.c) parses its own options and returns EXIT_SUCCESS or
 * EXIT_FAILURE.  It uses only libmaint's public API.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl-maint.h"

static const struct cmd_spec cmd_table[];
static const int cmd_table_n;
static xentoollog_logger_stdiostream *logger;
static int verbosity;

static const struct cmd_spec *cmd_find(const char *name, int *ambiguous_r);

void help(const char *command)
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

int usage_error(const char *cmd, const char *fmt, ...)
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
int parse_opts(int argc, char **argv, const char *cmd, bool *json_r,
                      int min_args, int max_args)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    bool started = false;
    int c, nargs;

    while ((c = next_option(argc, argv, "jh", opts, &started)) != -1) {
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

int next_option(int argc, char **argv, const char *shortopts, const struct option *opts,
                bool *started)
{
    if (!*started) {
        optind = 1;
        opterr = 0;
        *started = true;
    }
    return getopt_long(argc, argv, shortopts, opts, NULL);
}

int parse_sub(int argc, char **argv, const char *cmd, bool *json_r, int max_args,
              const char *dflt, const char **sub_r)
{
    int idx = parse_opts(argc, argv, cmd, json_r, 0, max_args);

    *sub_r = idx >= 0 && idx < argc ? argv[idx] : dflt;
    return idx;
}

maint_ctx *open_ctx(unsigned flags)
{
    maint_ctx *ctx = NULL;
    int rc = maint_ctx_open(&ctx, (xentoollog_logger *)logger, flags);

    const char *shim = getenv("XMAINT_PCI_HOLE");

    if (rc) {
        fprintf(stderr, "xl maint: cannot open libmaint: %s\n", maint_strerror(rc));
        return NULL;
    }
    if (shim && maint_ctx_set_path(ctx, MAINT_PATH_PCI_HOLE_SHIM, shim)) {
        fprintf(stderr, "xl maint: XMAINT_PCI_HOLE must be an absolute path\n");
        maint_ctx_close(ctx);
        return NULL;
    }
    return ctx;
}

void print_json_line(const char *json)
{
    fputs(json, stdout);
    fputc('\n', stdout);
}

int request_print_error(const char *cmd, int rc, const char *error)
{
    if (error && (rc == MAINT_ERROR_REMOTE || rc == MAINT_ERROR_INVAL))
        fprintf(stderr, "xl maint %s: %s\n", cmd, error);
    else if (rc == MAINT_ERROR_REMOTE)
        fprintf(stderr, "xl maint %s: refused\n", cmd);
    else
        fprintf(stderr, "xl maint %s: %s (is xmaintd running?)\n", cmd, maint_strerror(rc));
    return EXIT_FAILURE;
}

/* "256M", "1G", "131072k", plain numbers in MiB (as xl). 0 on error. */
uint64_t parse_size_kb(const char *s)
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
