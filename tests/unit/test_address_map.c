/*
 * abi/address_map.h is the one map: its windows must not collide, and every
 * description of the machine (device tree, e820, ACPI) must say what it says.
 */
#include <criterion/criterion.h>
#include <libfdt.h>
#include <string.h>

#include "abi/address_map.h"
#include "abi/irq_test.h"
#include "boot/boot.h"
#include "devices/reset.h"
#include "devices/virtio_dev.h"
#include "devices/uart.h"
#include "firmware/acpi.h"
#include "firmware/devicetree.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

struct window {
	const char *name;
	uint64_t base, size;
};

static bool overlap(const struct window *a, const struct window *b)
{
	return a->base < b->base + b->size && b->base < a->base + a->size;
}

static bool inside(const struct window *w, uint64_t start, uint64_t end)
{
	return w->base >= start && w->base + w->size <= end;
}

static void expect_disjoint(const struct window *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cr_expect_gt(w[i].size, 0, "%s is empty", w[i].name);
		for (size_t j = i + 1; j < n; j++)
			cr_expect_not(overlap(&w[i], &w[j]), "%s [0x%llx+0x%llx) overlaps %s [0x%llx+0x%llx)",
				      w[i].name, (unsigned long long)w[i].base,
				      (unsigned long long)w[i].size, w[j].name,
				      (unsigned long long)w[j].base, (unsigned long long)w[j].size);
	}
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Everything in the 32-bit hole that is not RAM. */
static const struct window mmio[] = {
	{ "PCI 32-bit window", AM_PCI_MMIO32_BASE, AM_PCI_MMIO32_SIZE },
	{ "virtio-mmio slots", AM_VIRTIO_MMIO_BASE, AM_VIRTIO_MMIO_SLOTS * AM_VIRTIO_MMIO_STRIDE },
	{ "ECAM", AM_ECAM_BASE, AM_ECAM_SIZE },
	{ "IOAPIC", AM_IOAPIC_BASE, AM_IOAPIC_SIZE },
	{ "LAPIC", AM_LAPIC_BASE, AM_LAPIC_SIZE },
	{ "KVM identity map", AM_KVM_IDENTITY_MAP, 0x1000 },
	{ "KVM TSS", AM_KVM_TSS, AM_KVM_TSS_SIZE },
};

/* What ringvm and the built-in guest put in low RAM, each with the room it takes. */
static const struct window low[] = {
	{ "boot GDT", AM_BOOT_GDT, BOOT_TSS + 16 },
	{ "start info", AM_BOOT_START_INFO, AM_BOOT_ZERO_PAGE - AM_BOOT_START_INFO },
	{ "zero page", AM_BOOT_ZERO_PAGE, 0x1000 },
	{ "AP trampoline", AM_AP_TRAMPOLINE, 0x1000 },
	{ "boot page tables", AM_BOOT_PAGE_TABLES, 6 * 0x1000 },
	{ "command line", AM_BOOT_CMDLINE, BOOT_CMDLINE_MAX },
	{ "ACPI tables", AM_ACPI_BASE, AM_ACPI_SIZE },
	{ "reset vector", AM_RESET_VECTOR, 16 },
	{ "MP tables", AM_MPTABLE_BASE, AM_MPTABLE_SIZE },
};

static const struct window ports[] = {
	{ "i8042 data", AM_PORT_I8042_DATA, 1 },
	{ "i8042 command", AM_PORT_I8042_COMMAND, 1 },
	{ "debug exit", AM_PORT_DEBUG_EXIT, AM_DEBUG_EXIT_PORTS },
	{ "COM1", AM_PORT_COM1, AM_COM1_PORTS },
	{ "irq-test", AM_PORT_IRQ_TEST, AM_IRQ_TEST_PORTS },
	{ "ACPI sleep", AM_PORT_ACPI_SLEEP, AM_ACPI_SLEEP_PORTS },
	{ "PCI CONF1", AM_PORT_PCI_CONF1, AM_PCI_CONF1_PORTS },
	{ "PCI I/O window", AM_PCI_IO_BASE, AM_PCI_IO_SIZE },
};

Test(address_map, mmio_windows_are_disjoint_and_in_the_hole)
{
	expect_disjoint(mmio, COUNT(mmio));
	for (size_t i = 0; i < COUNT(mmio); i++)
		cr_expect(inside(&mmio[i], AM_LOW_RAM_END, AM_HIGH_RAM_START), "%s is not in the hole",
			  mmio[i].name);
	cr_expect_eq(AM_PCI_MMIO32_BASE, AM_MMIO32_START);
	cr_expect_leq(AM_ECAM_BASE + AM_ECAM_SIZE, AM_SYSTEM_START, "ECAM runs into the APICs");
	cr_expect_eq(AM_ECAM_SIZE, (uint64_t)AM_ECAM_BUSES << 20, "1 MiB per bus");
	cr_expect_eq(AM_ECAM_BASE % AM_ECAM_SIZE, 0, "ECAM aligned to its size");
	cr_expect_eq(AM_MSI_BASE, AM_LAPIC_BASE);
	cr_expect_leq(AM_VIRTIO_MMIO_BASE + AM_VIRTIO_MMIO_SLOTS * AM_VIRTIO_MMIO_STRIDE, AM_SYSTEM_START,
		      "virtio-mmio runs into the APICs");
	cr_expect_geq(AM_VIRTIO_MMIO_STRIDE, 0x100 + VIRTIO_CONFIG_MAX, "registers and configuration fit");
	/* Pins: none COM1's, the timer's (2) or the irq-test device's; an IOAPIC has 24. */
	cr_expect_gt(AM_VIRTIO_MMIO_FIRST_IRQ, AM_COM1_IRQ);
	cr_expect_gt(AM_VIRTIO_MMIO_FIRST_IRQ, 2);
	cr_expect_lt(AM_VIRTIO_MMIO_FIRST_IRQ + AM_VIRTIO_MMIO_SLOTS - 1, IRQ_TEST_FIRST_PIN);
}

Test(address_map, low_placements_are_disjoint_and_where_they_belong)
{
	expect_disjoint(low, COUNT(low));
	for (size_t i = 0; i < 6; i++)
		cr_expect(inside(&low[i], AM_BOOT_DATA_START, AM_BOOT_DATA_END), "%s is not boot data",
			  low[i].name);
	cr_expect_leq(AM_BOOT_DATA_END, AM_LEGACY_START);
	cr_expect(inside(&low[6], AM_LEGACY_START, AM_LEGACY_END), "ACPI tables in the BIOS area");
	cr_expect(inside(&low[7], AM_LEGACY_START, AM_LEGACY_END), "reset vector in the BIOS area");
	cr_expect(inside(&low[8], 0xf0000, AM_LEGACY_END), "MP tables where Linux scans, the BIOS ROM");
	cr_expect_eq(AM_MPTABLE_BASE % 16, 0, "the floating pointer on a 16-byte boundary");
	cr_expect_eq(AM_RESET_VECTOR, 0xf0000 + 0xfff0, "where a CPU resets to, f000:fff0");
	cr_expect_eq(AM_ACPI_BASE % 16, 0, "Linux scans for the RSDP on 16-byte boundaries");
	cr_expect_eq(AM_AP_TRAMPOLINE % 0x1000, 0, "a SIPI vector names a page");
	cr_expect_lt(AM_AP_TRAMPOLINE, MiB, "a SIPI vector names a page below 1 MiB");
}

Test(address_map, ports_are_disjoint_and_the_reset_register_shares_conf1)
{
	expect_disjoint(ports, COUNT(ports));
	for (size_t i = 0; i < COUNT(ports); i++)
		cr_expect(inside(&ports[i], 0, 0x10000), "%s is past port space", ports[i].name);
	/* pci_conf1_access hands a byte at CONFIG_ADDRESS + 1 to the reset register. */
	cr_expect_eq(AM_PORT_RESET_CONTROL, AM_PORT_PCI_CONF1 + 1);
	cr_expect_eq(AM_COM1_PORTS, UART_REGS);
	cr_expect_lt(AM_COM1_IRQ, 16, "an ISA IRQ");
	cr_expect_eq(AM_I8042_IRQ, 1, "where every PC's keyboard interrupts");
	cr_expect_geq(AM_IRQ_TEST_PORTS, IRQ_TEST_PENDING + 4, "every register in the window");
	cr_expect_gt(IRQ_TEST_FIRST_PIN, 15, "the test pins are no ISA IRQ's");
}

static uint8_t blob[FDT_MAX_SIZE];

static void build_tree(const struct guest_memory *mem)
{
	struct error err = { 0 };
	struct machine_facts facts = { .mem = mem, .cpus = 2, .cmdline = "" };
	cr_assert_eq(fdt_build(&facts, blob, &err), 0, "%s", err.msg);
}

Test(address_map, the_device_tree_says_what_the_map_says)
{
	struct guest_memory layout;
	struct fdt_pci_host host;
	uint64_t addr, size;
	uint16_t port, len;
	int n;

	guest_memory_layout(&layout, 6 * GiB);
	build_tree(&layout);
	cr_assert_eq(fdt_mmio(blob, FDT_COMPAT_IOAPIC, &addr, &size), 0);
	cr_expect_eq(addr, AM_IOAPIC_BASE);
	cr_expect_eq(size, AM_IOAPIC_SIZE);
	cr_assert_eq(fdt_mmio(blob, FDT_COMPAT_LAPIC, &addr, &size), 0);
	cr_expect_eq(addr, AM_LAPIC_BASE);
	cr_expect_eq(size, AM_LAPIC_SIZE);

	cr_assert_eq(fdt_pci_host(blob, &host), 0);
	cr_expect_eq(host.ecam, AM_ECAM_BASE);
	cr_expect_eq(host.ecam_size, AM_ECAM_SIZE);
	cr_expect_eq(host.bus_first, 0);
	cr_expect_eq(host.bus_last, AM_ECAM_BUSES - 1);
	cr_expect_eq(host.io_base, AM_PCI_IO_BASE);
	cr_expect_eq(host.io_size, AM_PCI_IO_SIZE);
	cr_expect_eq(host.mem_base, AM_PCI_MMIO32_BASE);
	cr_expect_eq(host.mem_size, AM_PCI_MMIO32_SIZE);

	cr_assert_eq(fdt_isa_ports(blob, FDT_COMPAT_SERIAL, &port, &len), 0);
	cr_expect_eq(port, AM_PORT_COM1);
	cr_expect_eq(len, AM_COM1_PORTS);
	int serial = fdt_node_offset_by_compatible(blob, -1, FDT_COMPAT_SERIAL);
	const fdt32_t *irq = fdt_getprop(blob, serial, "interrupts", &n);
	cr_assert_not_null(irq);
	cr_expect_eq(fdt32_to_cpu(irq[0]), AM_COM1_IRQ);
	int chosen = fdt_path_offset(blob, "/chosen");
	const char *out = fdt_getprop(blob, chosen, "stdout-path", &n);
	cr_assert_not_null(out);
	cr_expect_eq(fdt_path_offset(blob, out), serial, "stdout-path names the serial port");

	cr_assert_eq(fdt_isa_ports(blob, FDT_COMPAT_SLEEP, &port, &len), 0);
	cr_expect_eq(port, AM_PORT_ACPI_SLEEP);
	cr_expect_eq(len, AM_ACPI_SLEEP_PORTS);
	cr_assert_eq(fdt_isa_ports(blob, FDT_COMPAT_RESET, &port, &len), 0);
	cr_expect_eq(port, AM_PORT_RESET_CONTROL);
	cr_expect_eq(len, 1);
}

/* The e820 entry of type holding all of w, or NULL. */
static const struct e820_entry *covering(const struct e820_entry *map, int n, uint64_t type,
					 const struct window *w)
{
	for (int i = 0; i < n; i++)
		if (map[i].type == type && inside(w, map[i].addr, map[i].addr + map[i].size))
			return &map[i];
	return NULL;
}

Test(address_map, e820_keeps_ram_out_of_every_window)
{
	static const uint64_t sizes[] = { 64 * MiB, AM_LOW_RAM_END, 6 * GiB };
	struct e820_entry map[32];

	for (size_t s = 0; s < COUNT(sizes); s++) {
		struct guest_memory layout;
		guest_memory_layout(&layout, sizes[s]);
		build_tree(&layout);
		int n = fdt_e820(blob, map, 32);
		cr_assert_gt(n, 0);
		for (int i = 0; i < n; i++) {
			const struct window ram = { "RAM", map[i].addr, map[i].size };
			if (map[i].type != E820_RAM)
				continue;
			cr_expect(inside(&ram, 0, AM_LOW_RAM_END) ||
				  inside(&ram, AM_HIGH_RAM_START, UINT64_MAX), "RAM in the hole");
			for (size_t j = 0; j < COUNT(mmio); j++)
				cr_expect_not(overlap(&ram, &mmio[j]), "RAM overlaps %s", mmio[j].name);
			cr_expect_not(overlap(&ram, &low[6]), "RAM over the ACPI tables");
			cr_expect_not(overlap(&ram, &low[7]), "RAM over the reset vector");
		}
		/* ECAM reserved exactly (Linux checks MCFG against it); the APICs and KVM's pages too. */
		const struct window ecam = { "ECAM", AM_ECAM_BASE, AM_ECAM_SIZE };
		const struct e820_entry *e = covering(map, n, E820_RESERVED, &ecam);
		cr_assert_not_null(e, "ECAM is not reserved");
		cr_expect_eq(e->addr, AM_ECAM_BASE);
		cr_expect_eq(e->size, AM_ECAM_SIZE);
		/* Past the device windows (BARs, virtio-mmio: their drivers claim them) and ECAM. */
		for (size_t j = 3; j < COUNT(mmio); j++)
			cr_expect_not_null(covering(map, n, E820_RESERVED, &mmio[j]), "%s is not reserved",
					   mmio[j].name);
		if (sizes[s] > AM_LEGACY_START)
			cr_expect_not_null(covering(map, n, E820_RESERVED, &low[6]), "ACPI not reserved");
	}
}

static struct guest_memory mem;

static void teardown(void)
{
	guest_memory_destroy(&mem);
}

static uint32_t u32_at(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t u64_at(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* The table with signature sig among the XSDT's entries. */
static const uint8_t *acpi_table(const char sig[4])
{
	const uint8_t *rsdp = gpa_to_hva(&mem, ACPI_RSDP, 36);
	cr_assert_not_null(rsdp);
	const uint8_t *xsdt = gpa_to_hva(&mem, u64_at(rsdp + 24), 36);
	cr_assert_not_null(xsdt);
	for (uint32_t off = 36; off + 8 <= u32_at(xsdt + 4); off += 8) {
		const uint8_t *t = gpa_to_hva(&mem, u64_at(xsdt + off), 36);
		if (t && !memcmp(t, sig, 4))
			return t;
	}
	cr_assert_fail("no %.4s", sig);
	return NULL;
}

Test(address_map, acpi_says_what_the_map_says, .fini = teardown)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 256 * MiB, &err), 0, "%s", err.msg);
	build_tree(&mem);
	cr_assert_eq(acpi_build(blob, &mem, 0, &err), 0, "%s", err.msg);
	cr_expect_eq(ACPI_RSDP, AM_ACPI_BASE);

	const uint8_t *mcfg = acpi_table("MCFG");
	cr_expect_eq(u64_at(mcfg + 44), AM_ECAM_BASE);
	cr_expect_eq(mcfg[44 + 8] | mcfg[44 + 9] << 8, 0, "segment 0");
	cr_expect_eq(mcfg[44 + 10], 0, "first bus");
	cr_expect_eq(mcfg[44 + 11], AM_ECAM_BUSES - 1, "last bus: what ECAM covers");

	const uint8_t *fadt = acpi_table("FACP");
	cr_expect_eq(fadt[116], 1, "reset register in I/O space");
	cr_expect_eq(u64_at(fadt + 120), AM_PORT_RESET_CONTROL);
	cr_expect(fadt[128] & RESET_CONTROL_RST, "the reset value sets the bit that resets");
	cr_expect_eq(u64_at(fadt + 248), AM_PORT_ACPI_SLEEP);

	const uint8_t *madt = acpi_table("APIC");
	unsigned ioapics = 0;
	cr_expect_eq(u32_at(madt + 36), AM_LAPIC_BASE);
	for (uint32_t off = 44; off + 2 <= u32_at(madt + 4) && madt[off + 1]; off += madt[off + 1])
		if (madt[off] == 1) {
			cr_expect_eq(u32_at(madt + off + 4), AM_IOAPIC_BASE);
			ioapics++;
		}
	cr_expect_eq(ioapics, 1);

	/* The host bridge's _CRS: the I/O window as a Word descriptor, the memory one as DWord. */
	const uint8_t *dsdt = gpa_to_hva(&mem, u64_at(fadt + 140), 36);
	cr_assert_not_null(dsdt);
	uint16_t io_max = AM_PCI_IO_BASE + AM_PCI_IO_SIZE - 1;
	const uint8_t io[] = { 0x88, 0x0d, 0x00, 0x01, 0x0c, 0x03, 0, 0,
			       AM_PCI_IO_BASE & 0xff, AM_PCI_IO_BASE >> 8, io_max & 0xff, io_max >> 8,
			       0, 0, AM_PCI_IO_SIZE & 0xff, AM_PCI_IO_SIZE >> 8 };
	cr_expect_not_null(memmem(dsdt, u32_at(dsdt + 4), io, sizeof(io)), "PCI I/O window");
	uint32_t mem_window[2] = { (uint32_t)AM_PCI_MMIO32_BASE,
				   (uint32_t)(AM_PCI_MMIO32_BASE + AM_PCI_MMIO32_SIZE - 1) };
	cr_expect_not_null(memmem(dsdt, u32_at(dsdt + 4), mem_window, sizeof(mem_window)),
			   "PCI memory window");
}
