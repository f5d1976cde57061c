/*
 * hide-host.c - unit test, on the build machine, of the patched hvmloader's
 * hiding-spec parser (hide.c) and E820 cutting (e820.c).  Both files are
 * compiled in here with stand-ins for the few hvmloader services they use
 * (xenstore_read, hvm_info, the string functions).  Not part of the patch
 * series; run by check-series.sh.
 *
 * Prints "N passed, N failed"; exit status 0 when all passed.
 */
#include "hide.c"
#include "e820.c"

/* ---- stand-ins for hvmloader's util.c ---- */

void *memcpy(void *dest, const void *src, unsigned n)
{
    unsigned char *d = dest;
    const unsigned char *s = src;

    while ( n-- )
        *d++ = *s++;
    return dest;
}

void *memmove(void *dest, const void *src, unsigned n)
{
    unsigned char *d = dest;
    const unsigned char *s = src;

    if ( d < s )
        while ( n-- )
            *d++ = *s++;
    else
        while ( n-- )
            d[n] = s[n];
    return dest;
}

void *memset(void *p, int c, unsigned n)
{
    unsigned char *d = p;

    while ( n-- )
        *d++ = c;
    return p;
}

int memcmp(const void *a, const void *b, unsigned n)
{
    const unsigned char *x = a, *y = b;

    for ( ; n; n--, x++, y++ )
        if ( *x != *y )
            return *x - *y;
    return 0;
}

unsigned strlen(const char *s)
{
    unsigned n = 0;

    while ( s[n] )
        n++;
    return n;
}

static struct hvm_info_table info_table;

struct hvm_info_table *get_hvm_info_table(void)
{
    return &info_table;
}

static const char *xs_pci, *xs_vcpus, *xs_memory;

const char *xenstore_read(const char *path, const char *default_resp)
{
    const char *v = NULL;

    if ( !strcmp(path, "xmaint/hide/pci") )
        v = xs_pci;
    else if ( !strcmp(path, "xmaint/hide/vcpus") )
        v = xs_vcpus;
    else if ( !strcmp(path, "xmaint/hide/memory") )
        v = xs_memory;
    return v ? v : default_resp;
}

int strcmp(const char *a, const char *b)
{
    while ( *a && *a == *b )
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

/* e820.c's other needs (build_e820_table() itself is not called). */
struct e820map memory_map;
bool acpi_enabled;
unsigned long igd_opregion_pgbase;
unsigned long acpi_pages_allocated(void) { return 0; }
int get_mem_mapping_layout(struct e820entry entries[], unsigned int *max)
{
    return -1;
}
bool check_overlap(uint64_t start, uint64_t size,
                   uint64_t reserved_start, uint64_t reserved_size)
{
    return false;
}
void __assert_failed(const char *a, const char *f, int l)
{
    __builtin_trap();
}
void __bug(const char *f, int l)
{
    __builtin_trap();
}

/* ---- the tests ---- */

static int passed, failed;

static void check(bool ok, const char *what)
{
    if ( ok )
        passed++;
    else
    {
        failed++;
        printf("FAIL: %s\n", what);
    }
}

static void reset(const char *pci, const char *vcpus, const char *memory)
{
    memset(hidden_devfn, 0, sizeof(hidden_devfn));
    memset(hidden_vcpus, 0, sizeof(hidden_vcpus));
    nr_hidden_vcpus = 0;
    nr_hidden_mem = 0;
    xs_pci = pci;
    xs_vcpus = vcpus;
    xs_memory = memory;
    hide_setup();
}

static void pci_case(const char *v, uint32_t slots, int devfn_hidden,
                     int devfn_visible)
{
    char what[256];

    reset(v, NULL, NULL);
    snprintf(what, sizeof(what), "pci \"%s\": slot mask %#x (got %#x)", v,
             slots, hidden_pci_slots());
    check(hidden_pci_slots() == slots, what);
    if ( devfn_hidden >= 0 )
    {
        snprintf(what, sizeof(what), "pci \"%s\": devfn %#x hidden", v,
                 devfn_hidden);
        check(hidden_pci_devfn(devfn_hidden), what);
    }
    if ( devfn_visible >= 0 )
    {
        snprintf(what, sizeof(what), "pci \"%s\": devfn %#x visible", v,
                 devfn_visible);
        check(!hidden_pci_devfn(devfn_visible), what);
    }
}

static void vcpu_case(const char *v, unsigned int nr_hidden,
                      int cpu_hidden)
{
    char what[256];

    reset(NULL, v, NULL);
    snprintf(what, sizeof(what), "vcpus \"%s\": %u hidden (got %u)", v,
             nr_hidden, hidden_nr_vcpus());
    check(hidden_nr_vcpus() == nr_hidden, what);
    check((hidden_vcpu_map() != NULL) == (nr_hidden != 0),
          "hidden_vcpu_map() is NULL exactly when nothing is hidden");
    if ( cpu_hidden >= 0 )
    {
        snprintf(what, sizeof(what), "vcpus \"%s\": vCPU %d hidden", v,
                 cpu_hidden);
        check(hidden_vcpu(cpu_hidden), what);
    }
    check(!hidden_vcpu(0), "vCPU 0 is never hidden");
}

static void mem_case(const char *v, unsigned int nr_ranges)
{
    const struct hidden_mem_range *r;
    char what[256];

    reset(NULL, NULL, v);
    snprintf(what, sizeof(what), "memory \"%s\": %u ranges (got %u)", v,
             nr_ranges, hidden_mem_ranges(&r));
    check(hidden_mem_ranges(&r) == nr_ranges, what);
}

/* A typical SeaBIOS table for a 256 MiB domain. */
static unsigned int base_e820(struct e820entry *e)
{
    static const struct e820entry t[] = {
        { 0x0, 0x9f000, E820_RAM },
        { 0x9f000, 0x1000, E820_RESERVED },
        { 0xe0000, 0x20000, E820_RESERVED },
        { 0x100000, 0xff00000, E820_RAM },
        { 0xfc000000, 0x4000000, E820_RESERVED },
        { 0x100000000ULL, 0x10000000, E820_RAM },
    };

    memcpy(e, t, sizeof(t));
    return sizeof(t) / sizeof(t[0]);
}

static uint64_t ram_in(const struct e820entry *e, unsigned int nr,
                       uint64_t start, uint64_t end /* exclusive */)
{
    uint64_t total = 0, s, x;
    unsigned int i;

    for ( i = 0; i < nr; i++ )
    {
        if ( e[i].type != E820_RAM )
            continue;
        s = e[i].addr > start ? e[i].addr : start;
        x = e[i].addr + e[i].size < end ? e[i].addr + e[i].size : end;
        if ( x > s )
            total += x - s;
    }
    return total;
}

static bool sorted(const struct e820entry *e, unsigned int nr)
{
    unsigned int i;

    for ( i = 1; i < nr; i++ )
        if ( e[i].addr < e[i - 1].addr + e[i - 1].size )
            return false;
    return true;
}

static void e820_tests(void)
{
    struct e820entry e[E820_BIOS_ENTRIES];
    unsigned int nr;
    uint64_t before;

    /* A range inside the low RAM entry: split in two. */
    reset(NULL, NULL, "8000000-8ffffff");
    nr = base_e820(e);
    before = ram_in(e, nr, 0, ~0ULL);
    nr = e820_hide_ranges(e, nr);
    check(nr == 7, "a range inside an entry splits it");
    check(ram_in(e, nr, 0x8000000, 0x9000000) == 0, "hidden range is not RAM");
    check(ram_in(e, nr, 0, ~0ULL) == before - 0x1000000,
          "exactly the range is gone");
    check(sorted(e, nr), "table stays sorted");

    /* Ranges over an entry's head, tail, all of it, and outside RAM. */
    reset(NULL, NULL, "0x100000-0x1ffffff,0xf000000-0xfffffff,"
          "100000000-10fffffff,fc000000-fc0fffff");
    nr = base_e820(e);
    before = ram_in(e, nr, 0, ~0ULL);
    nr = e820_hide_ranges(e, nr);
    check(nr == 5, "head/tail cut, high entry dropped");
    check(ram_in(e, nr, 0, ~0ULL) == before - 0x1f00000 - 0x1000000 -
          0x10000000, "head, tail and high RAM gone");
    check(e[4].type == E820_RESERVED && e[4].addr == 0xfc000000 &&
          e[4].size == 0x4000000, "reserved entries untouched");
    check(sorted(e, nr), "table stays sorted");

    /* Eight ranges fit; the table grows by at most one entry per range. */
    reset(NULL, NULL, "1000000-1ffffff,3000000-3ffffff,5000000-5ffffff,"
          "7000000-7ffffff,9000000-9ffffff,b000000-bffffff,"
          "d000000-dffffff,104000000-104ffffff");
    nr = base_e820(e);
    nr = e820_hide_ranges(e, nr);
    check(nr == 14, "eight ranges: fourteen entries");
    check(ram_in(e, nr, 0, ~0ULL) == 0x9f000 + 0xff00000 + 0x10000000 -
          8 * 0x1000000, "eight ranges gone");
    check(sorted(e, nr), "table stays sorted");

    /* No ranges: table unchanged. */
    reset(NULL, NULL, NULL);
    nr = base_e820(e);
    check(e820_hide_ranges(e, nr) == nr, "nothing hidden: unchanged");
}

int main(void)
{
    info_table.nr_vcpus = 4;

    /* PCI */
    pci_case("", 0, -1, 0x28);
    pci_case("00:05.0", 1u << 5, 0x28, 0x20);
    pci_case("00:05.0", 1u << 5, 0x2b, 0x30);   /* whole slot */
    pci_case("00:05.3", 0, 0x2b, 0x28);         /* one function only */
    pci_case("00:04.0,00:1F.0,00:1f.7", (1u << 4) | (1u << 31), 0xff, 0x28);
    pci_case("01:05.0", 0, -1, 0x28);           /* other bus: accepted */
    pci_case("00:05.0,00:05.0", 1u << 5, 0x28, -1);
    pci_case("00:05.0,00:06.0,00:07.0,00:08.0,00:09.0,00:0a.0,00:0b.0,"
             "00:0c.0,00:0d.0,00:0e.0,00:0f.0,00:10.0,00:11.0,00:12.0,"
             "00:13.0,00:14.0", 0x1fffe0, 0xa0, -1);          /* 16: ok */
    /* malformed: nothing hidden */
    pci_case("00:05.0,00:06.0,00:07.0,00:08.0,00:09.0,00:0a.0,00:0b.0,"
             "00:0c.0,00:0d.0,00:0e.0,00:0f.0,00:10.0,00:11.0,00:12.0,"
             "00:13.0,00:14.0,00:15.0", 0, -1, 0x28);         /* 17 */
    pci_case("0:5.0", 0, -1, 0x28);
    pci_case("00:05", 0, -1, 0x28);
    pci_case("00:05.8", 0, -1, 0x28);
    pci_case("00:20.0", 0, -1, 0x28);
    pci_case("00:01.1", 0, -1, 0x09);
    pci_case("00:00.0", 0, -1, 0x00);
    pci_case("00:05.0,", 0, -1, 0x28);
    pci_case("00:05.0 ", 0, -1, 0x28);
    pci_case(" 00:05.0", 0, -1, 0x28);
    pci_case("00:05.0;00:06.0", 0, -1, 0x28);
    pci_case("0000:00:05.0", 0, -1, 0x28);
    pci_case("00:0g.0", 0, -1, 0x28);

    /* vCPUs (the domain has 4) */
    vcpu_case("", 0, -1);
    vcpu_case("1", 1, 1);
    vcpu_case("3,1", 2, 3);
    vcpu_case("2,2", 1, 2);
    vcpu_case("0", 0, -1);
    vcpu_case("1,0", 0, -1);
    vcpu_case("4", 0, -1);
    vcpu_case("-1", 0, -1);
    vcpu_case("1,", 0, -1);
    vcpu_case("1 ", 0, -1);
    vcpu_case("0x1", 0, -1);
    vcpu_case("1000", 0, -1);
    info_table.nr_vcpus = 128;
    vcpu_case("127", 1, 127);
    vcpu_case("128", 0, -1);
    info_table.nr_vcpus = 4;

    /* memory */
    mem_case("", 0);
    mem_case("8000000-8ffffff", 1);
    mem_case("0x8000000-0x8FFFFFF", 1);
    mem_case("100000-100fff", 1);
    mem_case("8000000-8ffffff,100000000-1ffffffff", 2);
    mem_case("1000000-1ffffff,3000000-3ffffff,5000000-5ffffff,"
             "7000000-7ffffff,9000000-9ffffff,b000000-bffffff,"
             "d000000-dffffff,f000000-fffffff", 8);
    mem_case("1000000-1ffffff,3000000-3ffffff,5000000-5ffffff,"
             "7000000-7ffffff,9000000-9ffffff,b000000-bffffff,"
             "d000000-dffffff,f000000-fffffff,11000000-11ffffff", 0);
    mem_case("8000001-8ffffff", 0);     /* start not aligned */
    mem_case("8000000-8fffffe", 0);     /* end not aligned */
    mem_case("8000000-8000000", 0);
    mem_case("9000000-8ffffff", 0);     /* end before start */
    mem_case("0-fffff", 0);             /* first MiB */
    mem_case("f0000-1fffff", 0);
    mem_case("8000000", 0);
    mem_case("8000000-", 0);
    mem_case("8000000-8ffffff,", 0);
    mem_case("8000000..8ffffff", 0);
    mem_case("18000000000000000-18fffffffffffffff", 0);   /* 17 digits */

    e820_tests();

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
