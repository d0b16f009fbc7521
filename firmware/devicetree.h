/*
 * The machine description: memory, CPUs, interrupt controllers, the serial port,
 * the keyboard controller,
 * the PCI host bridge, the power-off and reset registers, as a flattened device
 * tree (libfdt), built from abi/address_map.h. It is the one source the e820 map
 * and the ACPI tables are read from, so they cannot disagree. Guests see it
 * through those; --dump-dtb writes the blob.
 */
#ifndef RINGVM_DEVICETREE_H
#define RINGVM_DEVICETREE_H

#include <stddef.h>
#include <stdint.h>

#include "services/error.h"
#include "services/memory.h"

#define FDT_MAX_SIZE        (64 * 1024)

/* What the nodes readers look up are compatible with. */
#define FDT_COMPAT_IOAPIC   "intel,ce4100-ioapic"
#define FDT_COMPAT_LAPIC    "intel,ce4100-lapic"
#define FDT_COMPAT_SERIAL   "ns16550a"
#define FDT_COMPAT_I8042    "intel,8042"
#define FDT_COMPAT_SLEEP    "ringvm,acpi-sleep-control"
#define FDT_COMPAT_RESET    "ringvm,reset-control"
#define FDT_COMPAT_PCI      "pci-host-ecam-generic"
#define FDT_COMPAT_VIRTIO_MMIO "virtio,mmio"

struct machine_facts {
	const struct guest_memory *mem;
	unsigned cpus;                      /* APIC IDs 0..cpus-1 */
	const char *cmdline;
	uint64_t initrd_addr, initrd_size;  /* 0 size: none */
	unsigned virtio_mmio;               /* virtio-mmio slots in use (abi/address_map.h) */
};

/* A virtio-mmio transport as the tree describes it. */
struct fdt_virtio_mmio {
	uint64_t base, size;
	uint32_t irq;                       /* IOAPIC pin, level-triggered, active high */
};

/* The PCI host bridge as the tree describes it. */
struct fdt_pci_host {
	uint64_t ecam, ecam_size;
	uint32_t bus_first, bus_last;
	uint64_t io_base, io_size;          /* port window for I/O BARs */
	uint64_t mem_base, mem_size;        /* 32-bit memory window */
};

/* Builds the blob (FDT_MAX_SIZE bytes of buf); returns 0 or -errno. */
int fdt_build(const struct machine_facts *facts, void *buf, struct error *err);

/* The e820 map the tree describes: RAM from /memory, reserved from /reserved-memory; sorted. */
int fdt_e820(const void *fdt, struct e820_entry *out, unsigned max);

/* The APIC IDs of /cpus, in order; returns how many (at most max), or -errno. */
int fdt_cpus(const void *fdt, uint32_t *apic_ids, unsigned max);

/* The first reg range of the node at path; 0 or -errno. */
int fdt_reg(const void *fdt, const char *path, uint64_t *addr, uint64_t *size);

/* The reg of the first node compatible with compatible, a 64-bit range; 0 or -ENOENT. */
int fdt_mmio(const void *fdt, const char *compatible, uint64_t *addr, uint64_t *size);

/* The I/O ports of the first ISA node compatible with compatible; 0 or -ENOENT. */
int fdt_isa_ports(const void *fdt, const char *compatible, uint16_t *port, uint16_t *len);

/* The virtio-mmio transports, in slot order; returns how many (at most max). */
int fdt_virtio_mmio(const void *fdt, struct fdt_virtio_mmio *out, unsigned max);

/* The PCI host bridge's ECAM, bus range and windows; 0 or -ENOENT. */
int fdt_pci_host(const void *fdt, struct fdt_pci_host *host);

/* The size of a built blob. */
size_t fdt_blob_size(const void *fdt);

#endif
