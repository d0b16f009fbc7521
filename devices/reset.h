/* The two ways a PC guest resets itself: the i8042's pulse command and the reset control port. */
#ifndef RINGVM_RESET_H
#define RINGVM_RESET_H

#include <stdbool.h>
#include <stdint.h>

#define I8042_CMD_RESET     0xfe  /* pulse the CPU reset line */
#define RESET_CONTROL_SYS   0x02  /* SYS_RST: a full reset rather than the CPU's alone */
#define RESET_CONTROL_RST   0x04  /* RST_CPU: the reset happens on this bit's 0->1 write */

struct reset_ports {
	void (*on_reset)(void *ctx);
	void *ctx;
	uint8_t control;            /* last value written to the reset control port */
};

/* Bus handler for the i8042's data port: no keyboard behind it. */
void i8042_data_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Bus handler for the i8042's command/status port: only the reset command acts. */
void i8042_command_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write);

/* Bus handler for the reset control register. */
void reset_control_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write);

#endif
