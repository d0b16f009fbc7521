#include <criterion/criterion.h>
#include <libfdt.h>
#include <string.h>

#include "firmware/acpi.h"
#include "firmware/aml.h"
#include "firmware/devicetree.h"

#define MiB (1ULL << 20)

static struct guest_memory mem;
static uint8_t blob[FDT_MAX_SIZE];

static void build_mmio(unsigned cpus, int split, unsigned virtio_mmio)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 256 * MiB, &err), 0, "%s", err.msg);
	struct machine_facts facts = { .mem = &mem, .cpus = cpus, .cmdline = "",
				       .virtio_mmio = virtio_mmio };
	cr_assert_eq(fdt_build(&facts, blob, &err), 0, "%s", err.msg);
	cr_assert_eq(acpi_build(blob, &mem, split, &err), 0, "%s", err.msg);
}

static void build(unsigned cpus, int split)
{
	build_mmio(cpus, split, 0);
}

static void teardown(void)
{
	guest_memory_destroy(&mem);
}

TestSuite(acpi, .fini = teardown);

static uint32_t u32_at(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t u64_at(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* A table by guest address, after checking it lies in the ACPI area and sums to 0. */
static const uint8_t *table_at(uint64_t gpa, const char sig[4])
{
	cr_assert_geq(gpa, AM_ACPI_BASE);
	const uint8_t *t = gpa_to_hva(&mem, gpa, 36);
	cr_assert_not_null(t);
	uint32_t len = u32_at(t + 4);
	cr_assert_leq(gpa + len, AM_ACPI_BASE + AM_ACPI_SIZE, "%.4s runs past the ACPI area", sig);
	cr_assert_eq(memcmp(t, sig, 4), 0, "found %.4s, wanted %.4s", (const char *)t, sig);
	cr_expect_eq(acpi_checksum(t, len), 0, "%.4s checksum", sig);
	return t;
}

/* The XSDT's entry with signature sig, as Linux would find it. */
static const uint8_t *find_table(const char sig[4])
{
	const uint8_t *rsdp = gpa_to_hva(&mem, ACPI_RSDP, 36);
	const uint8_t *xsdt = table_at(u64_at(rsdp + 24), "XSDT");
	uint32_t len = u32_at(xsdt + 4);
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		const uint8_t *t = gpa_to_hva(&mem, u64_at(xsdt + off), 4);
		if (t && !memcmp(t, sig, 4))
			return table_at(u64_at(xsdt + off), sig);
	}
	cr_assert_fail("no %.4s in the XSDT", sig);
	return NULL;
}

Test(acpi, rsdp_is_valid)
{
	build(1, 0);
	const uint8_t *rsdp = gpa_to_hva(&mem, ACPI_RSDP, 36);
	cr_assert_eq(memcmp(rsdp, "RSD PTR ", 8), 0);
	cr_expect_eq(rsdp[15], 2, "ACPI 2.0+ RSDP");
	cr_expect_eq(acpi_checksum(rsdp, 20), 0);
	cr_expect_eq(acpi_checksum(rsdp, 36), 0);
	cr_expect_eq(u32_at(rsdp + 20), 36);
	cr_expect_eq(ACPI_RSDP % 16, 0, "Linux scans the BIOS area on 16-byte boundaries");
}

Test(acpi, fadt_is_hardware_reduced_with_sleep_and_reset)
{
	build(1, 0);
	const uint8_t *f = find_table("FACP");
	cr_expect_eq(u32_at(f + 4), 276);
	cr_expect(u32_at(f + 112) & (1u << 20), "HW_REDUCED_ACPI");
	cr_expect(u32_at(f + 112) & (1u << 10), "RESET_REG_SUP");
	cr_expect_eq(f[116], 1, "reset register in I/O space");
	cr_expect_eq(u64_at(f + 120), 0xcf9);
	cr_expect_eq(f[128], 6, "reset value");
	cr_expect_eq(f[244], 1, "sleep control in I/O space");
	cr_expect_eq(u64_at(f + 248), AM_PORT_ACPI_SLEEP);
	cr_expect_eq(u64_at(f + 260), AM_PORT_ACPI_SLEEP + 1);
	/* Both DSDT pointers name the same valid table. */
	cr_expect_eq(u32_at(f + 40), u64_at(f + 140));
	table_at(u64_at(f + 140), "DSDT");
}

Test(acpi, dsdt_describes_the_host_bridge_and_s5)
{
	build(1, 0);
	const uint8_t *f = find_table("FACP");
	const uint8_t *d = table_at(u64_at(f + 140), "DSDT");
	uint32_t len = u32_at(d + 4);
	cr_expect_not_null(memmem(d, len, "PCI0", 4));
	/* Name(_S5_, Package(4){ 5, 5, 0, 0 }) */
	const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, ACPI_S5_TYPE,
			       0x0a, ACPI_S5_TYPE, 0x00, 0x00 };
	cr_expect_not_null(memmem(d, len, s5, sizeof(s5)));
	uint32_t hid = aml_eisa_id("PNP0A08");
	cr_expect_not_null(memmem(d, len, &hid, 4));
}

Test(acpi, dsdt_describes_the_serial_port_with_its_irq)
{
	build(1, 0);
	const uint8_t *f = find_table("FACP");
	const uint8_t *d = table_at(u64_at(f + 140), "DSDT");
	uint32_t len = u32_at(d + 4);
	uint32_t hid = aml_eisa_id("PNP0501");
	cr_expect_not_null(memmem(d, len, "COM1", 4));
	cr_expect_not_null(memmem(d, len, &hid, 4));
	/* IO(Decode16, 0x3f8, 0x3f8, 1, 8), IRQNoFlags(){4}, end tag */
	const uint8_t crs[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00,
				0x79, 0x00 };
	cr_expect_not_null(memmem(d, len, crs, sizeof(crs)));
}

/* Linux's i8042 driver finds the controller as a PNP0303 device, or not at all. */
Test(acpi, dsdt_describes_the_keyboard_controller_and_the_fadt_says_so)
{
	build(1, 0);
	const uint8_t *f = find_table("FACP");
	const uint8_t *d = table_at(u64_at(f + 140), "DSDT");
	uint32_t len = u32_at(d + 4);
	uint32_t hid = aml_eisa_id("PNP0303");
	cr_expect_not_null(memmem(d, len, "PS2K", 4));
	cr_expect_not_null(memmem(d, len, &hid, 4));
	/* IO(Decode16, 0x60, 0x60, 1, 1), IO(Decode16, 0x64, 0x64, 1, 1), IRQNoFlags(){1}, end tag */
	const uint8_t crs[] = { 0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,
				0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,
				0x22, 0x02, 0x00, 0x79, 0x00 };
	cr_expect_not_null(memmem(d, len, crs, sizeof(crs)));
	/* IAPC_BOOT_ARCH (offset 109): the 8042 bit, or Linux believes firmware says none. */
	cr_expect(f[109] & 0x02, "IAPC_BOOT_ARCH %#x", f[109]);
}

static unsigned count_madt(const uint8_t *m, uint8_t type)
{
	unsigned n = 0;
	for (uint32_t off = 44; off + 2 <= u32_at(m + 4); off += m[off + 1]) {
		cr_assert_geq(m[off + 1], 2, "entry lengths move forward");
		n += m[off] == type;
	}
	return n;
}

Test(acpi, madt_has_every_cpu_and_the_ioapic)
{
	build(5, 0);
	const uint8_t *m = find_table("APIC");
	cr_expect_eq(u32_at(m + 36), AM_LAPIC_BASE);
	cr_expect_eq(u32_at(m + 40) & 1, 1, "in-kernel irqchip: 8259s present");
	cr_expect_eq(count_madt(m, 0), 5);
	cr_expect_eq(count_madt(m, 1), 1);
	cr_expect_eq(count_madt(m, 2), 1, "ISA IRQ 0 override");
	unsigned apic = 0;
	for (uint32_t off = 44; off < u32_at(m + 4); off += m[off + 1])
		if (m[off] == 0) {
			cr_expect_eq(m[off + 3], apic++, "APIC IDs in order");
			cr_expect_eq(u32_at(m + off + 4) & 1, 1, "enabled");
		} else if (m[off] == 1) {
			cr_expect_eq(u32_at(m + off + 4), AM_IOAPIC_BASE);
			cr_expect_eq(u32_at(m + off + 8), 0, "GSI base");
		}
}

Test(acpi, split_irqchip_has_no_8259s)
{
	build(2, 1);
	cr_expect_eq(u32_at(find_table("APIC") + 40) & 1, 0);
}

Test(acpi, mcfg_points_at_ecam)
{
	build(1, 0);
	const uint8_t *m = find_table("MCFG");
	cr_expect_eq(u64_at(m + 44), AM_ECAM_BASE);
	cr_expect_eq(m[44 + 10], 0);
	cr_expect_eq(m[44 + 11], 0, "bus 0 only");
}

Test(acpi, a_tree_without_a_host_bridge_is_refused)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 256 * MiB, &err), 0, "%s", err.msg);
	cr_assert_eq(fdt_create_empty_tree(blob, sizeof(blob)), 0);
	cr_expect_lt(acpi_build(blob, &mem, 0, &err), 0);
	cr_expect_gt(strlen(err.msg), 0);
}

static unsigned count_in(const uint8_t *d, uint32_t len, const void *what, size_t n)
{
	unsigned count = 0;
	for (const uint8_t *p = d; (p = memmem(p, len - (size_t)(p - d), what, n)); p++)
		count++;
	return count;
}

Test(acpi, dsdt_has_an_lnro0005_device_per_virtio_mmio_transport)
{
	build_mmio(1, 0, 3);
	const uint8_t *f = find_table("FACP");
	const uint8_t *d = table_at(u64_at(f + 140), "DSDT");
	uint32_t len = u32_at(d + 4);
	/* Name(_HID, "LNRO0005") */
	const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0 };
	cr_expect_eq(count_in(d, len, hid, sizeof(hid)), 3);
	cr_expect_not_null(memmem(d, len, "VR00", 4));
	cr_expect_not_null(memmem(d, len, "VR02", 4));
	cr_expect_null(memmem(d, len, "VR03", 4));
	/* Slot 1: Memory32Fixed(ReadWrite, base, 0x200), Interrupt(Consumer, Level, ActiveHigh){6} */
	uint32_t base = (uint32_t)(AM_VIRTIO_MMIO_BASE + AM_VIRTIO_MMIO_STRIDE);
	uint32_t size = (uint32_t)AM_VIRTIO_MMIO_STRIDE, irq = AM_VIRTIO_MMIO_FIRST_IRQ + 1;
	uint8_t crs[23] = { 0x86, 0x09, 0x00, 0x01 };
	memcpy(&crs[4], &base, 4);
	memcpy(&crs[8], &size, 4);
	const uint8_t intr[] = { 0x89, 0x06, 0x00, 0x01, 0x01 };
	memcpy(&crs[12], intr, sizeof(intr));
	memcpy(&crs[17], &irq, 4);
	crs[21] = 0x79;
	cr_expect_not_null(memmem(d, len, crs, sizeof(crs)), "slot 1's resources");
}

Test(acpi, dsdt_without_virtio_mmio_has_no_lnro0005)
{
	build(1, 0);
	const uint8_t *f = find_table("FACP");
	const uint8_t *d = table_at(u64_at(f + 140), "DSDT");
	cr_expect_null(memmem(d, u32_at(d + 4), "LNRO0005", 8));
}
