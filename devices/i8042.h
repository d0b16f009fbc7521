/*
 * The i8042 keyboard controller and a PS/2 keyboard behind it: enough for Linux's
 * i8042 and atkbd drivers to probe a keyboard (and find no AUX port), so that the
 * host can press Ctrl+Alt+Del, the way a PC asks its OS to shut down. It is also
 * one of the two ways a PC guest resets itself (the CPU-reset pulse, 0xfe).
 */
#ifndef RINGVM_I8042_H
#define RINGVM_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "irq/irq.h"

#define I8042_CMD_RESET  0xfe  /* pulse the CPU reset line */
#define I8042_KBD_BUFFER 16    /* a PS/2 keyboard's own buffer, in bytes */

struct i8042 {
	pthread_mutex_t lock;       /* vCPU threads, and the thread that sends keys */
	struct irq_source *irq;     /* ISA IRQ 1: the output buffer holds a byte */
	void (*on_reset)(void *ctx);
	void *ctx;
	/* The controller. */
	uint8_t ctr;                /* its command byte */
	uint8_t out;                /* the output buffer, and whether it holds a byte */
	bool out_full, out_from_kbd;
	bool last_was_command;      /* status bit 3: the last write went to port 0x64 */
	uint8_t pending;            /* a command waiting for its data byte (0: none) */
	uint8_t output_port;
	/* The keyboard. */
	uint8_t kbd[I8042_KBD_BUFFER];
	unsigned kbd_head, kbd_count;
	uint8_t kbd_pending;        /* a keyboard command waiting for its argument (0: none) */
	uint8_t kbd_set;            /* scan code set, 1 or 2 */
	bool kbd_scanning;
};

/* A controller as firmware leaves it: keyboard enabled, translating, its IRQ on. */
void i8042_init(struct i8042 *k, struct irq_source *irq, void (*on_reset)(void *ctx), void *ctx);

/* Frees the lock. */
void i8042_destroy(struct i8042 *k);

/* Bus handler for the data port (0x60). */
void i8042_data_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Bus handler for the command/status port (0x64). */
void i8042_command_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write);

/*
 * From any thread: presses and releases Ctrl+Alt+Del in the scan code set the guest
 * chose. 0, -EAGAIN while the guest has the keyboard off, -ENOBUFS without room.
 */
int i8042_send_ctrl_alt_del(struct i8042 *k);

#endif
