/*
 * acpi-host-utils.h - the "standard utilities" libacpi expects
 * (LIBACPI_STDUTILS), for building the patched tools/libacpi on the build
 * machine in acpi-host.c.  Not part of the patch series.
 */
#ifndef ACPI_HOST_UTILS_H
#define ACPI_HOST_UTILS_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ASSERT(x) assert(x)

static inline int test_bit(unsigned int b, const void *p)
{
    return !!(((const uint8_t *)p)[b >> 3] & (1u << (b & 7)));
}

#endif
