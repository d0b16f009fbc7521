#include <criterion/criterion.h>
#include <string.h>

#include "irq/ioapic.h"

struct record {
	int delivered;
	unsigned last_pin;
	struct msi_msg last_msi;
	int routes;
	bool last_masked;
};

static void record_deliver(void *ctx, unsigned pin, const struct msi_msg *msi)
{
	struct record *r = ctx;
	r->delivered++;
	r->last_pin = pin;
	r->last_msi = *msi;
}

static void record_route(void *ctx, unsigned pin, const struct msi_msg *msi, bool masked)
{
	struct record *r = ctx;
	(void)pin;
	r->routes++;
	r->last_msi = *msi;
	r->last_masked = masked;
}

static const struct ioapic_ops ops = { record_deliver, record_route };
static struct ioapic io;
static struct record rec;

static void setup(void)
{
	memset(&rec, 0, sizeof(rec));
	ioapic_init(&io, &ops, &rec);
}

static void teardown(void) { ioapic_destroy(&io); }

TestSuite(ioapic, .init = setup, .fini = teardown);

static void wr32(uint64_t offset, uint32_t v) { ioapic_access(&io, offset, (uint8_t *)&v, 4, true); }
static uint32_t rd32(uint64_t offset)
{
	uint32_t v = 0;
	ioapic_access(&io, offset, (uint8_t *)&v, 4, false);
	return v;
}
static void write_reg(uint32_t reg, uint32_t v) { wr32(0x00, reg); wr32(0x10, v); }
static uint32_t read_reg(uint32_t reg) { wr32(0x00, reg); return rd32(0x10); }
static void program(unsigned pin, uint64_t entry)
{
	write_reg(0x10 + 2 * pin + 1, (uint32_t)(entry >> 32));
	write_reg(0x10 + 2 * pin, (uint32_t)entry);
}

Test(ioapic, version_and_reset_state)
{
	cr_assert_eq(read_reg(0x01), 0x00170020, "24 pins, version 0x20");
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		cr_assert(read_reg(0x10 + 2 * pin) & (1u << 16), "pin %u masked at reset", pin);
	ioapic_set_pin(&io, 5, true);
	cr_assert_eq(rec.delivered, 0, "masked pins deliver nothing");
}

Test(ioapic, edge_pin_delivers_once_per_rising_edge)
{
	program(4, 0x0300000000000031ULL);    /* dest 3, vector 0x31, edge, unmasked */
	cr_assert_geq(rec.routes, 1, "KVM learns the route");
	cr_assert_not(rec.last_masked);
	ioapic_set_pin(&io, 4, true);
	ioapic_set_pin(&io, 4, true);          /* still high: no new edge */
	cr_assert_eq(rec.delivered, 1);
	cr_assert_eq(rec.last_pin, 4);
	cr_assert_eq(rec.last_msi.address, 0xfee03000ULL);
	cr_assert_eq(rec.last_msi.data, 0x31);
	ioapic_set_pin(&io, 4, false);
	ioapic_set_pin(&io, 4, true);
	cr_assert_eq(rec.delivered, 2);
}

Test(ioapic, level_pin_waits_for_eoi)
{
	program(20, 0x0000000000008045ULL);   /* level, vector 0x45 */
	cr_assert_eq(rec.last_msi.data & 0xc000, 0xc000, "route marked level: KVM exits on its EOI");
	ioapic_set_pin(&io, 20, true);
	cr_assert_eq(rec.delivered, 1);
	cr_assert(read_reg(0x10 + 40) & (1u << 14), "remote IRR");
	ioapic_set_pin(&io, 20, true);
	cr_assert_eq(rec.delivered, 1, "in service: no redelivery");
	ioapic_eoi(&io, 0x44);
	cr_assert_eq(rec.delivered, 1, "another vector's EOI changes nothing");
	ioapic_eoi(&io, 0x45);
	cr_assert_eq(rec.delivered, 2, "still asserted at EOI: delivered again");
	ioapic_set_pin(&io, 20, false);
	ioapic_eoi(&io, 0x45);
	cr_assert_eq(rec.delivered, 2, "lowered before EOI: done");
	cr_assert_not(read_reg(0x10 + 40) & (1u << 14), "remote IRR clear");
}

Test(ioapic, eoi_register_works_like_the_exit)
{
	program(21, 0x0000000000008050ULL);
	ioapic_set_pin(&io, 21, true);
	wr32(0x40, 0x50);
	cr_assert_eq(rec.delivered, 2);
}

Test(ioapic, unmasking_an_asserted_level_pin_delivers)
{
	program(22, 0x0000000000018060ULL);   /* level, masked */
	ioapic_set_pin(&io, 22, true);
	cr_assert_eq(rec.delivered, 0);
	program(22, 0x0000000000008060ULL);
	cr_assert_eq(rec.delivered, 1);
}

Test(ioapic, read_only_bits_and_logical_destination)
{
	program(6, 0x0200000000009870ULL | (1ULL << 14) | (1ULL << 12));   /* tries RO bits; logical */
	uint32_t low = read_reg(0x10 + 12);
	cr_assert_eq(low & ((1u << 14) | (1u << 12)), 0, "remote IRR and status are not writable");
	cr_assert_eq(read_reg(0x10 + 13), 0x02000000);
	cr_assert_eq(rec.last_msi.address, 0xfee02004ULL, "logical destination mode bit");
}

Test(ioapic, hostile_accesses_are_harmless)
{
	uint8_t b[8] = { 0 };
	ioapic_access(&io, 0x10, b, 1, false);       /* byte read */
	cr_assert_eq(b[0], 0xff);
	ioapic_access(&io, 0x11, b, 4, false);       /* misaligned */
	ioapic_access(&io, 0x10, b, 8, true);        /* 8-byte write */
	cr_assert_eq(read_reg(0x7f), 0xffffffff, "no such register");
	write_reg(0x10 + 2 * 24, 0);                 /* one past the last pin */
	write_reg(0xff, 0);
	ioapic_set_pin(&io, 24, true);               /* no such pin */
	ioapic_set_pin(&io, 1000, true);
	ioapic_eoi(&io, 0);
	cr_assert_eq(rec.delivered, 0);
	cr_assert_eq(rd32(0x20), 0xffffffff, "nothing at offset 0x20");
}
