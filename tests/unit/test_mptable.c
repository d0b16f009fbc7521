#include <criterion/criterion.h>
#include <string.h>

#include "abi/address_map.h"
#include "firmware/acpi.h"
#include "firmware/devicetree.h"
#include "firmware/mptable.h"

static struct guest_memory mem;
static uint8_t blob[FDT_MAX_SIZE];

static const uint8_t *build(unsigned cpus, unsigned virtio_mmio)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 64ULL << 20, &err), 0, "%s", err.msg);
	struct machine_facts facts = { .mem = &mem, .cpus = cpus, .cmdline = "",
				       .virtio_mmio = virtio_mmio };
	cr_assert_eq(fdt_build(&facts, blob, &err), 0, "%s", err.msg);
	cr_assert_eq(mptable_build(blob, &mem, &err), 0, "%s", err.msg);
	return gpa_to_hva(&mem, AM_MPTABLE_BASE, AM_MPTABLE_SIZE);
}

static void teardown(void)
{
	guest_memory_destroy(&mem);
}

TestSuite(mptable, .fini = teardown);

static uint16_t u16_at(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t u32_at(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* The configuration table, after checking both structures as Linux's mpparse does. */
static const uint8_t *config(const uint8_t *mp)
{
	cr_assert_eq(memcmp(mp, "_MP_", 4), 0);
	cr_assert_eq(mp[8], 1, "16 bytes");
	cr_assert_eq(mp[9], 4, "version 1.4");
	cr_assert_eq(acpi_checksum(mp, 16), 0);
	cr_assert_eq(mp[11], 0, "a configuration table, not a default configuration");
	uint32_t at = u32_at(mp + 4);
	cr_assert(at >= AM_MPTABLE_BASE && at < AM_MPTABLE_BASE + AM_MPTABLE_SIZE);
	const uint8_t *c = mp + (at - AM_MPTABLE_BASE);
	cr_assert_eq(memcmp(c, "PCMP", 4), 0);
	uint16_t len = u16_at(c + 4);
	cr_assert_leq(at + len, AM_MPTABLE_BASE + AM_MPTABLE_SIZE);
	cr_assert_eq(acpi_checksum(c, len), 0);
	cr_assert_eq(u32_at(c + 36), AM_LAPIC_BASE);
	return c;
}

/* Counts entries of type; for IO interrupts, those on pin with flags (pin -1: any). */
static unsigned count(const uint8_t *c, uint8_t type, int pin, uint16_t flags)
{
	static const uint8_t sizes[] = { 20, 8, 8, 8, 8 };
	const uint8_t *e = c + 44;
	unsigned n = 0;

	for (unsigned i = 0; i < u16_at(c + 34); i++) {
		cr_assert_lt(e[0], 5, "unknown entry type %u", e[0]);
		if (e[0] == type && (pin < 0 || (e[7] == pin && u16_at(e + 2) == flags)))
			n++;
		e += sizes[e[0]];
	}
	cr_assert_eq(e - c, u16_at(c + 4), "the entries fill the table");
	return n;
}

Test(mptable, every_cpu_the_bsp_first)
{
	const uint8_t *c = config(build(5, 0));
	cr_expect_eq(count(c, 0, -1, 0), 5);
	cr_expect_eq(c[44 + 1], 0, "APIC ID 0");
	cr_expect_eq(c[44 + 3], 3, "enabled, the BSP");
	cr_expect_eq(c[64 + 3], 1, "enabled");
	cr_expect_eq(count(c, 1, -1, 0), 1, "the ISA bus");
	cr_expect_eq(count(c, 2, -1, 0), 1, "one IOAPIC");
}

Test(mptable, virtio_mmio_pins_are_level_high)
{
	const uint8_t *c = config(build(2, 3));
	for (unsigned i = 0; i < 3; i++)
		cr_expect_eq(count(c, 3, AM_VIRTIO_MMIO_FIRST_IRQ + i, 0xd), 1, "pin %u",
			     AM_VIRTIO_MMIO_FIRST_IRQ + i);
	cr_expect_eq(count(c, 3, AM_COM1_IRQ, 0), 1, "COM1 conforms to ISA");
	cr_expect_eq(count(c, 3, 2, 0), 1, "the timer on pin 2");
	cr_expect_eq(count(c, 3, AM_VIRTIO_MMIO_FIRST_IRQ + 3, 0), 1, "an unused slot's pin is ISA's");
}

Test(mptable, the_most_cpus_fit)
{
	const uint8_t *c = config(build(254, AM_VIRTIO_MMIO_SLOTS));
	cr_expect_eq(count(c, 0, -1, 0), 254);
}
