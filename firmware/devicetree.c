#include "firmware/devicetree.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/address_map.h"

#define PHANDLE_IOAPIC 1
#define PCI_SPACE_IO   0x01000000u      /* phys.hi of a PCI address: the space code */
#define PCI_SPACE_MEM  0x02000000u
#define PCI_SPACE_MASK 0x03000000u
#define PCI_RANGE_CELLS 7               /* PCI address (3), CPU address (2), size (2) */

/* A 64-bit address/size pair, big-endian as device trees store them. */
static void put_range(fdt64_t *cells, uint64_t addr, uint64_t size)
{
	cells[0] = cpu_to_fdt64(addr);
	cells[1] = cpu_to_fdt64(size);
}

static int reg_property(void *fdt, uint64_t addr, uint64_t size)
{
	fdt64_t cells[2];
	put_range(cells, addr, size);
	return fdt_property(fdt, "reg", cells, sizeof(cells));
}

/* Sequential-write calls return <0 on failure; the first one ends the build. */
#define TRY(call) do { int r_ = (call); if (r_ < 0) return r_; } while (0)

/* A node named for its address, as unit-address conventions want: "name@addr" ("@i" for ports). */
static int begin_node_at(void *fdt, const char *name, const char *at, uint64_t addr)
{
	char full[64];

	snprintf(full, sizeof(full), "%s%s%llx", name, at, (unsigned long long)addr);
	return fdt_begin_node(fdt, full);
}

static int node_memory(void *fdt, const struct guest_memory *mem)
{
	struct e820_entry map[16];
	unsigned n = memory_e820(mem, map, 16), ram = 0;
	fdt64_t cells[32];

	for (unsigned i = 0; i < n; i++)
		if (map[i].type == E820_RAM)
			put_range(&cells[2 * ram++], map[i].addr, map[i].size);
	TRY(fdt_begin_node(fdt, "memory@0"));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(fdt_property(fdt, "reg", cells, ram * 2 * sizeof(cells[0])));
	TRY(fdt_end_node(fdt));

	/* What is not RAM but still claimed: legacy space, ECAM, the APICs and KVM's pages. */
	TRY(fdt_begin_node(fdt, "reserved-memory"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", NULL, 0));
	for (unsigned i = 0; i < n; i++) {
		char name[40];
		if (map[i].type == E820_RAM)
			continue;
		snprintf(name, sizeof(name), "reserved@%llx", (unsigned long long)map[i].addr);
		TRY(fdt_begin_node(fdt, name));
		TRY(reg_property(fdt, map[i].addr, map[i].size));
		TRY(fdt_property(fdt, "no-map", NULL, 0));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int node_cpus(void *fdt, unsigned cpus)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 1));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < cpus; i++) {
		char name[16];
		snprintf(name, sizeof(name), "cpu@%x", i);
		TRY(fdt_begin_node(fdt, name));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_u32(fdt, "reg", i));              /* the APIC ID */
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

static int node_interrupts(void *fdt)
{
	TRY(begin_node_at(fdt, "interrupt-controller", "@", AM_IOAPIC_BASE));
	TRY(fdt_property_string(fdt, "compatible", FDT_COMPAT_IOAPIC));
	TRY(reg_property(fdt, AM_IOAPIC_BASE, AM_IOAPIC_SIZE));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 2));
	TRY(fdt_property_u32(fdt, "#address-cells", 0));
	TRY(fdt_property_u32(fdt, "phandle", PHANDLE_IOAPIC));
	TRY(fdt_end_node(fdt));
	TRY(begin_node_at(fdt, "interrupt-controller", "@", AM_LAPIC_BASE));
	TRY(fdt_property_string(fdt, "compatible", FDT_COMPAT_LAPIC));
	TRY(reg_property(fdt, AM_LAPIC_BASE, AM_LAPIC_SIZE));
	return fdt_end_node(fdt);
}

/* An ISA device: reg in I/O space (the ISA binding: space 1, port, length). */
static int isa_device(void *fdt, const char *name, const char *compatible, uint32_t port,
		      uint32_t len)
{
	fdt32_t reg[3] = { cpu_to_fdt32(1), cpu_to_fdt32(port), cpu_to_fdt32(len) };

	TRY(begin_node_at(fdt, name, "@i", port));
	TRY(fdt_property_string(fdt, "compatible", compatible));
	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int node_isa(void *fdt)
{
	TRY(fdt_begin_node(fdt, "isa"));
	TRY(fdt_property_string(fdt, "compatible", "isa"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 1));
	/* No ranges: x86 reaches these ports with IN/OUT, not through a memory window. */

	TRY(isa_device(fdt, "serial", FDT_COMPAT_SERIAL, AM_PORT_COM1, AM_COM1_PORTS));
	TRY(fdt_property_u32(fdt, "clock-frequency", 1843200));
	fdt32_t irq[2] = { cpu_to_fdt32(AM_COM1_IRQ), cpu_to_fdt32(1) };   /* edge, active high */
	TRY(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
	TRY(fdt_end_node(fdt));

	/* The keyboard controller: its data port, then its command/status port; the keyboard's IRQ. */
	fdt32_t i8042_reg[6] = { cpu_to_fdt32(1), cpu_to_fdt32(AM_PORT_I8042_DATA), cpu_to_fdt32(1),
				 cpu_to_fdt32(1), cpu_to_fdt32(AM_PORT_I8042_COMMAND), cpu_to_fdt32(1) };
	TRY(begin_node_at(fdt, "keyboard-controller", "@i", AM_PORT_I8042_DATA));
	TRY(fdt_property_string(fdt, "compatible", FDT_COMPAT_I8042));
	TRY(fdt_property(fdt, "reg", i8042_reg, sizeof(i8042_reg)));
	fdt32_t kbd_irq[2] = { cpu_to_fdt32(AM_I8042_IRQ), cpu_to_fdt32(1) };   /* edge, active high */
	TRY(fdt_property(fdt, "interrupts", kbd_irq, sizeof(kbd_irq)));
	TRY(fdt_end_node(fdt));

	TRY(isa_device(fdt, "acpi-sleep", FDT_COMPAT_SLEEP, AM_PORT_ACPI_SLEEP, AM_ACPI_SLEEP_PORTS));
	TRY(fdt_end_node(fdt));

	TRY(isa_device(fdt, "reset", FDT_COMPAT_RESET, AM_PORT_RESET_CONTROL, 1));
	TRY(fdt_end_node(fdt));
	return fdt_end_node(fdt);
}

static int node_pci(void *fdt)
{
	TRY(begin_node_at(fdt, "pci", "@", AM_ECAM_BASE));
	TRY(fdt_property_string(fdt, "compatible", FDT_COMPAT_PCI));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(fdt_property_u32(fdt, "#address-cells", 3));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(reg_property(fdt, AM_ECAM_BASE, AM_ECAM_SIZE));
	fdt32_t bus_range[2] = { 0, cpu_to_fdt32(AM_ECAM_BUSES - 1) };
	TRY(fdt_property(fdt, "bus-range", bus_range, sizeof(bus_range)));
	/* The I/O and 32-bit memory windows, identity-mapped; both lie below 4 GiB. */
	fdt32_t ranges[] = {
		cpu_to_fdt32(PCI_SPACE_IO), 0, cpu_to_fdt32(AM_PCI_IO_BASE),
		0, cpu_to_fdt32(AM_PCI_IO_BASE), 0, cpu_to_fdt32(AM_PCI_IO_SIZE),
		cpu_to_fdt32(PCI_SPACE_MEM), 0, cpu_to_fdt32((uint32_t)AM_PCI_MMIO32_BASE),
		0, cpu_to_fdt32((uint32_t)AM_PCI_MMIO32_BASE), 0, cpu_to_fdt32((uint32_t)AM_PCI_MMIO32_SIZE),
	};
	TRY(fdt_property(fdt, "ranges", ranges, sizeof(ranges)));
	TRY(fdt_property_u32(fdt, "interrupt-parent", PHANDLE_IOAPIC));
	return fdt_end_node(fdt);
}

/* The ce4100 IOAPIC binding's second interrupt cell: 2 is level-triggered, active high. */
#define FDT_IRQ_LEVEL_HIGH 2

static int node_virtio_mmio(void *fdt, unsigned slots)
{
	for (unsigned i = 0; i < slots; i++) {
		uint64_t base = AM_VIRTIO_MMIO_BASE + i * AM_VIRTIO_MMIO_STRIDE;
		fdt32_t irq[2] = { cpu_to_fdt32(AM_VIRTIO_MMIO_FIRST_IRQ + i),
				   cpu_to_fdt32(FDT_IRQ_LEVEL_HIGH) };
		TRY(begin_node_at(fdt, "virtio_mmio", "@", base));
		TRY(fdt_property_string(fdt, "compatible", FDT_COMPAT_VIRTIO_MMIO));
		TRY(reg_property(fdt, base, AM_VIRTIO_MMIO_STRIDE));
		TRY(fdt_property(fdt, "interrupts", irq, sizeof(irq)));
		TRY(fdt_end_node(fdt));
	}
	return 0;
}

static int fdt_build_tree(const struct machine_facts *f, void *fdt)
{
	TRY(fdt_create(fdt, FDT_MAX_SIZE));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "ringvm,pc"));
	TRY(fdt_property_string(fdt, "model", "ringvm"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property_u32(fdt, "interrupt-parent", PHANDLE_IOAPIC));

	char stdout_path[32];
	snprintf(stdout_path, sizeof(stdout_path), "/isa/serial@i%x", AM_PORT_COM1);
	TRY(fdt_begin_node(fdt, "chosen"));
	TRY(fdt_property_string(fdt, "bootargs", f->cmdline ? f->cmdline : ""));
	TRY(fdt_property_string(fdt, "stdout-path", stdout_path));
	if (f->initrd_size) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", f->initrd_addr));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", f->initrd_addr + f->initrd_size));
	}
	TRY(fdt_end_node(fdt));

	TRY(node_memory(fdt, f->mem));
	TRY(node_cpus(fdt, f->cpus));
	TRY(node_interrupts(fdt));
	TRY(node_isa(fdt));
	TRY(node_pci(fdt));
	TRY(node_virtio_mmio(fdt, f->virtio_mmio));
	TRY(fdt_end_node(fdt));
	return fdt_finish(fdt);
}

int fdt_build(const struct machine_facts *facts, void *buf, struct error *err)
{
	int r = fdt_build_tree(facts, buf);
	return r < 0 ? error_set(err, ENOSPC, "cannot build the device tree: %s", fdt_strerror(r)) : 0;
}

size_t fdt_blob_size(const void *fdt)
{
	return fdt_totalsize(fdt);
}

/* Properties are only 4-byte aligned in the blob: 64-bit cells go through fdt64_ld. */
int fdt_reg(const void *fdt, const char *path, uint64_t *addr, uint64_t *size)
{
	int len, node = fdt_path_offset(fdt, path);
	const fdt64_t *reg = node < 0 ? NULL : fdt_getprop(fdt, node, "reg", &len);

	if (!reg || len < 16)
		return -ENOENT;
	*addr = fdt64_ld(&reg[0]);
	*size = fdt64_ld(&reg[1]);
	return 0;
}

int fdt_mmio(const void *fdt, const char *compatible, uint64_t *addr, uint64_t *size)
{
	int len, node = fdt_node_offset_by_compatible(fdt, -1, compatible);
	const fdt64_t *reg = node < 0 ? NULL : fdt_getprop(fdt, node, "reg", &len);

	if (!reg || len < 16)
		return -ENOENT;
	*addr = fdt64_ld(&reg[0]);
	*size = fdt64_ld(&reg[1]);
	return 0;
}

int fdt_virtio_mmio(const void *fdt, struct fdt_virtio_mmio *out, unsigned max)
{
	unsigned n = 0;
	int node = -1, len;

	/* Nodes come in the order they were written, which is slot order. */
	while (n < max && (node = fdt_node_offset_by_compatible(fdt, node, FDT_COMPAT_VIRTIO_MMIO)) >= 0) {
		const fdt64_t *reg = fdt_getprop(fdt, node, "reg", &len);
		const fdt32_t *irq = fdt_getprop(fdt, node, "interrupts", NULL);
		if (!reg || len < 16 || !irq)
			continue;
		out[n++] = (struct fdt_virtio_mmio){ fdt64_ld(&reg[0]), fdt64_ld(&reg[1]),
						     fdt32_to_cpu(irq[0]) };
	}
	return (int)n;
}

int fdt_isa_ports(const void *fdt, const char *compatible, uint16_t *port, uint16_t *len)
{
	int size, node = fdt_node_offset_by_compatible(fdt, -1, compatible);
	const fdt32_t *reg = node < 0 ? NULL : fdt_getprop(fdt, node, "reg", &size);

	if (!reg || size < 12 || fdt32_to_cpu(reg[0]) != 1)     /* 1: the ISA I/O space */
		return -ENOENT;
	*port = (uint16_t)fdt32_to_cpu(reg[1]);
	*len = (uint16_t)fdt32_to_cpu(reg[2]);
	return 0;
}

int fdt_pci_host(const void *fdt, struct fdt_pci_host *host)
{
	int len, node = fdt_node_offset_by_compatible(fdt, -1, FDT_COMPAT_PCI);
	const fdt32_t *ranges = node < 0 ? NULL : fdt_getprop(fdt, node, "ranges", &len);
	const fdt32_t *bus = node < 0 ? NULL : fdt_getprop(fdt, node, "bus-range", NULL);

	*host = (struct fdt_pci_host){ 0 };
	if (!ranges || !bus || fdt_mmio(fdt, FDT_COMPAT_PCI, &host->ecam, &host->ecam_size))
		return -ENOENT;
	host->bus_first = fdt32_to_cpu(bus[0]);
	host->bus_last = fdt32_to_cpu(bus[1]);
	for (const fdt32_t *r = ranges; (r - ranges + PCI_RANGE_CELLS) * 4 <= len;
	     r += PCI_RANGE_CELLS) {
		uint32_t space = fdt32_to_cpu(r[0]) & PCI_SPACE_MASK;
		uint64_t base = (uint64_t)fdt32_to_cpu(r[3]) << 32 | fdt32_to_cpu(r[4]);
		uint64_t size = (uint64_t)fdt32_to_cpu(r[5]) << 32 | fdt32_to_cpu(r[6]);
		if (space == PCI_SPACE_IO) {
			host->io_base = base;
			host->io_size = size;
		} else if (space == PCI_SPACE_MEM) {
			host->mem_base = base;
			host->mem_size = size;
		}
	}
	return host->io_size && host->mem_size ? 0 : -ENOENT;
}

static int cmp_e820(const void *a, const void *b)
{
	const struct e820_entry *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int fdt_e820(const void *fdt, struct e820_entry *out, unsigned max)
{
	unsigned n = 0;
	int len, node = fdt_path_offset(fdt, "/memory@0");
	const fdt64_t *reg = node < 0 ? NULL : fdt_getprop(fdt, node, "reg", &len);

	if (!reg)
		return -ENOENT;
	for (int i = 0; i + 16 <= len && n < max; i += 16, reg += 2)
		out[n++] = (struct e820_entry){ fdt64_ld(&reg[0]), fdt64_ld(&reg[1]), E820_RAM };
	int reserved = fdt_path_offset(fdt, "/reserved-memory");
	if (reserved >= 0) {
		int child;
		fdt_for_each_subnode(child, fdt, reserved) {
			const fdt64_t *r = fdt_getprop(fdt, child, "reg", &len);
			if (r && len >= 16 && n < max)
				out[n++] = (struct e820_entry){ fdt64_ld(&r[0]), fdt64_ld(&r[1]),
								E820_RESERVED };
		}
	}
	qsort(out, n, sizeof(out[0]), cmp_e820);
	return (int)n;
}

int fdt_cpus(const void *fdt, uint32_t *apic_ids, unsigned max)
{
	int cpus = fdt_path_offset(fdt, "/cpus"), node, len;
	unsigned n = 0;

	if (cpus < 0)
		return -ENOENT;
	fdt_for_each_subnode(node, fdt, cpus) {
		const fdt32_t *reg = fdt_getprop(fdt, node, "reg", &len);
		if (reg && len == 4 && n < max)
			apic_ids[n++] = fdt32_to_cpu(*reg);
	}
	return (int)n;
}
