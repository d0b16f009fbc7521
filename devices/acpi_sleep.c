#include "devices/acpi_sleep.h"

#include <string.h>

#define SLP_EN        0x20
#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK  0x7

void acpi_sleep_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_sleep *dev = opaque;

	if (!is_write) {
		memset(data, 0, len);   /* status: never woken, nothing pending */
		return;
	}
	uint8_t v = data[0];
	/* Other sleep states (suspend to RAM) are not offered: only S5 acts. */
	if (offset == 0 && (v & SLP_EN) && ((v >> SLP_TYP_SHIFT) & SLP_TYP_MASK) == dev->s5_type)
		dev->on_poweroff(dev->ctx);
}
