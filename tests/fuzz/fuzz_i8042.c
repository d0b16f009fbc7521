/*
 * The i8042 and its keyboard: accesses of any width to both ports, and Ctrl+Alt+Del
 * pressed by the host between them. Its line goes through a real irq source into a
 * split irqchip's IOAPIC. Checked: the keyboard never holds more than its buffer,
 * a pressed Ctrl+Alt+Del is all there or refused, and IRQ 1 is up exactly when the
 * output buffer is full and the guest wants the interrupt.
 */
#include <errno.h>

#include "abi/address_map.h"
#include "devices/i8042.h"
#include "fuzz.h"
#include "irq/irq.h"

static void deliver(void *ctx, unsigned pin, const struct msi_msg *msi) { (void)ctx, (void)pin, (void)msi; }
static void route(void *ctx, unsigned pin, const struct msi_msg *msi, bool masked)
{
	(void)ctx, (void)pin, (void)msi, (void)masked;
}
static const struct ioapic_ops ioapic_ops = { deliver, route };
static void on_reset(void *ctx) { ++*(unsigned *)ctx; }

static struct irq_chip chip;    /* reset for each input */
static struct irq_source src;
static struct i8042 kbc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	unsigned resets = 0;

	memset(&chip, 0, sizeof(chip));
	chip.mode = IRQCHIP_SPLIT;
	ioapic_init(&chip.ioapic, &ioapic_ops, NULL);
	chip.ioapic.redir[AM_I8042_IRQ] = 0x31;     /* unmasked, edge, vector 0x31 */
	memset(&src, 0, sizeof(src));
	src.chip = &chip;
	src.kind = IRQ_KIND_PIN;
	src.gsi = AM_I8042_IRQ;
	pthread_mutex_init(&src.level_lock, NULL);
	i8042_init(&kbc, &src, on_reset, &resets);
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		if (op % 5 == 4) {
			unsigned before = kbc.kbd_count;
			int r = i8042_send_ctrl_alt_del(&kbc);
			FZ_CHECK(r == 0 || r == -EAGAIN || r == -ENOBUFS, "send: %d", r);
			/* All of it (one byte may have moved on to the output buffer) or none. */
			FZ_CHECK(r ? kbc.kbd_count == before : kbc.kbd_count + 1 >= before + 8,
				 "send %d: %u bytes, %u before", r, kbc.kbd_count, before);
		} else {
			uint32_t len = fz_width(&f);
			uint64_t val = fz_u64(&f);
			bool write = op & 1;
			if (op % 5 < 2)
				i8042_data_access(&kbc, 0, (uint8_t *)&val, len, write);
			else
				i8042_command_access(&kbc, 0, (uint8_t *)&val, len, write);
		}
		FZ_CHECK(kbc.kbd_count <= I8042_KBD_BUFFER && kbc.kbd_head < I8042_KBD_BUFFER,
			 "keyboard buffer: %u bytes from %u", kbc.kbd_count, kbc.kbd_head);
		bool line = chip.ioapic.asserted & (1u << AM_I8042_IRQ);
		FZ_CHECK(line == (kbc.out_full && (kbc.ctr & 0x01)), "IRQ 1 %d, output %d, ctr %#x",
			 line, kbc.out_full, kbc.ctr);
	}
	i8042_destroy(&kbc);
	pthread_mutex_destroy(&src.level_lock);
	ioapic_destroy(&chip.ioapic);
	return 0;
}
