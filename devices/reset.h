/* The two ways a PC guest resets itself: the i8042's pulse command and port 0xCF9. */
#ifndef RINGVM_RESET_H
#define RINGVM_RESET_H

#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT     0x60
#define I8042_COMMAND_PORT  0x64
#define I8042_CMD_RESET     0xfe  /* pulse the CPU reset line */
#define RESET_CONTROL_PORT  0xcf9
#define RESET_CONTROL_RST   0x04  /* RST_CPU: the reset happens on this bit's 0->1 write */

struct reset_ports {
	void (*on_reset)(void *ctx);
	void *ctx;
	uint8_t control;            /* last value written to 0xCF9 */
};

/* Bus handler for the i8042's data port (0x60): no keyboard behind it. */
void i8042_data_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Bus handler for the i8042's command/status port (0x64): only the reset command acts. */
void i8042_command_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write);

/* Bus handler for the reset control register (0xCF9). */
void reset_control_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write);

#endif
