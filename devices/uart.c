#include "devices/uart.h"

#include <string.h>

enum {
	REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3,
	REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7,
};

#define IER_RDA        0x01
#define IER_THRE       0x02
#define IER_RLS        0x04
#define IER_MSI        0x08
#define IIR_NONE       0x01
#define IIR_MSI        0x00
#define IIR_THRE       0x02
#define IIR_RDA        0x04
#define IIR_RLS        0x06
#define IIR_TIMEOUT    0x0c
#define IIR_FIFO_ON    0xc0
#define FCR_ENABLE     0x01
#define FCR_CLEAR_RX   0x02
#define LCR_DLAB       0x80
#define MCR_DTR        0x01
#define MCR_RTS        0x02
#define MCR_OUT1       0x04
#define MCR_OUT2       0x08
#define MCR_LOOP       0x10
#define LSR_DR         0x01
#define LSR_OE         0x02
#define LSR_THRE       0x20
#define LSR_TEMT       0x40
#define MSR_DELTAS     0x0f
#define MSR_CTS        0x10
#define MSR_DSR        0x20
#define MSR_RI         0x40
#define MSR_DCD        0x80

static const unsigned rx_trigger_levels[4] = { 1, 4, 8, 14 };

static bool fifo_enabled(const struct uart *u)
{
	return u->fcr & FCR_ENABLE;
}

static unsigned rx_capacity(const struct uart *u)
{
	return fifo_enabled(u) ? UART_FIFO_SIZE : 1;
}

static bool tx_ready(const struct uart *u)
{
	/* In loopback the transmitter feeds our own receiver, never the backend. */
	if (u->mcr & MCR_LOOP)
		return true;
	return u->backend->tx_ready(u->backend_ctx);
}

static uint8_t line_status(const struct uart *u)
{
	uint8_t lsr = u->lsr_errors;

	if (u->rx_count)
		lsr |= LSR_DR;
	if (tx_ready(u))
		lsr |= LSR_THRE | LSR_TEMT;
	return lsr;
}

/* The highest-priority pending interrupt, as IIR reports it. */
static uint8_t pending_interrupt(const struct uart *u)
{
	if ((u->ier & IER_RLS) && (u->lsr_errors & LSR_OE))
		return IIR_RLS;
	if ((u->ier & IER_RDA) && u->rx_count) {
		/*
		 * Below the trigger level a real 16550A waits four character times and
		 * reports a timeout; there is no reason to make the guest wait here.
		 */
		if (fifo_enabled(u) && u->rx_count < rx_trigger_levels[u->fcr >> 6])
			return IIR_TIMEOUT;
		return IIR_RDA;
	}
	if ((u->ier & IER_THRE) && u->thre_pending)
		return IIR_THRE;
	if ((u->ier & IER_MSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NONE;
}

static void update_irq(struct uart *u)
{
	/*
	 * On a PC, MCR.OUT2 gates the line, but QEMU, kvmtool and Firecracker
	 * ignore it and guests have come to rely on that; so do we.
	 * A refused change is the irq layer's to count, log or stop the VM for (it
	 * calls the chip's failed); it forgets the level it could not set, so the
	 * next update here tries again. Nothing is left for the UART to do with it.
	 */
	int r = irq_set_level(u->irq, pending_interrupt(u) != IIR_NONE);
	(void)r;
}

static void update_loopback_msr(struct uart *u)
{
	uint8_t old = u->msr, now = 0;

	if (!(u->mcr & MCR_LOOP)) {
		/* With nothing attached to the modem lines, report a ready peer. */
		now = MSR_CTS | MSR_DSR | MSR_DCD;
	} else {
		now |= (u->mcr & MCR_RTS) ? MSR_CTS : 0;
		now |= (u->mcr & MCR_DTR) ? MSR_DSR : 0;
		now |= (u->mcr & MCR_OUT1) ? MSR_RI : 0;
		now |= (u->mcr & MCR_OUT2) ? MSR_DCD : 0;
	}
	uint8_t deltas = old & MSR_DELTAS;
	deltas |= ((old ^ now) & MSR_CTS) ? 0x01 : 0;
	deltas |= ((old ^ now) & MSR_DSR) ? 0x02 : 0;
	deltas |= ((old & MSR_RI) && !(now & MSR_RI)) ? 0x04 : 0;   /* trailing edge of RI */
	deltas |= ((old ^ now) & MSR_DCD) ? 0x08 : 0;
	u->msr = now | deltas;
}

static bool rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count >= rx_capacity(u)) {
		u->lsr_errors |= LSR_OE;
		return false;
	}
	u->rx_fifo[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart *u)
{
	if (!u->rx_count)
		return 0;
	uint8_t byte = u->rx_fifo[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	if (u->rx_wanted) {
		u->rx_wanted = false;
		u->backend->rx_space(u->backend_ctx);
	}
	return byte;
}

static void rx_clear(struct uart *u)
{
	bool had = u->rx_count;

	u->rx_head = u->rx_count = 0;
	if (had && u->rx_wanted) {
		u->rx_wanted = false;
		u->backend->rx_space(u->backend_ctx);
	}
}

static void write_thr(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP)
		rx_push(u, byte);
	else
		(void)u->backend->tx(u->backend_ctx, byte);   /* a full backend drops, like a busy wire */
	/* The byte left the holding register at once, so it is empty again. */
	u->thre_pending = tx_ready(u);
}

static uint8_t uart_read(struct uart *u, unsigned reg)
{
	uint8_t v = 0;

	switch (reg) {
	case REG_RBR_THR:
		v = (u->lcr & LCR_DLAB) ? u->dll : rx_pop(u);
		break;
	case REG_IER:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case REG_IIR_FCR:
		v = pending_interrupt(u);
		if (v == IIR_THRE)
			u->thre_pending = false;   /* reading IIR acknowledges THR-empty */
		if (fifo_enabled(u))
			v |= IIR_FIFO_ON;
		break;
	case REG_LCR:
		v = u->lcr;
		break;
	case REG_MCR:
		v = u->mcr;
		break;
	case REG_LSR:
		v = line_status(u);
		u->lsr_errors = 0;
		break;
	case REG_MSR:
		v = u->msr;
		u->msr &= ~MSR_DELTAS;
		break;
	case REG_SCR:
		v = u->scr;
		break;
	}
	return v;
}

static void uart_write(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			write_thr(u, v);
		break;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Enabling THR-empty while the holder is empty interrupts at once. */
		if ((v & IER_THRE) && !(u->ier & IER_THRE) && tx_ready(u))
			u->thre_pending = true;
		u->ier = v & 0x0f;
		break;
	case REG_IIR_FCR:
		if ((v ^ u->fcr) & FCR_ENABLE)
			rx_clear(u);       /* toggling the FIFOs empties them */
		if (v & FCR_CLEAR_RX)
			rx_clear(u);
		u->fcr = v & 0xc9;         /* enable, DMA mode, trigger level */
		break;
	case REG_LCR:
		u->lcr = v;
		break;
	case REG_MCR: {
		bool was_open = (u->mcr & (MCR_LOOP | MCR_DTR)) == MCR_DTR;
		bool was_loop = u->mcr & MCR_LOOP;
		u->mcr = v & 0x1f;
		update_loopback_msr(u);
		bool open = (u->mcr & (MCR_LOOP | MCR_DTR)) == MCR_DTR;
		if (open && !was_open && u->rx_wanted) {
			u->rx_wanted = false;       /* input held for DTR may come now */
			u->backend->rx_space(u->backend_ctx);
		}
		if (was_loop == !!(u->mcr & MCR_LOOP))
			break;
		/* The transmitter now feeds someone else, who may have room. */
		if ((u->ier & IER_THRE) && tx_ready(u))
			u->thre_pending = true;
		if (u->rx_wanted && !(u->mcr & MCR_LOOP)) {
			u->rx_wanted = false;
			u->backend->rx_space(u->backend_ctx);
		}
		break;
	}
	case REG_SCR:
		u->scr = v;
		break;
	default:
		break;              /* LSR and MSR are read-only */
	}
}

void uart_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 0; i < len; i++) {
		unsigned reg = (unsigned)(offset + i) % UART_REGS;
		if (is_write)
			uart_write(u, reg, data[i]);
		else
			data[i] = uart_read(u, reg);
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart_receive(struct uart *uart, const uint8_t *bytes, size_t len)
{
	size_t taken = 0;

	pthread_mutex_lock(&uart->lock);
	/*
	 * In loopback the receiver hears only our own transmitter. Otherwise input waits
	 * for Data Terminal Ready, as a modem's does: a guest raises DTR once its driver
	 * has set the port up (Linux on opening the tty), so nothing typed or piped in
	 * early is lost to the FIFO resets of that set-up.
	 */
	if ((uart->mcr & (MCR_LOOP | MCR_DTR)) == MCR_DTR) {
		while (taken < len && uart->rx_count < rx_capacity(uart))
			rx_push(uart, bytes[taken++]);
	}
	if (taken < len)
		uart->rx_wanted = true;
	update_irq(uart);
	pthread_mutex_unlock(&uart->lock);
	return taken;
}

void uart_tx_drained(struct uart *uart)
{
	pthread_mutex_lock(&uart->lock);
	if ((uart->ier & IER_THRE) && tx_ready(uart))
		uart->thre_pending = true;
	update_irq(uart);
	pthread_mutex_unlock(&uart->lock);
}

void uart_init(struct uart *uart, struct irq_source *irq, const struct uart_backend *backend,
	       void *backend_ctx)
{
	memset(uart, 0, sizeof(*uart));
	pthread_mutex_init(&uart->lock, NULL);
	uart->irq = irq;
	uart->backend = backend;
	uart->backend_ctx = backend_ctx;
	update_loopback_msr(uart);
	uart->msr &= ~MSR_DELTAS;
}

void uart_destroy(struct uart *uart)
{
	pthread_mutex_destroy(&uart->lock);
}
