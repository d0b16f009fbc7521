#include "devices/debug_exit.h"

#include <string.h>

void debug_exit_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct debug_exit *dev = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/*
	 * The region is 4 ports wide only so that a wide write at its first port
	 * reaches it; a write that starts at another carries no status and is ignored.
	 */
	if (offset)
		return;
	/* Little-endian: a 2- or 4-byte write's low byte is data[0]. */
	dev->on_exit(dev->ctx, data[0]);
}
