/* The hardware-reduced ACPI sleep control register: S5 (soft off) ends the VM. */
#ifndef RINGVM_ACPI_SLEEP_H
#define RINGVM_ACPI_SLEEP_H

#include <stdbool.h>
#include <stdint.h>

struct acpi_sleep {
	void (*on_poweroff)(void *ctx);
	void *ctx;
	uint8_t s5_type;            /* SLP_TYP the DSDT's _S5 gives */
};

/* Bus handler for the two ports: sleep control (offset 0, write) and status (offset 1). */
void acpi_sleep_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
