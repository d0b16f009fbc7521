#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <string.h>

#include "firmware/devicetree.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static struct guest_memory mem;
static uint8_t blob[FDT_MAX_SIZE];

static void build(uint64_t ram, unsigned cpus, const char *cmdline, uint64_t initrd_addr,
		  uint64_t initrd_size)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, ram, &err), 0, "%s", err.msg);
	struct machine_facts facts = { .mem = &mem, .cpus = cpus, .cmdline = cmdline,
				       .initrd_addr = initrd_addr, .initrd_size = initrd_size };
	cr_assert_eq(fdt_build(&facts, blob, &err), 0, "%s", err.msg);
	cr_assert_eq(fdt_check_header(blob), 0);
	cr_assert_leq(fdt_blob_size(blob), FDT_MAX_SIZE);
}

static void teardown(void)
{
	guest_memory_destroy(&mem);
}

TestSuite(devicetree, .fini = teardown);

/* The e820 map read back from the tree is the memory layer's map, entry for entry. */
static void expect_same_map(void)
{
	struct e820_entry want[16], got[16];
	unsigned n = memory_e820(&mem, want, 16);
	int m = fdt_e820(blob, got, 16);

	cr_assert_eq(m, (int)n);
	for (unsigned i = 0; i < n; i++) {
		cr_expect_eq(got[i].addr, want[i].addr, "entry %u", i);
		cr_expect_eq(got[i].size, want[i].size, "entry %u", i);
		cr_expect_eq(got[i].type, want[i].type, "entry %u", i);
	}
}

Test(devicetree, memory_below_the_hole)
{
	build(512 * MiB, 1, "", 0, 0);
	expect_same_map();
}

Test(devicetree, memory_split_around_the_hole)
{
	build(6 * GiB, 2, "", 0, 0);
	expect_same_map();
	struct e820_entry map[16];
	int n = fdt_e820(blob, map, 16);
	uint64_t ram = 0;
	for (int i = 0; i < n; i++)
		if (map[i].type == E820_RAM)
			ram += map[i].size;
	/* All of RAM but the legacy hole at 640 KiB-1 MiB. */
	cr_expect_eq(ram, 6 * GiB - (AM_LEGACY_END - AM_LEGACY_START));
	cr_expect_eq(map[n - 1].addr + map[n - 1].size, AM_HIGH_RAM_START + 6 * GiB - AM_LOW_RAM_END);
}

Test(devicetree, cpus_are_apic_ids_in_order)
{
	uint32_t ids[64];
	build(256 * MiB, 7, "", 0, 0);
	cr_assert_eq(fdt_cpus(blob, ids, 64), 7);
	for (unsigned i = 0; i < 7; i++)
		cr_expect_eq(ids[i], i);
	cr_expect_eq(fdt_cpus(blob, ids, 3), 3, "never more than asked");
}

Test(devicetree, fixed_devices_at_their_addresses)
{
	uint64_t addr, size;
	build(256 * MiB, 1, "", 0, 0);
	cr_assert_eq(fdt_reg(blob, "/interrupt-controller@fec00000", &addr, &size), 0);
	cr_expect_eq(addr, AM_IOAPIC_BASE);
	cr_assert_eq(fdt_reg(blob, "/pci@e0000000", &addr, &size), 0);
	cr_expect_eq(addr, AM_ECAM_BASE);
	cr_expect_eq(size, MiB, "ECAM for bus 0");
	cr_expect_eq(fdt_reg(blob, "/no/such/node", &addr, &size), -ENOENT);

	int serial = fdt_path_offset(blob, "/isa/serial@i3f8");
	cr_assert_geq(serial, 0);
	cr_expect_eq(fdt_node_check_compatible(blob, serial, "ns16550a"), 0);
	cr_expect_geq(fdt_path_offset(blob, "/isa/acpi-sleep@i600"), 0);

	int kbc = fdt_path_offset(blob, "/isa/keyboard-controller@i60");
	cr_assert_geq(kbc, 0);
	cr_expect_eq(fdt_node_check_compatible(blob, kbc, "intel,8042"), 0);
	int n;
	const fdt32_t *reg = fdt_getprop(blob, kbc, "reg", &n);
	cr_assert_eq(n, 24, "the data port, then the command port");
	cr_expect(fdt32_to_cpu(reg[1]) == 0x60 && fdt32_to_cpu(reg[4]) == 0x64);
	const fdt32_t *irq = fdt_getprop(blob, kbc, "interrupts", &n);
	cr_assert_eq(n, 8);
	cr_expect_eq(fdt32_to_cpu(irq[0]), 1, "the keyboard's IRQ");
}

Test(devicetree, chosen_carries_cmdline_and_initrd)
{
	int len;
	build(256 * MiB, 1, "console=ttyS0 quiet", 0x4000000, 0x12345);
	int chosen = fdt_path_offset(blob, "/chosen");
	cr_assert_geq(chosen, 0);
	cr_expect_str_eq(fdt_getprop(blob, chosen, "bootargs", &len), "console=ttyS0 quiet");
	const fdt64_t *start = fdt_getprop(blob, chosen, "linux,initrd-start", &len);
	const fdt64_t *end = fdt_getprop(blob, chosen, "linux,initrd-end", &len);
	cr_assert(start && end);
	cr_expect_eq(fdt64_ld(start), 0x4000000);
	cr_expect_eq(fdt64_ld(end), 0x4000000 + 0x12345);
}

Test(devicetree, no_initrd_no_properties)
{
	int len;
	build(256 * MiB, 1, NULL, 0, 0);
	int chosen = fdt_path_offset(blob, "/chosen");
	cr_expect_null(fdt_getprop(blob, chosen, "linux,initrd-start", &len));
	cr_expect_str_eq(fdt_getprop(blob, chosen, "bootargs", &len), "");
}

Test(devicetree, a_tree_that_does_not_fit_is_an_error)
{
	static char huge[FDT_MAX_SIZE + 1];
	struct error err = { 0 };
	memset(huge, 'x', sizeof(huge) - 1);
	cr_assert_eq(guest_memory_create(&mem, 256 * MiB, &err), 0, "%s", err.msg);
	struct machine_facts facts = { .mem = &mem, .cpus = 1, .cmdline = huge };
	cr_expect_eq(fdt_build(&facts, blob, &err), -ENOSPC);
	cr_expect(strstr(err.msg, "device tree"), "%s", err.msg);
}

Test(devicetree, missing_nodes_are_enoent)
{
	struct e820_entry map[4];
	uint32_t ids[4];
	cr_assert_eq(fdt_create_empty_tree(blob, sizeof(blob)), 0);
	cr_expect_eq(fdt_e820(blob, map, 4), -ENOENT);
	cr_expect_eq(fdt_cpus(blob, ids, 4), -ENOENT);
}

Test(devicetree, virtio_mmio_transports_in_slot_order)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 64ULL << 20, &err), 0, "%s", err.msg);
	struct machine_facts facts = { .mem = &mem, .cpus = 1, .cmdline = "", .virtio_mmio = 2 };
	cr_assert_eq(fdt_build(&facts, blob, &err), 0, "%s", err.msg);
	struct fdt_virtio_mmio v[4];
	cr_assert_eq(fdt_virtio_mmio(blob, v, 4), 2);
	cr_expect_eq(v[0].base, AM_VIRTIO_MMIO_BASE);
	cr_expect_eq(v[1].base, AM_VIRTIO_MMIO_BASE + AM_VIRTIO_MMIO_STRIDE);
	cr_expect_eq(v[1].size, AM_VIRTIO_MMIO_STRIDE);
	cr_expect_eq(v[0].irq, AM_VIRTIO_MMIO_FIRST_IRQ);
	cr_expect_eq(v[1].irq, AM_VIRTIO_MMIO_FIRST_IRQ + 1);
}

Test(devicetree, no_virtio_mmio_without_the_transport)
{
	build(64ULL << 20, 1, "", 0, 0);
	struct fdt_virtio_mmio v[1];
	cr_expect_eq(fdt_virtio_mmio(blob, v, 1), 0);
}
