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

int main_substitute(int argc, char **argv)
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
    bool started = false;
    int c, rc, ret = EXIT_FAILURE;

    maint_substitute_opts_init(&o);
    o.disks = disks;
    o.sets = sets;
    /* Options may come before or after the domain. */
    while ((c = next_option(argc, argv, "h", opts, &started)) != -1) {
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
    maint_substitute_opts_dispose(&o);
    maint_ctx_close(ctx);
    return ret;
}

