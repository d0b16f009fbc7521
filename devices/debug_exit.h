/* The debug-exit port: a one-byte write ends the VM with that byte as its status. */
#ifndef RINGVM_DEBUG_EXIT_H
#define RINGVM_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#define DEBUG_EXIT_PORT 0xf4      /* where QEMU's isa-debug-exit is usually put, too */

struct debug_exit {
	void (*on_exit)(void *ctx, int status);
	void *ctx;
};

/* Bus handler: writes call on_exit with the written byte; reads return 0. */
void debug_exit_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
