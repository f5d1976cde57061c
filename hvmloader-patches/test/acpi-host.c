/*
 * acpi-host.c - build the ACPI tables with the patched libacpi on the build
 * machine, as hvmloader does for a qemu-xen domain, and write each table to
 * OUTDIR/<signature>.dat (for "iasl -d") plus a summary on stdout.
 *
 *   acpi-host OUTDIR NR_VCPUS HIDDEN_VCPUS HIDDEN_SLOTS
 *
 * HIDDEN_VCPUS: comma-separated decimal vCPU ids, or "-".
 * HIDDEN_SLOTS: comma-separated hex slot numbers on bus 0, or "-".
 *
 * Exit status 0 when the tables were built and every checksum is right.
 * Used by check-series.sh; not part of the patch series.
 */
#include "acpi-host-utils.h"
#include "acpi2_0.h"
#include "libacpi.h"
#include <xen/hvm/hvm_info_table.h>

extern unsigned char dsdt_anycpu_qemu_xen[];
extern int dsdt_anycpu_qemu_xen_len;

#define FAKE_BASE 0x10000000UL
#define ARENA_SIZE (4u << 20)

static uint8_t *arena;
static uint32_t arena_used;

static void *host_alloc(struct acpi_ctxt *ctxt, uint32_t size, uint32_t align)
{
    uint32_t s;

    if ( align < 16 )
        align = 16;
    s = (arena_used + align - 1) & ~(align - 1);
    if ( s + size > ARENA_SIZE )
        return NULL;
    arena_used = s + size;
    return arena + s;
}

static void host_free(struct acpi_ctxt *ctxt, void *v, uint32_t size)
{
}

static unsigned long host_v2p(struct acpi_ctxt *ctxt, void *v)
{
    return (unsigned long)((uint8_t *)v - arena) + FAKE_BASE;
}

static void *p2v(uint64_t pa)
{
    if ( pa < FAKE_BASE || pa >= FAKE_BASE + ARENA_SIZE )
        return NULL;
    return arena + (pa - FAKE_BASE);
}

static uint32_t host_lapic_id(unsigned cpu)
{
    return cpu * 2;
}

static int checksum_ok(const void *p, uint32_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;

    while ( len-- )
        sum += *b++;
    return sum == 0;
}

static int failures;

static void dump_table(const char *dir, const struct acpi_header *h)
{
    char sig[5], path[4096];
    FILE *f;

    memcpy(sig, &h->signature, 4);
    sig[4] = 0;
    if ( !checksum_ok(h, h->length) )
    {
        printf("table %s: BAD CHECKSUM\n", sig);
        failures++;
    }
    snprintf(path, sizeof(path), "%s/%s.dat", dir, sig);
    f = fopen(path, "wb");
    if ( !f || fwrite(h, 1, h->length, f) != h->length || fclose(f) )
    {
        perror(path);
        exit(2);
    }
    printf("table %s length %u\n", sig, h->length);
}

int main(int argc, char **argv)
{
    static struct hvm_info_table hvminfo;
    static uint8_t hidden_vcpus[HVM_MAX_VCPUS / 8];
    static uint8_t info_area[4096], rsdp_area[64];
    struct acpi_config config;
    struct acpi_ctxt ctxt;
    struct acpi_20_rsdp *rsdp = (struct acpi_20_rsdp *)rsdp_area;
    struct acpi_20_rsdt *rsdt;
    struct acpi_header *dsdt = NULL;
    unsigned int i, nr, n;
    const char *dir;
    char *s, *e;

    if ( argc != 5 )
    {
        fprintf(stderr, "usage: %s OUTDIR NR_VCPUS HIDDEN_VCPUS HIDDEN_SLOTS\n",
                argv[0]);
        return 2;
    }
    dir = argv[1];
    nr = strtoul(argv[2], NULL, 10);
    if ( nr < 1 || nr > HVM_MAX_VCPUS )
        return 2;

    arena = aligned_alloc(4096, ARENA_SIZE);
    if ( !arena )
        return 2;
    memset(arena, 0, ARENA_SIZE);

    hvminfo.nr_vcpus = nr;
    hvminfo.apic_mode = 1;
    for ( i = 0; i < nr; i++ )
        hvminfo.vcpu_online[i / 8] |= 1u << (i % 8);

    memset(&config, 0, sizeof(config));
    config.dsdt_anycpu = dsdt_anycpu_qemu_xen;
    config.dsdt_anycpu_len = dsdt_anycpu_qemu_xen_len;
    config.hvminfo = &hvminfo;
    config.lapic_id = host_lapic_id;
    config.lapic_base_address = 0xfee00000;
    config.ioapic_base_address = 0xfec00000;
    config.ioapic_id = 1;
    config.pci_isa_irq_mask = 0x0e20;
    config.pci_start = 0xf0000000;
    config.pci_len = 0x0c000000;
    config.acpi_revision = 4;
    config.table_flags = ACPI_HAS_COM1 | ACPI_HAS_HPET | ACPI_HAS_IOAPIC |
                         ACPI_HAS_WAET | ACPI_HAS_PMTIMER | ACPI_HAS_BUTTONS |
                         ACPI_HAS_VGA | ACPI_HAS_8042 | ACPI_HAS_CMOS_RTC |
                         ACPI_HAS_SSDT_S3 | ACPI_HAS_SSDT_S4;
    config.infop = (unsigned long)info_area;
    config.rsdp = (unsigned long)rsdp_area;

    if ( strcmp(argv[3], "-") )
    {
        for ( s = argv[3]; *s; s = *e ? e + 1 : e )
        {
            n = strtoul(s, &e, 10);
            if ( e == s || n >= nr )
                return 2;
            hidden_vcpus[n / 8] |= 1u << (n % 8);
        }
        config.hidden_vcpus = hidden_vcpus;
    }
    if ( strcmp(argv[4], "-") )
    {
        for ( s = argv[4]; *s; s = *e ? e + 1 : e )
        {
            n = strtoul(s, &e, 16);
            if ( e == s || n > 31 )
                return 2;
            config.hidden_pci_slots |= 1u << n;
        }
    }

    ctxt.mem_ops.alloc = host_alloc;
    ctxt.mem_ops.free = host_free;
    ctxt.mem_ops.v2p = host_v2p;

    if ( acpi_build_tables(&ctxt, &config) )
    {
        printf("acpi_build_tables failed\n");
        return 1;
    }

    rsdt = p2v(rsdp->rsdt_address);
    if ( !rsdt || !checksum_ok(rsdt, rsdt->header.length) )
    {
        printf("RSDT missing or bad checksum\n");
        return 1;
    }
    n = (rsdt->header.length - sizeof(rsdt->header)) / 4;
    for ( i = 0; i < n; i++ )
    {
        struct acpi_header *h = p2v(rsdt->entry[i]);

        if ( !h )
        {
            printf("RSDT entry %u points outside the tables\n", i);
            return 1;
        }
        if ( h->signature == ACPI_FADT_SIGNATURE )
            dsdt = p2v(((struct acpi_10_fadt *)h)->dsdt);
        dump_table(dir, h);
        if ( h->signature == ACPI_2_0_MADT_SIGNATURE )
        {
            const uint8_t *p = (const uint8_t *)h + sizeof(struct acpi_20_madt);
            const uint8_t *end = (const uint8_t *)h + h->length;

            for ( ; p + 2 <= end && p[1] >= 2; p += p[1] )
                if ( p[0] == ACPI_PROCESSOR_LOCAL_APIC )
                {
                    const struct acpi_20_madt_lapic *l = (const void *)p;

                    printf("madt lapic processor %u apic %u flags %u\n",
                           l->acpi_processor_id, l->apic_id, l->flags);
                }
        }
    }
    if ( !dsdt )
    {
        printf("no DSDT\n");
        return 1;
    }
    dump_table(dir, dsdt);

    /* What the DSDT's processor objects read: \_SB.NCPU, MAPA, MSUA. */
    {
        const uint8_t *info = info_area;
        uint16_t ncpu = info[2] | (info[3] << 8);
        uint32_t msua, mapa;

        memcpy(&msua, info + 12, 4);
        memcpy(&mapa, info + 16, 4);
        printf("acpi_info nr_cpus %u\n", ncpu);
        for ( i = 0; i < ncpu; i++ )
        {
            const struct acpi_20_madt_lapic *l = p2v(mapa + 8 * i);

            if ( !l )
            {
                printf("MAPA entry %u outside the tables\n", i);
                return 1;
            }
            printf("mapa %u type %u processor %u apic %u flags %u\n", i,
                   l->type, l->acpi_processor_id, l->apic_id, l->flags);
        }
        if ( !p2v(msua) )
        {
            printf("MSUA outside the tables\n");
            return 1;
        }
    }

    return failures ? 1 : 0;
}
