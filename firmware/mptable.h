/*
 * The Intel MultiProcessor tables (MP specification 1.4): the floating pointer and
 * a configuration table with every CPU, the ISA bus, the IOAPIC and its interrupt
 * assignments, built from the device tree at AM_MPTABLE_BASE. A guest booted with
 * acpi=off finds its CPUs and the virtio-mmio pins' level triggering there.
 */
#ifndef RINGVM_MPTABLE_H
#define RINGVM_MPTABLE_H

#include "services/error.h"
#include "services/memory.h"

/* Writes the tables into guest RAM at AM_MPTABLE_BASE from the tree fdt. */
int mptable_build(const void *fdt, struct guest_memory *mem, struct error *err);

#endif
