/* A 16550A UART: registers, 16-byte receive FIFO, interrupts; the bytes go to a backend. */
#ifndef RINGVM_UART_H
#define RINGVM_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "irq/irq.h"

#define UART_REGS      8
#define UART_FIFO_SIZE 16

/* Where transmitted bytes go and where received ones come from; called with the UART locked. */
struct uart_backend {
	bool (*tx)(void *ctx, uint8_t byte);       /* false: no room, the byte is lost */
	bool (*tx_ready)(void *ctx);               /* room for at least one byte */
	void (*rx_space)(void *ctx);               /* the receive FIFO has room again */
};

struct uart {
	pthread_mutex_t lock;      /* vCPU threads and the I/O thread both touch it */
	uint8_t ier, fcr, lcr, mcr, lsr_errors, msr, scr, dll, dlm;
	uint8_t rx_fifo[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	bool thre_pending;         /* the THR-empty interrupt, until IIR is read or THR written */
	bool rx_wanted;            /* the backend holds bytes it could not deliver */
	struct irq_source *irq;
	const struct uart_backend *backend;
	void *backend_ctx;
};

/* Resets the registers and attaches the interrupt line and backend. */
void uart_init(struct uart *uart, struct irq_source *irq, const struct uart_backend *backend,
	       void *backend_ctx);

/* Frees the lock. */
void uart_destroy(struct uart *uart);

/* Bus handler for the eight registers (byte accesses; wider ones are split). */
void uart_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Delivers received bytes; returns how many fit (the rest: rx_space asks again later). */
size_t uart_receive(struct uart *uart, const uint8_t *bytes, size_t len);

/* Tells the UART the backend has room again, so THR-empty may be signalled. */
void uart_tx_drained(struct uart *uart);

#endif
