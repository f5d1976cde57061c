/* xl-maint substitute: a substitute beside a running domain, hardware hidden. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xl-maint.h"

static void print_progress(void *user, const char *stage, int percent)
{
    fprintf(stderr, "xl maint substitute: %-8s %3d%%\n", stage, percent);
}

/* What one command line gave: the options and where they point. */
struct sub_cli {
    const char *disks[16], *sets[32], *removes[16];
    maint_substitute_opts o;
    bool dry_run, json;
    unsigned long timeout_s;
};

/* Parse the options into a (initialised by the caller); optind, or -1
 * after a usage error. */
static int sub_parse(int argc, char **argv, struct sub_cli *a)
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
    unsigned long v;
    char *end;
    bool started = false;
    int c, rc;

    /* Options may come before or after the domain. */
    while ((c = next_option(argc, argv, "h", opts, &started)) != -1) {
        switch (c) {
        case 'P':
            rc = maint_hide_spec_add_pci(&a->o.hide, optarg);
            if (rc == MAINT_ERROR_TOOBIG)
                return usage_error("substitute", "at most %d hidden PCI devices",
                                   MAINT_HIDE_MAX_PCI), -1;
            if (rc)
                return usage_error("substitute", "--hide-pci '%s': not a PCI address "
                                   "BB:DD.F", optarg), -1;
            break;
        case 'C':
            v = strtoul(optarg, &end, 10);
            rc = *end || !*optarg ? MAINT_ERROR_INVAL
                                  : maint_hide_spec_add_vcpu(&a->o.hide, (unsigned)v);
            if (rc)
                return usage_error("substitute", "--hide-vcpu '%s': a vCPU id other "
                                   "than 0 (at most %d)", optarg, MAINT_HIDE_MAX_VCPUS), -1;
            break;
        case 'M':
            if (maint_hide_spec_add_mem(&a->o.hide, optarg))
                return usage_error("substitute", "--hide-mem '%s': 0xSTART-0xEND, page "
                                   "aligned (at most %d)", optarg, MAINT_HIDE_MAX_MEM), -1;
            break;
        case 'n': a->o.name = optarg; break;
        case 'c':
            v = strtoul(optarg, &end, 10);
            if (*end || v == 0 || v > 128)
                return usage_error("substitute", "--vcpus '%s': 1 to 128", optarg), -1;
            a->o.vcpus = (unsigned)v;
            break;
        case 'm':
            a->o.memory_kb = parse_size_kb(optarg);
            if (!a->o.memory_kb)
                return usage_error("substitute", "--memory '%s': a size like 256M or 1G",
                                   optarg), -1;
            break;
        case 'k': a->o.kernel = optarg; break;
        case 'r': a->o.ramdisk = optarg; break;
        case 'e': a->o.cmdline = optarg; break;
        case 'd':
            if (a->o.nr_disks >= 16)
                return usage_error("substitute", "at most 16 --disk"), -1;
            a->disks[a->o.nr_disks++] = optarg;
            break;
        case 'K': a->o.mac = MAINT_MAC_KEEP; break;
        case 'X':
            if (a->o.nr_remove >= 16)
                return usage_error("substitute", "at most 16 --remove"), -1;
            a->removes[a->o.nr_remove++] = optarg;
            a->o.remove = a->removes;
            break;
        case 's':
            if (a->o.nr_sets >= 32)
                return usage_error("substitute", "at most 32 --set"), -1;
            a->sets[a->o.nr_sets++] = optarg;
            break;
        case 'f': a->o.firmware = optarg; break;
        case 'R': a->o.ready_pattern = optarg; break;
        case 'L': a->o.console_log = optarg; break;
        case 't':
            a->timeout_s = strtoul(optarg, &end, 10);
            if (*end || a->timeout_s == 0 || a->timeout_s > 3600)
                return usage_error("substitute", "--timeout '%s': 1 to 3600 seconds",
                                   optarg), -1;
            break;
        case 'N': a->dry_run = true; break;
        case 'j': a->json = true; break;
        case 'h': help("substitute"); exit(EXIT_SUCCESS);
        default:
            return usage_error("substitute", "unknown option '%s'", argv[optind - 1]), -1;
        }
    }
    return optind;
}

int main_substitute(int argc, char **argv)
{
    struct sub_cli a = { .timeout_s = 120 };
    maint_ctx *ctx = NULL;
    uint32_t domid, newid;
    char *out = NULL;
    int rc, ret = EXIT_FAILURE;

    maint_substitute_opts_init(&a.o);
    a.o.disks = a.disks;
    a.o.sets = a.sets;
    if (sub_parse(argc, argv, &a) < 0)
        return EXIT_FAILURE;
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
    if (a.dry_run) {
        rc = maint_substitute_config_json(ctx, domid, &a.o, &out);
        if (rc) {
            fprintf(stderr, "xl maint substitute: %s\n", maint_strerror(rc));
            goto out;
        }
        print_json_line(out);
        ret = EXIT_SUCCESS;
        goto out;
    }
    rc = maint_substitute_create(ctx, domid, &a.o, (unsigned)a.timeout_s * 1000,
                                 print_progress, NULL, &newid);
    if (rc) {
        fprintf(stderr, "xl maint substitute: %s (nothing was left behind)\n",
                maint_strerror(rc));
        goto out;
    }
    if (a.json)
        printf("{\"domid\":%u,\"original\":%u}\n", newid, domid);
    else
        printf("substitute of d%u ready: d%u\n", domid, newid);
    ret = EXIT_SUCCESS;
out:
    free(out);
    maint_substitute_opts_dispose(&a.o);
    maint_ctx_close(ctx);
    return ret;
}

