/* The reset control port (the other way a PC resets itself is the i8042's pulse: i8042.h). */
#ifndef RINGVM_RESET_H
#define RINGVM_RESET_H

#include <stdbool.h>
#include <stdint.h>

#define RESET_CONTROL_SYS   0x02  /* SYS_RST: a full reset rather than the CPU's alone */
#define RESET_CONTROL_RST   0x04  /* RST_CPU: the reset happens on this bit's 0->1 write */

struct reset_ports {
	void (*on_reset)(void *ctx);
	void *ctx;
	uint8_t control;            /* last value written to the reset control port */
};

/* Bus handler for the reset control register. */
void reset_control_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write);

#endif
