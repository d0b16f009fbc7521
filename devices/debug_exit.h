/* The debug-exit port: a 1-, 2- or 4-byte write ends the VM with its low byte as the status. */
#ifndef RINGVM_DEBUG_EXIT_H
#define RINGVM_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

struct debug_exit {
	void (*on_exit)(void *ctx, int status);
	void *ctx;
};

/* Bus handler: a write at the port calls on_exit with its low byte; reads return 0. */
void debug_exit_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
