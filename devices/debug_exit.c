#include "devices/debug_exit.h"

#include <string.h>

void debug_exit_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct debug_exit *dev = opaque;

	(void)offset;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	/* A wider write still carries its status in the low byte. */
	dev->on_exit(dev->ctx, data[0]);
}
