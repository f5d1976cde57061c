/*
 * xh-pcicfg - read PCI configuration dwords the way firmware and an OS do:
 * configuration mechanism #1, address to port 0xCF8, data from port 0xCFC.
 * For HVM test guests of the Xen test host (tests/xenhost): it shows what the
 * guest's PCI bus answers for a slot, whoever answers it (qemu-xen or
 * another ioreq server such as xmaint's PCI-hole shim), without the guest
 * kernel's own view of which devices exist.
 *
 *   xh-pcicfg BB:DD.F [REG]...   one line per register (default 0x00):
 *                                "BB:DD.F REG 0xVVVVVVVV"
 *
 * Built with gcc -static at test time (tests/xenhost/stage.sh) and put into the
 * guests' ramdisk by the scenarios that need it.  Needs root (iopl).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>

static int usage(void)
{
    fprintf(stderr, "usage: xh-pcicfg BB:DD.F [REG]...\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned bus, dev, fn, reg;
    int n = 0, i;

    if (argc < 2 || sscanf(argv[1], "%2x:%2x.%1x%n", &bus, &dev, &fn, &n) != 3 ||
        argv[1][n] != '\0' || dev > 31 || fn > 7)
        return usage();
    if (iopl(3) != 0) {
        perror("xh-pcicfg: iopl");
        return 1;
    }
    for (i = 2; i < argc || i == 2; i++) {
        char *end;

        reg = 0;
        if (i < argc) {
            unsigned long v = strtoul(argv[i], &end, 0);

            if (*end || v > 0xfc || (v & 3))
                return usage();
            reg = (unsigned)v;
        }
        outl(0x80000000u | bus << 16 | dev << 11 | fn << 8 | reg, 0xcf8);
        printf("%02x:%02x.%x 0x%02x 0x%08x\n", bus, dev, fn, reg, inl(0xcfc));
    }
    return 0;
}
