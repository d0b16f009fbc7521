#include "devices/reset.h"

#include <string.h>

void reset_control_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write)
{
	struct reset_ports *dev = opaque;

	(void)offset;
	if (!is_write) {
		memset(data, 0, len);
		data[0] = dev->control;
		return;
	}
	uint8_t old = dev->control;
	dev->control = data[0] & ~RESET_CONTROL_RST;   /* RST_CPU reads back as 0 */
	if (!(old & RESET_CONTROL_RST) && (data[0] & RESET_CONTROL_RST))
		dev->on_reset(dev->ctx);
}
