/*
 * serial: the UART's scratch register, a loopback round trip, the LSR bits
 * around it, and a THR-empty interrupt delivered through IOAPIC pin 4.
 */
#include <stdint.h>

#include "cpu.h"
#include "cpus.h"
#include "ioapic.h"
#include "layout.h"
#include "printf.h"
#include "serial.h"
#include "test.h"
#include "timer.h"

#define LOOPBACK_BYTE  0xa5
#define MCR_NORMAL     0x0b     /* DTR | RTS | OUT2, as serial_init() leaves it */
#define UART_TIMEOUT_NS (100 * NS_PER_MS)
#define IRQ_TIMEOUT_NS  (1 * NS_PER_S)

static char reason[80];

static uint8_t uart_read(enum uart_reg reg)
{
	return inb(AM_PORT_COM1 + reg);
}

static void uart_write(enum uart_reg reg, uint8_t value)
{
	outb(AM_PORT_COM1 + reg, value);
}

static bool rx_ready(void)
{
	return uart_read(UART_LSR) & UART_LSR_DR;
}

static bool tx_idle(void)
{
	const uint8_t idle = UART_LSR_THRE | UART_LSR_TEMT;

	return (uart_read(UART_LSR) & idle) == idle;
}

static const char *check_scratch(void)
{
	static const uint8_t patterns[] = { 0x5a, 0xa5 };

	for (unsigned i = 0; i < sizeof(patterns); i++) {
		uart_write(UART_SCR, patterns[i]);
		uint8_t got = uart_read(UART_SCR);

		if (got != patterns[i]) {
			snprintf(reason, sizeof(reason), "scratch register read 0x%02x after 0x%02x",
				 got, patterns[i]);
			return reason;
		}
	}
	return NULL;
}

/*
 * Sends LOOPBACK_BYTE to itself. QEMU's UART, unlike a real one, keeps taking
 * console input in loopback mode, so other bytes may arrive around ours; they
 * are kept for the input test. The APs are parked or not started, so nobody
 * prints while the line is borrowed.
 */
static const char *check_loopback(void)
{
	uint8_t idle, lsr;
	bool arrived = false;

	serial_flush();
	if (serial_has_fifo()) {
		serial_drain_rx();
	} else if (rx_ready()) {
		/* Reading it would let the next byte in, for ours to overrun. */
		printf("serial: loopback not checked: input waiting and no FIFO\n");
		return NULL;
	}
	idle = uart_read(UART_LSR);
	if ((idle & (UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_ERROR)) !=
	    (UART_LSR_THRE | UART_LSR_TEMT)) {
		snprintf(reason, sizeof(reason), "idle LSR 0x%02x, expected THRE and TEMT", idle);
		return reason;
	}
	uart_write(UART_MCR, MCR_NORMAL | UART_MCR_LOOP);
	uart_write(UART_THR, LOOPBACK_BYTE);
	for (unsigned i = 0; i <= 16 && !arrived && spin_until(rx_ready, UART_TIMEOUT_NS); i++) {
		uint8_t byte = uart_read(UART_RBR);

		if (byte == LOOPBACK_BYTE)
			arrived = true;
		else
			serial_keep_input(byte);
	}
	lsr = uart_read(UART_LSR);
	bool drained = spin_until(tx_idle, UART_TIMEOUT_NS);

	uart_write(UART_MCR, MCR_NORMAL);
	serial_flush();  /* resynchronizes the driver's count of free FIFO slots */
	if (!arrived)
		return "loopback byte never arrived";
	if (lsr & UART_LSR_ERROR) {
		snprintf(reason, sizeof(reason), "LSR 0x%02x after the loopback byte", lsr);
		return reason;
	}
	if (!drained)
		return "transmitter never went idle after the loopback byte";
	return NULL;
}

static const char *check_thr_interrupt(void)
{
	serial_flush();  /* an empty THR raises the interrupt as soon as it is enabled */
	ioapic_route(AM_COM1_IRQ, VEC_ISA_BASE + AM_COM1_IRQ, cpu_apic_id());
	serial_set_interrupts(UART_IER_THRI);
	bool arrived = wait_until(serial_thr_empty_arrived, IRQ_TIMEOUT_NS);

	serial_set_interrupts(0);
	ioapic_mask(AM_COM1_IRQ);
	if (!arrived)
		return "no THR-empty interrupt through IOAPIC pin 4 within 1 s";
	return NULL;
}

static const char *test_serial(void)
{
	const char *failure;

	if ((failure = check_scratch()) || (failure = check_loopback()) ||
	    (failure = check_thr_interrupt()))
		return failure;
	return NULL;
}

GUEST_TEST("serial", test_serial);
