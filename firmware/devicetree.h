/*
 * The machine description: memory, CPUs, interrupt controllers, the serial port,
 * the PCI host bridge and the power-off register, as a flattened device tree
 * (libfdt). It is the one source the e820 map and the ACPI tables are read from,
 * so they cannot disagree. Guests see it through those; --dump-dtb writes the blob.
 */
#ifndef RINGVM_DEVICETREE_H
#define RINGVM_DEVICETREE_H

#include <stddef.h>
#include <stdint.h>

#include "services/error.h"
#include "services/memory.h"

#define FDT_MAX_SIZE        (64 * 1024)
#define FDT_ACPI_SLEEP_PORT 0x600       /* ACPI sleep control (write) and status (read) */

struct machine_facts {
	const struct guest_memory *mem;
	unsigned cpus;                      /* APIC IDs 0..cpus-1 */
	const char *cmdline;
	uint64_t initrd_addr, initrd_size;  /* 0 size: none */
};

/* Builds the blob (FDT_MAX_SIZE bytes of buf); returns 0 or -errno. */
int fdt_build(const struct machine_facts *facts, void *buf, struct error *err);

/* The e820 map the tree describes: RAM from /memory, reserved from /reserved-memory; sorted. */
int fdt_e820(const void *fdt, struct e820_entry *out, unsigned max);

/* The APIC IDs of /cpus, in order; returns how many (at most max), or -errno. */
int fdt_cpus(const void *fdt, uint32_t *apic_ids, unsigned max);

/* The first reg range of the node at path; 0 or -errno. */
int fdt_reg(const void *fdt, const char *path, uint64_t *addr, uint64_t *size);

/* The size of a built blob. */
size_t fdt_blob_size(const void *fdt);

#endif
