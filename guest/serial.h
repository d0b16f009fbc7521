/* 16550A UART at AM_PORT_COM1: polled output, interrupt-driven input. */
#ifndef RINGVM_GUEST_SERIAL_H
#define RINGVM_GUEST_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/address_map.h"

/* Register offsets from AM_PORT_COM1 (DLAB clear). */
enum uart_reg {
	UART_RBR = 0, UART_THR = 0, UART_IER = 1, UART_IIR = 2, UART_FCR = 2,
	UART_LCR = 3, UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define UART_IER_RDI   0x01     /* received data available */
#define UART_IER_THRI  0x02     /* transmitter holding register empty */
#define UART_MCR_LOOP  0x10
#define UART_LSR_DR    0x01
#define UART_LSR_ERROR 0x9e     /* overrun, parity, framing, break, FIFO error */
#define UART_LSR_THRE  0x20
#define UART_LSR_TEMT  0x40

/* Sets 8N1 and DTR/RTS/OUT2; turns the FIFOs on unless that would lose received input. */
void serial_init(void);

/* Sends n bytes as they are (no "\r\n" translation); callers serialize (printf's lock). */
void serial_write(const char *buf, size_t n);

/* Waits until the transmitter has sent everything. */
void serial_flush(void);

/* True when serial_init() left the FIFOs on (output then goes 16 bytes per LSR check). */
bool serial_has_fifo(void);

/* Enables exactly the UART interrupts in ier (UART_IER_*), forgetting earlier THR-empty ones. */
void serial_set_interrupts(uint8_t ier);

/* True once a THR-empty interrupt was handled since serial_set_interrupts(). */
bool serial_thr_empty_arrived(void);

/* Moves bytes the receiver holds into the input buffer (polled; at most a FIFO's worth). */
void serial_drain_rx(void);

/* Adds a byte read from the UART outside this driver to the input buffer. */
void serial_keep_input(uint8_t byte);

/* Next received byte from the input buffer, or -1 when it is empty. */
int serial_getc(void);

#endif
