/*
 * The IOAPIC of the split irqchip: its MMIO window (IOREGSEL, IOWIN, the EOI
 * register) at any offset and width, pin levels, and EOIs of any vector. Checked:
 * a delivery only for a pin that is unmasked, and no pin beyond the 24.
 */
#include "fuzz.h"
#include "irq/ioapic.h"

static struct ioapic io;        /* reset for each input */

static void deliver(void *ctx, unsigned pin, const struct msi_msg *msi)
{
	(void)ctx, (void)msi;
	FZ_CHECK(pin < IOAPIC_PINS, "delivery on pin %u", pin);
	FZ_CHECK(!(io.redir[pin] & (1ull << 16)), "pin %u delivered while masked", pin);
}

static void route(void *ctx, unsigned pin, const struct msi_msg *msi, bool masked)
{
	(void)ctx, (void)msi, (void)masked;
	FZ_CHECK(pin < IOAPIC_PINS, "route for pin %u", pin);
}

static const struct ioapic_ops ops = { deliver, route };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };

	ioapic_init(&io, &ops, NULL);
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		switch (op % 5) {
		case 0: case 1: {   /* MMIO: the window is 4 KiB; registers at 0, 0x10, 0x40 */
			uint32_t len = fz_width(&f);
			uint64_t val = fz_u64(&f);
			uint8_t at = fz_u8(&f);
			uint64_t off = at & 0x80 ? fz_u16(&f) % 0x1000 : (at & 0x7c);
			if (off + len > 0x1000)
				len = 1;
			ioapic_access(&io, off, (uint8_t *)&val, len, op & 1);
			break;
		}
		case 2: {           /* select a register and write it: reaches redirection entries */
			uint32_t sel = fz_u8(&f), val = fz_u32(&f);
			ioapic_access(&io, 0x00, (uint8_t *)&sel, 4, true);
			ioapic_access(&io, 0x10, (uint8_t *)&val, 4, true);
			break;
		}
		case 3: {
			uint8_t pin = fz_u8(&f);
			ioapic_set_pin(&io, pin % IOAPIC_PINS, pin & 0x80);
			break;
		}
		case 4:
			ioapic_eoi(&io, fz_u8(&f));
			break;
		}
		FZ_CHECK(!(io.asserted >> IOAPIC_PINS), "asserted 0x%x", io.asserted);
	}
	ioapic_destroy(&io);
	return 0;
}
