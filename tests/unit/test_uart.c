#include <criterion/criterion.h>
#include <string.h>

#include "abi/address_map.h"
#include "devices/uart.h"
#include "irq_recorder.h"

/*
 * The UART's line goes through a real irq source into a split irqchip's IOAPIC,
 * whose delivery callback counts the interrupts; the pin's input is the line level.
 */
struct fake_irq {
	struct irq_chip chip;
	struct irq_source src;
	int raises;
};

static void count_delivery(void *ctx, unsigned pin, const struct msi_msg *msi)
{
	(void)pin;
	(void)msi;
	((struct fake_irq *)ctx)->raises++;
}

static void ignore_route(void *ctx, unsigned pin, const struct msi_msg *msi, bool masked)
{
	(void)ctx, (void)pin, (void)msi, (void)masked;
}

static const struct ioapic_ops fake_ioapic_ops = { count_delivery, ignore_route };

static bool line_level(const struct fake_irq *f)
{
	return f->chip.ioapic.asserted & (1u << AM_COM1_IRQ);
}

struct fake_backend {
	uint8_t out[64];
	size_t out_len, room;
	int rx_space_calls;
};

static bool fb_tx(void *ctx, uint8_t byte)
{
	struct fake_backend *b = ctx;
	if (b->out_len >= b->room)
		return false;
	b->out[b->out_len++] = byte;
	return true;
}

static bool fb_ready(void *ctx)
{
	struct fake_backend *b = ctx;
	return b->out_len < b->room;
}

static void fb_rx_space(void *ctx)
{
	((struct fake_backend *)ctx)->rx_space_calls++;
}

static const struct uart_backend fb_ops = { fb_tx, fb_ready, fb_rx_space };

static struct uart u;
static struct fake_irq irq;
static struct fake_backend be;

static void setup(void)
{
	memset(&irq, 0, sizeof(irq));
	irq.chip.mode = IRQCHIP_SPLIT;
	ioapic_init(&irq.chip.ioapic, &fake_ioapic_ops, &irq);
	irq.chip.ioapic.redir[AM_COM1_IRQ] = 0x30;   /* unmasked, edge, vector 0x30 */
	irq.src = (struct irq_source){ .chip = &irq.chip, .kind = IRQ_KIND_PIN, .gsi = AM_COM1_IRQ };
	be = (struct fake_backend){ .room = sizeof(be.out) };
	uart_init(&u, &irq.src, &fb_ops, &be);
}

static void teardown(void)
{
	uart_destroy(&u);
	ioapic_destroy(&irq.chip.ioapic);
}

TestSuite(uart, .init = setup, .fini = teardown);

static uint8_t rd(unsigned reg)
{
	uint8_t v = 0x5a;
	uart_access(&u, reg, &v, 1, false);
	return v;
}

static void wr(unsigned reg, uint8_t v)
{
	uart_access(&u, reg, &v, 1, true);
}

enum { THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

Test(uart, reset_state)
{
	cr_assert_eq(rd(IIR), 0x01, "no interrupt pending, FIFOs off");
	cr_assert_eq(rd(LSR), 0x60, "THRE and TEMT, no data");
	cr_assert_eq(rd(IER), 0);
	cr_assert_eq(rd(MSR) & 0xb0, 0xb0, "CTS, DSR, DCD: a ready peer");
	cr_assert_not(line_level(&irq));
}

Test(uart, transmit_goes_to_backend)
{
	wr(THR, 'h');
	wr(THR, 'i');
	cr_assert_eq(be.out_len, 2);
	cr_assert_eq(memcmp(be.out, "hi", 2), 0);
}

Test(uart, scratch_and_divisor_latch)
{
	wr(SCR, 0xa5);
	cr_assert_eq(rd(SCR), 0xa5);
	wr(LCR, 0x80);
	wr(0, 0x01);    /* DLL: 115200 baud */
	wr(1, 0x00);    /* DLM */
	cr_assert_eq(rd(0), 0x01);
	wr(LCR, 0x03);
	cr_assert_eq(be.out_len, 0, "a DLL write is not a character");
	cr_assert_eq(rd(IER), 0, "IER untouched by the DLM write");
}

Test(uart, receive_raises_and_clears_the_interrupt)
{
	wr(MCR, 0x01);      /* DTR: the guest takes input */
	wr(IER, 0x01);
	cr_assert_not(line_level(&irq));
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"a", 1), 1);
	cr_assert(line_level(&irq));
	cr_assert_eq(irq.raises, 1, "the rising edge reached the IOAPIC");
	cr_assert_eq(rd(IIR) & 0x0f, 0x04, "received data available");
	cr_assert(rd(LSR) & 0x01, "DR");
	cr_assert_eq(rd(THR), 'a');
	cr_assert_not(line_level(&irq), "reading the byte clears it");
	cr_assert_eq(rd(IIR) & 0x0f, 0x01);
	uart_receive(&u, (const uint8_t *)"b", 1);
	cr_assert_eq(irq.raises, 2, "a new byte, a new edge");
}

Test(uart, fifo_mode_holds_16_and_asks_for_more)
{
	wr(MCR, 0x01);      /* DTR: the guest takes input */
	uint8_t in[20];
	for (int i = 0; i < 20; i++)
		in[i] = (uint8_t)('a' + i);
	cr_assert_eq(uart_receive(&u, in, 20), 1, "without FIFOs: one byte");
	wr(FCR, 0x07);      /* enable, clear both; trigger level 1 */
	cr_assert_eq(be.rx_space_calls, 1, "clearing made room for what was refused");
	cr_assert_eq(rd(IIR) & 0xc0, 0xc0, "FIFOs enabled");
	cr_assert_eq(uart_receive(&u, in, 20), 16);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(rd(THR), 'a' + i);
	cr_assert_eq(be.rx_space_calls, 2, "one call once room appeared");
	cr_assert_not(rd(LSR) & 0x02, "no overrun: the backend kept the rest");
}

Test(uart, below_trigger_level_reports_timeout)
{
	wr(MCR, 0x01);      /* DTR: the guest takes input */
	wr(FCR, 0xc1);      /* trigger at 14 */
	wr(IER, 0x01);
	uart_receive(&u, (const uint8_t *)"abc", 3);
	cr_assert_eq(rd(IIR) & 0x0f, 0x0c, "character timeout");
	uint8_t many[11] = { 0 };
	uart_receive(&u, many, 11);
	cr_assert_eq(rd(IIR) & 0x0f, 0x04, "at the trigger level: data available");
}

Test(uart, thr_empty_interrupt_rules)
{
	wr(IER, 0x02);
	cr_assert(line_level(&irq), "enabling with THR empty interrupts at once");
	cr_assert_eq(rd(IIR) & 0x0f, 0x02);
	cr_assert_not(line_level(&irq), "reading IIR acknowledges THRE");
	cr_assert_eq(rd(IIR) & 0x0f, 0x01);
	wr(THR, 'x');
	cr_assert(line_level(&irq), "the byte left at once: empty again");
	wr(IER, 0x00);
	cr_assert_not(line_level(&irq), "masked");
}

Test(uart, full_backend_stalls_thre_until_drained)
{
	be.room = 1;
	wr(IER, 0x02);
	rd(IIR);
	wr(THR, '1');
	cr_assert_eq(rd(LSR) & 0x60, 0, "no room: THRE and TEMT clear");
	cr_assert_not(line_level(&irq));
	be.room = 8;
	uart_tx_drained(&u);
	cr_assert(line_level(&irq), "room again: THRE interrupt");
	cr_assert_eq(rd(LSR) & 0x60, 0x60);
}

Test(uart, loopback_echoes_and_mirrors_modem_lines)
{
	wr(MCR, 0x10 | 0x02 | 0x08);      /* LOOP, RTS, OUT2 */
	uint8_t msr = rd(MSR);
	cr_assert(msr & 0x10, "CTS follows RTS");
	cr_assert_not(msr & 0x20, "DSR follows DTR (off)");
	cr_assert(msr & 0x80, "DCD follows OUT2");
	cr_assert_eq(rd(MSR) & 0x0f, 0, "deltas clear on read");
	wr(THR, 'L');
	cr_assert_eq(be.out_len, 0, "nothing reaches the wire in loopback");
	cr_assert(rd(LSR) & 0x01);
	cr_assert_eq(rd(THR), 'L');
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"z", 1), 0, "the outside is cut off");
	wr(MCR, 0x09);      /* OUT2, DTR */
	cr_assert_eq(be.rx_space_calls, 1, "leaving loopback asks for the refused input");
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"z", 1), 1);
}

Test(uart, input_waits_for_dtr)
{
	wr(FCR, 0x01);
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"early", 5), 0, "no DTR yet: held by the backend");
	wr(FCR, 0x07);      /* a driver's set-up clears the FIFOs: nothing to lose */
	cr_assert_eq(be.rx_space_calls, 0);
	wr(MCR, 0x0b);      /* DTR, RTS, OUT2: the port is open */
	cr_assert_eq(be.rx_space_calls, 1, "raising DTR asks for the held input");
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"early", 5), 5);
	cr_assert_eq(rd(THR), 'e');
	wr(MCR, 0x08);      /* DTR dropped: the port closed */
	cr_assert_eq(uart_receive(&u, (const uint8_t *)"late", 4), 0);
}

Test(uart, overrun_sets_lsr_once)
{
	wr(MCR, 0x10);
	wr(THR, '1');
	wr(THR, '2');       /* one-byte holding register: overrun */
	wr(IER, 0x04);
	cr_assert(line_level(&irq), "line status interrupt");
	cr_assert_eq(rd(IIR) & 0x0f, 0x06);
	cr_assert(rd(LSR) & 0x02, "OE");
	cr_assert_not(rd(LSR) & 0x02, "cleared by reading LSR");
	cr_assert_eq(rd(THR), '1', "the first byte survives");
}

Test(uart, wide_accesses_are_split_and_offsets_wrap)
{
	uint8_t v[2] = { 'A', 0x00 };    /* THR then IER */
	uart_access(&u, 0, v, 2, true);
	cr_assert_eq(be.out_len, 1);
	cr_assert_eq(rd(IER), 0);
	uint8_t w = 0x33;
	uart_access(&u, 15, &w, 1, true);   /* offset 15 is register 7 */
	cr_assert_eq(rd(SCR), 0x33);
}

/*
 * The UART's line on a real in-kernel-irqchip pin (KVM_IRQ_LINE, recorded): a
 * raise the host refuses reaches the chip's failed callback, and the UART's
 * next update raises the line again.
 */
Test(uart_irq, refused_raise_is_reported_and_tried_again)
{
	struct irq_chip chip;
	struct irq_source src;
	struct error err = { 0 };
	struct uart uart;
	struct fake_backend fb = { .room = sizeof(fb.out) };
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
	uint8_t v;

	cr_assert_eq(irq_source_init_pin(&src, &chip, AM_COM1_IRQ, false, IRQ_PATH_LINE, -1, NULL,
					 &err), 0, "%s", err.msg);
	uart_init(&uart, &src, &fb_ops, &fb);
	rec_clear(rec);
	rec_fail(rec, REC_LINE, EIO, 1);
	v = 0x02;                                   /* IER: THR empty, already true */
	uart_access(&uart, IER, &v, 1, true);
	cr_assert_eq(rec->failed_calls, 1, "the host's failure reached the owner");
	cr_assert_eq(rec->failed_err, -EIO);
	cr_assert_eq(irq_chip_delivery_errors(&chip), 1);
	cr_assert_eq(rec_count(rec, REC_LINE), 0);
	uart_access(&uart, LSR, &v, 1, false);      /* any access updates the line */
	cr_assert_eq(rec_count(rec, REC_LINE), 1, "raised at the next update");
	cr_assert(rec_nth(rec, REC_LINE, 0).level);
	uart_destroy(&uart);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}
