#include "serial.h"

#include "cpu.h"
#include "idt.h"
#include "layout.h"

#define FCR_ENABLE     0x01
#define IIR_NONE       0x01
#define IIR_ID         0x0e
#define IIR_MSI        0x00
#define IIR_THRI       0x02
#define IIR_RDI        0x04
#define IIR_RLSI       0x06
#define IIR_TIMEOUT    0x0c
#define IIR_FIFOS_ON   0xc0
#define LCR_8N1        0x03
#define MCR_DTR_RTS    0x03
#define MCR_OUT2       0x08     /* gates the IRQ line on PC hardware */
#define FIFO_SIZE      16

/* Bytes the THR can take without another LSR read: a VM exit saved per byte. */
static unsigned tx_room;
static unsigned tx_capacity = 1;
static uint8_t ier;
static volatile bool thr_empty_irq;

/* Input buffer, filled by the interrupt handler; only the BSP touches it. */
static uint8_t rx_buf[256];
static uint8_t rx_head, rx_tail;

static uint8_t reg_read(enum uart_reg reg)
{
	return inb(AM_PORT_COM1 + reg);
}

static void reg_write(enum uart_reg reg, uint8_t value)
{
	outb(AM_PORT_COM1 + reg, value);
}

void serial_keep_input(uint8_t byte)
{
	if ((uint8_t)(rx_head + 1) != rx_tail)  /* full: drop the newest */
		rx_buf[rx_head++] = byte;
}

void serial_drain_rx(void)
{
	for (unsigned i = 0; i < FIFO_SIZE && (reg_read(UART_LSR) & UART_LSR_DR); i++)
		serial_keep_input(reg_read(UART_RBR));
}

/* Services every pending cause: an edge-triggered line only rises again once all are clear. */
static void serial_interrupt(void)
{
	for (unsigned i = 0; i < 8; i++) {
		uint8_t iir = reg_read(UART_IIR);

		if (iir & IIR_NONE)
			return;
		switch (iir & IIR_ID) {
		case IIR_THRI:  /* reading IIR cleared it; keep it off so output stays quiet */
			thr_empty_irq = true;
			ier &= ~UART_IER_THRI;
			reg_write(UART_IER, ier);
			break;
		case IIR_RDI:
		case IIR_TIMEOUT:
			serial_drain_rx();
			break;
		case IIR_RLSI:
			reg_read(UART_LSR);
			break;
		case IIR_MSI:
			reg_read(UART_MSR);
			break;
		}
	}
}

void serial_init(void)
{
	uint8_t fifos;

	reg_write(UART_IER, 0);
	/*
	 * Switching the FIFOs on empties them. A byte already waiting (typed or
	 * piped before boot) therefore keeps them off: reading it first would let
	 * the next one arrive just in time to be thrown away.
	 */
	fifos = reg_read(UART_IIR) & IIR_FIFOS_ON;
	if (fifos != IIR_FIFOS_ON && !(reg_read(UART_LSR) & UART_LSR_DR)) {
		reg_write(UART_FCR, FCR_ENABLE);  /* receive trigger level: 1 byte */
		fifos = reg_read(UART_IIR) & IIR_FIFOS_ON;
	}
	if (fifos == IIR_FIFOS_ON)
		tx_capacity = FIFO_SIZE;
	/* A virtual UART ignores the baud rate, so the divisor is left alone. */
	reg_write(UART_LCR, LCR_8N1);
	reg_write(UART_MCR, MCR_DTR_RTS | MCR_OUT2);
	idt_set_handler(VEC_ISA_BASE + AM_COM1_IRQ, serial_interrupt);
}

/*
 * Each chunk goes out with one "rep outsb", which KVM hands to the VMM as a
 * single exit carrying every byte (KVM_EXIT_IO with count > 1).
 */
void serial_write(const char *buf, size_t n)
{
	while (n) {
		if (tx_room == 0) {
			while (!(reg_read(UART_LSR) & UART_LSR_THRE))
				cpu_relax();
			tx_room = tx_capacity;  /* THRE with FIFOs on: the whole FIFO is free */
		}
		size_t chunk = n < tx_room ? n : tx_room;

		outsb(AM_PORT_COM1 + UART_THR, buf, chunk);
		buf += chunk;
		n -= chunk;
		tx_room -= (unsigned)chunk;
	}
}

void serial_flush(void)
{
	const uint8_t idle = UART_LSR_THRE | UART_LSR_TEMT;

	while ((reg_read(UART_LSR) & idle) != idle)
		cpu_relax();
	tx_room = tx_capacity;
}

bool serial_has_fifo(void)
{
	return tx_capacity > 1;
}

void serial_set_interrupts(uint8_t enable)
{
	thr_empty_irq = false;
	ier = enable;
	reg_write(UART_IER, ier);
}

bool serial_thr_empty_arrived(void)
{
	return thr_empty_irq;
}

int serial_getc(void)
{
	if (rx_tail == rx_head)
		return -1;
	return rx_buf[rx_tail++];
}
