/* The hiding spec and substitute derivation: pure logic on libxl's types. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib.h>
#include <yajl/yajl_gen.h>

#include "unit.h"
#include "schema.h"
#include <libxl_json.h>

static void test_hide_pci(void)
{
    maint_hide_spec s;
    char *v;
    char bdf[16];

    maint_hide_spec_init(&s);
    CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&s, "00:05.0"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&s, "0000:00:1f.7"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&s, "00:05.0"), MAINT_OK);   /* dup */
    CU_ASSERT_EQUAL(s.nr_pci, 2);
    v = maint__hide_pci_value(&s);
    CU_ASSERT_STRING_EQUAL(v, "00:05.0,00:1f.7");
    free(v);
    static const char *const bad[] = { "", "5.0", "00:05", "00:20.0", "00:05.8",
        "00:05.0x", "zz:00.0", "0001:00:05.0", "000:05.0", "00:005.0", " 00:05.0",
        "00:05.-1", "0000:00:05.0:1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (maint_hide_spec_add_pci(&s, bad[i]) != MAINT_ERROR_INVAL)
            fprintf(stderr, "\naccepted bad BDF '%s'\n", bad[i]);
        CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&s, bad[i]), MAINT_ERROR_INVAL);
    }
    CU_ASSERT_EQUAL(s.nr_pci, 2);
    /* the schema's limit */
    for (int i = 2; i < MAINT_HIDE_MAX_PCI; i++) {
        snprintf(bdf, sizeof(bdf), "01:%02x.0", i);
        CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&s, bdf), MAINT_OK);
    }
    CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&s, "02:00.0"), MAINT_ERROR_TOOBIG);
    CU_ASSERT_EQUAL(s.nr_pci, MAINT_HIDE_MAX_PCI);
}

static void test_hide_vcpus_mem(void)
{
    maint_hide_spec s;
    char *v;

    maint_hide_spec_init(&s);
    CU_ASSERT_EQUAL(maint_hide_spec_add_vcpu(&s, 0), MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_hide_spec_add_vcpu(&s, 3), MAINT_OK);
    CU_ASSERT_EQUAL(maint_hide_spec_add_vcpu(&s, 2), MAINT_OK);
    CU_ASSERT_EQUAL(maint_hide_spec_add_vcpu(&s, 3), MAINT_OK);
    v = maint__hide_vcpus_value(&s);
    CU_ASSERT_STRING_EQUAL(v, "3,2");
    free(v);
    for (unsigned i = 4; i < MAINT_HIDE_MAX_VCPUS + 2; i++)
        maint_hide_spec_add_vcpu(&s, i);
    CU_ASSERT_EQUAL(s.nr_vcpus, MAINT_HIDE_MAX_VCPUS);
    CU_ASSERT_EQUAL(maint_hide_spec_add_vcpu(&s, 4000), MAINT_ERROR_TOOBIG);

    CU_ASSERT_EQUAL(maint_hide_spec_add_mem(&s, "0x100000000-0x13fffffff"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_hide_spec_add_mem(&s, "0x1000-0x1fff"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_hide_spec_add_mem(&s, "0x1001-0x1fff"), MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_hide_spec_add_mem(&s, "0x2000-0x1fff"), MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_hide_spec_add_mem(&s, "4096-8191"), MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_hide_spec_add_mem(&s, "0x1000-0x1fffz"), MAINT_ERROR_INVAL);
    v = maint__hide_mem_value(&s);
    CU_ASSERT_STRING_EQUAL(v, "0x100000000-0x13fffffff,0x1000-0x1fff");
    free(v);
}

/* The common part of a sample domain (cfg initialised): vcpus (at most 8)
 * all online. */
static void sample_domain(libxl_domain_config *cfg, libxl_domain_type type, const char *name,
                          uint64_t memkb, unsigned vcpus)
{
    cfg->c_info.type = type;
    libxl_domain_build_info_init_type(&cfg->b_info, type);
    cfg->c_info.name = strdup(name);
    cfg->b_info.max_memkb = cfg->b_info.target_memkb = memkb;
    cfg->b_info.max_vcpus = (int)vcpus;
    libxl_bitmap_init(&cfg->b_info.avail_vcpus);
    cfg->b_info.avail_vcpus.size = 1;
    cfg->b_info.avail_vcpus.map = calloc(1, 1);
    cfg->b_info.avail_vcpus.map[0] = (uint8_t)((1u << vcpus) - 1);
}

/* A PV domain as libxl_retrieve_domain_configuration would give it. */
static void sample_pv(libxl_domain_config *cfg, bool writable_disk)
{
    libxl_domain_config_init(cfg);
    sample_domain(cfg, LIBXL_DOMAIN_TYPE_PV, "web1", 131072, 2);
    cfg->b_info.kernel = strdup("/boot/vmlinuz-old");
    cfg->b_info.ramdisk = strdup("/boot/initrd-old");
    cfg->b_info.cmdline = strdup("console=hvc0");
    cfg->num_nics = 1;
    cfg->nics = calloc(1, sizeof(*cfg->nics));
    libxl_device_nic_init(&cfg->nics[0]);
    memcpy(cfg->nics[0].mac, "\x00\x16\x3e\x01\x02\x03", 6);
    cfg->nics[0].bridge = strdup("xenbr0");
    cfg->nics[0].ifname = strdup("vif1.0");
    cfg->num_disks = 1;
    cfg->disks = calloc(1, sizeof(*cfg->disks));
    libxl_device_disk_init(&cfg->disks[0]);
    cfg->disks[0].pdev_path = strdup("/srv/web1.img");
    cfg->disks[0].vdev = strdup("xvda");
    cfg->disks[0].readwrite = writable_disk;
}

static char *config_json(libxl_domain_config *cfg)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *out, *u;

    yajl_gen_config(g, yajl_gen_beautify, 0);
    libxl_domain_config_gen_json(g, cfg);
    yajl_gen_get_buf(g, &buf, &len);
    out = g_strndup((const char *)buf, len);
    yajl_gen_free(g);
    /* the UUID is fresh every time: mask it */
    u = strstr(out, "\"uuid\":\"");
    if (u)
        memset(u + 8, 'U', 36);
    return out;
}

static void test_derive_pv(void)
{
    libxl_domain_config cfg;
    maint_substitute_opts o;
    const char *sets[] = { "extra = \"console=hvc0 quiet\"", "maxmem=512" };
    char *json;

    sample_pv(&cfg, false);
    maint_substitute_opts_init(&o);
    o.vcpus = 1;
    o.memory_kb = 262144;
    o.kernel = "/boot/vmlinuz-new";
    o.sets = sets;
    o.nr_sets = 2;
    CU_ASSERT_EQUAL_FATAL(maint__substitute_derive(NULL, &cfg, "web1", &o), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(cfg.c_info.name, "web1-sub");
    CU_ASSERT_EQUAL(cfg.b_info.max_vcpus, 1);
    CU_ASSERT_EQUAL(cfg.b_info.avail_vcpus.map[0], 1);
    CU_ASSERT_EQUAL(cfg.b_info.target_memkb, 262144);
    CU_ASSERT_EQUAL(cfg.b_info.max_memkb, 524288);
    CU_ASSERT_STRING_EQUAL(cfg.b_info.kernel, "/boot/vmlinuz-new");
    CU_ASSERT_STRING_EQUAL(cfg.b_info.ramdisk, "/boot/initrd-old");
    CU_ASSERT_STRING_EQUAL(cfg.b_info.cmdline, "console=hvc0 quiet");
    CU_ASSERT_EQUAL(memcmp(cfg.nics[0].mac, "\0\0\0\0\0\0", 6), 0); /* fresh MAC */
    CU_ASSERT_PTR_NULL(cfg.nics[0].ifname);
    json = config_json(&cfg);
    unit_check_output("substitute", "pv-basic", json);
    g_free(json);
    libxl_domain_config_dispose(&cfg);

    /* keep MACs, own name, own disks */
    sample_pv(&cfg, true);
    maint_substitute_opts_init(&o);
    const char *disks[] = { "format=raw, vdev=xvda, access=rw, target=/srv/web1-new.img" };
    o.name = "web1-b";
    o.mac = MAINT_MAC_KEEP;
    o.disks = disks;
    o.nr_disks = 1;
    CU_ASSERT_EQUAL_FATAL(maint__substitute_derive(NULL, &cfg, "web1", &o), MAINT_OK);
    CU_ASSERT_EQUAL(memcmp(cfg.nics[0].mac, "\x00\x16\x3e\x01\x02\x03", 6), 0);
    CU_ASSERT_STRING_EQUAL(cfg.disks[0].pdev_path, "/srv/web1-new.img");
    json = config_json(&cfg);
    unit_check_output("substitute", "pv-keep-mac-new-disk", json);
    g_free(json);
    libxl_domain_config_dispose(&cfg);
}

/* xl.cfg's meaning: vcpus= is online at boot, maxvcpus= the maximum */
static void test_derive_vcpus(void)
{
    static const struct {
        const char *sets[2];
        int max;
        unsigned online;
    } cases[] = {                                /* the sample: 2 of 2 */
        { { "vcpus=1" }, 2, 1 },
        { { "maxvcpus=4" }, 4, 2 },
        { { "maxvcpus=4", "vcpus=3" }, 4, 3 },
        { { "vcpus=3", "maxvcpus=2" }, 2, 2 },   /* the maximum wins */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        libxl_domain_config cfg;
        maint_substitute_opts o;
        unsigned online = 0;

        sample_pv(&cfg, false);
        maint_substitute_opts_init(&o);
        o.sets = cases[i].sets;
        o.nr_sets = cases[i].sets[1] ? 2 : 1;
        CU_ASSERT_EQUAL_FATAL(maint__substitute_derive(NULL, &cfg, "web1", &o), MAINT_OK);
        for (unsigned b = 0; b < cfg.b_info.avail_vcpus.size * 8; b++)
            online += (cfg.b_info.avail_vcpus.map[b / 8] >> (b % 8)) & 1;
        CU_ASSERT_EQUAL(cfg.b_info.max_vcpus, cases[i].max);
        CU_ASSERT_EQUAL(online, cases[i].online);
        libxl_domain_config_dispose(&cfg);
    }
}

/* Readiness reads only what the new domain wrote: the log from its size at
 * creation on (an older same-named domain's "ready" line does not count). */
static void test_log_readiness(void)
{
    char path[] = "/tmp/xmaint-log-XXXXXX";
    int fd = mkstemp(path);
    FILE *f;
    off_t from;

    CU_ASSERT_FATAL(fd >= 0);
    f = fdopen(fd, "w");
    fputs("old boot\nXMAINT-READY\n", f);
    fflush(f);
    from = maint__log_end(path);
    CU_ASSERT_EQUAL(from, 22);
    CU_ASSERT(maint__log_has(path, "XMAINT-READY", 0));
    CU_ASSERT(!maint__log_has(path, "XMAINT-READY", from));   /* the old one's */
    fputs("new boot\n", f);
    fflush(f);
    CU_ASSERT(!maint__log_has(path, "XMAINT-READY", from));
    fputs("XMAINT-READY\n", f);
    fflush(f);
    CU_ASSERT(maint__log_has(path, "XMAINT-READY", from));
    fclose(f);
    f = fopen(path, "w");                                        /* replaced, shorter */
    fputs("XMAINT-READY\n", f);
    fclose(f);
    CU_ASSERT(maint__log_has(path, "XMAINT-READY", from));
    unlink(path);
    CU_ASSERT(!maint__log_has(path, "XMAINT-READY", 0));
    CU_ASSERT_EQUAL(maint__log_end(path), 0);
}

/* The caller's paths: checked, used, reset to the defaults. */
static void test_ctx_paths(void)
{
    maint__port port;
    maint_ctx *ctx = NULL;
    char longp[1100];

    fake_port_new(&port);
    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, NULL, &port), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(maint__ctx_path(ctx, MAINT_PATH_CONSOLE_LOG_DIR), "/var/log/xen/console");
    CU_ASSERT_STRING_EQUAL(maint__ctx_path(ctx, MAINT_PATH_LOG_DIR), "/var/log/xen");
    CU_ASSERT_EQUAL(maint_ctx_set_path(ctx, MAINT_PATH_PCI_HOLE_SHIM, "/opt/shim"), MAINT_OK);
    CU_ASSERT_STRING_EQUAL(maint__ctx_path(ctx, MAINT_PATH_PCI_HOLE_SHIM), "/opt/shim");
    CU_ASSERT_EQUAL(maint_ctx_set_path(ctx, MAINT_PATH_PCI_HOLE_SHIM, "shim"), MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_ctx_set_path(ctx, MAINT_PATH_LOG_DIR, "/var/log\nx"), MAINT_ERROR_INVAL);
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    CU_ASSERT_EQUAL(maint_ctx_set_path(ctx, MAINT_PATH_LOG_DIR, longp), MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_ctx_set_path(ctx, (maint_ctx_path)7, "/x"), MAINT_ERROR_INVAL);
    CU_ASSERT_STRING_EQUAL(maint__ctx_path(ctx, MAINT_PATH_PCI_HOLE_SHIM), "/opt/shim");
    CU_ASSERT_EQUAL(maint_ctx_set_path(ctx, MAINT_PATH_PCI_HOLE_SHIM, NULL), MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(maint__ctx_path(ctx, MAINT_PATH_PCI_HOLE_SHIM), "/xmaint-pci-hole"));
    CU_ASSERT_EQUAL(maint_ctx_set_reap_wait(ctx, 600001), MAINT_ERROR_INVAL);
    CU_ASSERT_EQUAL(maint_ctx_set_reap_wait(ctx, 0), MAINT_OK);
    maint_ctx_close(ctx);
}

static void expect_derive_error(int want, maint_substitute_opts *o, bool writable)
{
    libxl_domain_config cfg;

    sample_pv(&cfg, writable);
    CU_ASSERT_EQUAL(maint__substitute_derive(NULL, &cfg, "web1", o), want);
    libxl_domain_config_dispose(&cfg);
}

static void test_derive_errors(void)
{
    maint_substitute_opts o;
    const char *bad_syntax[] = { "memory=" };
    const char *bad_key[] = { "on_crash=\"destroy\"" };
    const char *bad_value[] = { "vcpus=\"two\"" };
    const char *no_eq[] = { "memory" };
    const char *bad_disk[] = { "vdev=, nonsense=1" };

    maint_substitute_opts_init(&o);
    maint_hide_spec_add_pci(&o.hide, "00:05.0");
    expect_derive_error(MAINT_ERROR_NOENT, &o, false);   /* PV: no such device */

    maint_substitute_opts_init(&o);
    maint_hide_spec_add_vcpu(&o.hide, 1);
    expect_derive_error(MAINT_ERROR_INVAL, &o, false);   /* needs HVM */

    maint_substitute_opts_init(&o);
    expect_derive_error(MAINT_ERROR_BUSY, &o, true);     /* shared writable disk */

    struct { const char **sets; } cases[] = { { bad_syntax }, { bad_key }, { bad_value },
                                              { no_eq } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        maint_substitute_opts_init(&o);
        o.sets = cases[i].sets;
        o.nr_sets = 1;
        expect_derive_error(MAINT_ERROR_INVAL, &o, false);
    }
    maint_substitute_opts_init(&o);
    o.disks = bad_disk;
    o.nr_disks = 1;
    expect_derive_error(MAINT_ERROR_INVAL, &o, false);

    maint_substitute_opts_init(&o);
    o.vcpus = 1000;
    expect_derive_error(MAINT_ERROR_INVAL, &o, false);
    maint_substitute_opts_init(&o);
    o.memory_kb = 1024;
    expect_derive_error(MAINT_ERROR_INVAL, &o, false);
    maint_substitute_opts_init(&o);
    o.firmware = "/usr/lib/xmaint/hvmloader";
    expect_derive_error(MAINT_ERROR_INVAL, &o, false);
}

/* What a domain already hides (its published spec) joins a new spec: a
 * substitute of an HVM substitute keeps the hidden hardware hidden. */
static void test_hide_spec_read(void)
{
    maint__port port;
    fake_port *fp = fake_port_new(&port);
    maint_ctx *ctx = NULL;
    maint_hide_spec s;
    char *v;

    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, NULL, &port), MAINT_OK);
    /* nothing published: nothing added */
    maint_hide_spec_init(&s);
    CU_ASSERT_EQUAL(maint__hide_spec_read(ctx, 9, &s), MAINT_OK);
    CU_ASSERT_EQUAL(s.nr_pci + s.nr_vcpus + s.nr_mem, 0);

    fake_port_put(fp, "/local/domain/9/xmaint/hide/pci", "00:05.0,00:06.0");
    fake_port_put(fp, "/local/domain/9/xmaint/hide/vcpus", "1,3");
    fake_port_put(fp, "/local/domain/9/xmaint/hide/memory", "0x8000000-0x8ffffff");
    maint_hide_spec_add_pci(&s, "00:06.0");                 /* asked again */
    maint_hide_spec_add_pci(&s, "00:07.0");
    maint_hide_spec_add_mem(&s, "0x8000000-0x8ffffff");
    CU_ASSERT_EQUAL(maint__hide_spec_read(ctx, 9, &s), MAINT_OK);
    v = maint__hide_pci_value(&s);
    CU_ASSERT_STRING_EQUAL(v, "00:06.0,00:07.0,00:05.0");
    free(v);
    v = maint__hide_vcpus_value(&s);
    CU_ASSERT_STRING_EQUAL(v, "1,3");
    free(v);
    v = maint__hide_mem_value(&s);
    CU_ASSERT_STRING_EQUAL(v, "0x8000000-0x8ffffff");       /* not twice */
    free(v);

    /* a value that does not parse is an error, not silently less hidden */
    const char *bad[][2] = { { "pci", "00:05.0,zz" }, { "vcpus", "0" }, { "vcpus", "-1" },
                             { "vcpus", "1x" }, { "memory", "0x1000-0x0fff" } };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[64];

        fake_port_put(fp, "/local/domain/9/xmaint/hide/pci", "00:05.0");
        fake_port_put(fp, "/local/domain/9/xmaint/hide/vcpus", "1");
        fake_port_put(fp, "/local/domain/9/xmaint/hide/memory", "0x8000000-0x8ffffff");
        snprintf(path, sizeof(path), "/local/domain/9/xmaint/hide/%s", bad[i][0]);
        fake_port_put(fp, path, bad[i][1]);
        maint_hide_spec_init(&s);
        CU_ASSERT_EQUAL(maint__hide_spec_read(ctx, 9, &s), MAINT_ERROR_INVAL);
    }
    maint_ctx_close(ctx);
}

/* An HVM domain as the fake hypervisor has it (cfg initialised). */
static void sample_hvm(libxl_domain_config *cfg, uint32_t domid)
{
    sample_domain(cfg, LIBXL_DOMAIN_TYPE_HVM, "web2", 262144, 1);
}

/* Hiding a PCI function from an HVM substitute: its device model is asked
 * which functions bus 0 has.  With nearly all 256 there (each one a word of
 * the error that lists them) the list once overran its stack buffer. */
static void test_hide_pci_checked(void)
{
    maint__port port;
    fake_port *fp = fake_port_new(&port);
    maint_domain_info web2 = { .domid = 7, .name = (char *)"web2" };
    char *logbuf = NULL, *json = NULL;
    size_t logsize = 0;
    FILE *logf = open_memstream(&logbuf, &logsize);
    xentoollog_logger *lg = (xentoollog_logger *)xtl_createlogger_stdiostream(logf, XTL_ERROR, 0);
    maint_ctx *ctx = NULL;
    maint_substitute_opts o;
    bool present[256];

    CU_ASSERT_PTR_NOT_NULL_FATAL(lg);
    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, lg, &port), MAINT_OK);
    fake_port_add_domain(fp, &web2);
    fake_port_set_config_fill(fp, sample_hvm);
    maint_substitute_opts_init(&o);
    CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&o.hide, "00:1f.7"), MAINT_OK);

    /* a device model that cannot be asked: taken on trust */
    CU_ASSERT_EQUAL(maint_substitute_config_json(ctx, 7, &o, &json), MAINT_OK);
    CU_ASSERT_PTR_NOT_NULL(json && strstr(json, "\"web2-sub\""));
    free(json);
    json = NULL;

    /* every function of bus 0 but the one asked for */
    memset(present, 1, sizeof(present));
    present[0x1f << 3 | 7] = false;
    fake_port_set_pci_bus0(fp, present);
    CU_ASSERT_EQUAL(maint_substitute_config_json(ctx, 7, &o, &json), MAINT_ERROR_NOENT);
    CU_ASSERT_PTR_NULL(json);
    fflush(logf);
    CU_ASSERT_PTR_NOT_NULL(logbuf && strstr(logbuf, "no PCI device 00:1f.7 in 'web2' to hide "
                                            "(its bus 0 has 255 function(s): 00:00.0 00:00.1 "));

    /* all 256: it is there */
    present[0x1f << 3 | 7] = true;
    fake_port_set_pci_bus0(fp, present);
    CU_ASSERT_EQUAL(maint_substitute_config_json(ctx, 7, &o, &json), MAINT_OK);
    free(json);
    json = NULL;

    /* only bus 0 is the device model's: 01:00.0 is nobody's */
    maint_substitute_opts_init(&o);
    CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&o.hide, "01:00.0"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_substitute_config_json(ctx, 7, &o, &json), MAINT_ERROR_NOENT);

    maint_ctx_close(ctx);
    xtl_logger_destroy(lg);
    fclose(logf);
    free(logbuf);
}

/* The fake hypervisor's guests: "ready" says so through its agent, "dies"
 * crashes while booting, "mute" never answers. */
static void guest_play(fake_port *fp, uint32_t domid, const char *event, void *opaque)
{
    const char *how = *(const char **)opaque;
    char *p = g_strdup_printf("/local/domain/%u/xmaint/agent/state", domid);

    if (!strcmp(event, "unpause") && !strcmp(how, "ready"))
        fake_port_put(fp, p, "ready");
    else if (!strcmp(event, "unpause") && !strcmp(how, "dies"))
        fake_port_set_domain_state(fp, domid, MAINT_DOMAIN_STATE_CRASHED);
    g_free(p);
}

static void note_stage(void *user, const char *stage, int percent)
{
    g_string_append_printf(user, "%s:%d ", stage, percent);
}

/* Creation against the fake hypervisor: created paused, marked, unpaused,
 * ready; a substitute that crashes, never answers or cannot be created
 * leaves nothing behind. */
/* A context on a fake hypervisor with HVM domain 7 "web2"; new domains get
 * ids from first on and are played by guest_play as *how says. */
static maint_ctx *hvm_host(fake_port **fp_r, uint32_t first, const char **how)
{
    maint__port port;
    maint_domain_info web2 = { .domid = 7, .name = (char *)"web2" };
    maint_ctx *ctx = NULL;

    *fp_r = fake_port_new(&port);
    CU_ASSERT_EQUAL_FATAL(maint__ctx_from_port(&ctx, NULL, &port), MAINT_OK);
    fake_port_add_domain(*fp_r, &web2);
    fake_port_set_config_fill(*fp_r, sample_hvm);
    fake_port_set_hypervisor(*fp_r, first, guest_play, how);
    return ctx;
}

static void test_substitute_create(void)
{
    fake_port *fp;
    const char *how = "ready";
    GString *stages = g_string_new("");
    maint_ctx *ctx = hvm_host(&fp, 20, &how);
    maint_substitute_opts o;
    uint32_t id = 0, other;
    int64_t t0;

    maint_substitute_opts_init(&o);
    o.memory_kb = 131072;

    CU_ASSERT_EQUAL(maint_substitute_create(ctx, 7, &o, 2000, note_stage, stages, &id), MAINT_OK);
    CU_ASSERT_EQUAL(id, 20);
    CU_ASSERT_STRING_EQUAL(stages->str, "derive:0 create:10 unpause:50 boot:60 ready:100 ");
    CU_ASSERT_STRING_EQUAL(fake_port_get(fp, "/local/domain/20/xmaint/role") ?: "", "substitute");
    CU_ASSERT_PTR_NOT_NULL(strstr(fake_port_last_created(fp) ?: "", "\"name\":\"web2-sub\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(fake_port_last_created(fp) ?: "", "\"max_memkb\":131072"));
    /* a second one of the same name is refused before anything is made */
    CU_ASSERT_EQUAL(maint_substitute_create(ctx, 7, &o, 2000, NULL, NULL, &id), MAINT_ERROR_BUSY);
    CU_ASSERT_EQUAL(maint_domain_lookup(ctx, "21", &other), MAINT_ERROR_NOENT);

    o.name = "crashes";
    how = "dies";
    t0 = maint__now_ms();
    CU_ASSERT_EQUAL(maint_substitute_create(ctx, 7, &o, 5000, NULL, NULL, &id), MAINT_ERROR_FAIL);
    CU_ASSERT(maint__now_ms() - t0 < 2000);                 /* at once, not at the timeout */
    CU_ASSERT_EQUAL(maint_domain_lookup(ctx, "crashes", &other), MAINT_ERROR_NOENT);
    CU_ASSERT_PTR_NULL(fake_port_get(fp, "/local/domain/21/name"));

    o.name = "mute";
    how = "mute";
    CU_ASSERT_EQUAL(maint_substitute_create(ctx, 7, &o, 300, NULL, NULL, &id), MAINT_ERROR_TIMEOUT);
    CU_ASSERT_EQUAL(maint_domain_lookup(ctx, "mute", &other), MAINT_ERROR_NOENT);

    o.name = "refused";
    fake_port_set_create_rc(fp, MAINT_ERROR_HYPERVISOR);
    CU_ASSERT_EQUAL(maint_substitute_create(ctx, 7, &o, 300, NULL, NULL, &id),
                    MAINT_ERROR_HYPERVISOR);
    CU_ASSERT_EQUAL(maint_domain_lookup(ctx, "refused", &other), MAINT_ERROR_NOENT);
    maint_ctx_close(ctx);
    g_string_free(stages, TRUE);
}

/* An HVM substitute with a hidden PCI function: the PCI-hole shim is
 * started for it (its domid and the slot) before it runs; a shim that never
 * says it is ready fails the creation and leaves no domain. */
static void test_substitute_pci_hole(void)
{
    fake_port *fp;
    const char *how = "ready";
    GString *stages = g_string_new("");
    maint_ctx *ctx = hvm_host(&fp, 30, &how);
    maint_substitute_opts o;
    uint32_t id = 0, other;

    CU_ASSERT_EQUAL(maint_ctx_set_path(ctx, MAINT_PATH_PCI_HOLE_SHIM, "/opt/shim"), MAINT_OK);
    maint_substitute_opts_init(&o);
    CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&o.hide, "00:04.0"), MAINT_OK);
    CU_ASSERT_EQUAL(maint_substitute_create(ctx, 7, &o, 2000, note_stage, stages, &id), MAINT_OK);
    CU_ASSERT_EQUAL(id, 30);
    CU_ASSERT_STRING_EQUAL(fake_port_last_spawn(fp) ?: "", "/opt/shim --ready-fd=3 30 00:04.0");
    CU_ASSERT_PTR_NOT_NULL(strstr(stages->str, "hide:40 pci-hole:45 unpause:50"));
    maint_substitute_opts_dispose(&o);

    maint_substitute_opts_init(&o);
    o.name = "no-shim";
    CU_ASSERT_EQUAL(maint_hide_spec_add_pci(&o.hide, "00:04.0"), MAINT_OK);
    fake_port_set_spawn_fails(fp, true);
    CU_ASSERT_EQUAL(maint_substitute_create(ctx, 7, &o, 2000, NULL, NULL, &id), MAINT_ERROR_FAIL);
    CU_ASSERT_EQUAL(maint_domain_lookup(ctx, "no-shim", &other), MAINT_ERROR_NOENT);
    CU_ASSERT_PTR_NULL(fake_port_get(fp, "/local/domain/31/name"));
    maint_substitute_opts_dispose(&o);
    maint_ctx_close(ctx);
    g_string_free(stages, TRUE);
}

void suite_substitute_register(void)
{
    CU_pSuite s = CU_add_suite("substitute", NULL, NULL);

    CU_add_test(s, "hiding spec: PCI addresses", test_hide_pci);
    CU_add_test(s, "hiding spec: vCPUs and memory", test_hide_vcpus_mem);
    CU_add_test(s, "derive a PV substitute", test_derive_pv);
    CU_add_test(s, "derivation errors", test_derive_errors);
    CU_add_test(s, "vcpus= and maxvcpus= as xl.cfg means them", test_derive_vcpus);
    CU_add_test(s, "the caller's paths", test_ctx_paths);
    CU_add_test(s, "readiness: only the new domain's console lines", test_log_readiness);
    CU_add_test(s, "creation on the fake hypervisor, nothing left on failure",
                test_substitute_create);
    CU_add_test(s, "an HVM substitute's PCI hole: the shim started, or nothing left",
                test_substitute_pci_hole);
    CU_add_test(s, "hiding spec: what a domain already hides", test_hide_spec_read);
    CU_add_test(s, "hiding PCI from HVM: asked of its device model", test_hide_pci_checked);
}
