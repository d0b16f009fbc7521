/*
 * ACPI tables generated from the machine description (firmware/devicetree): RSDP, XSDT, a
 * hardware-reduced FADT (power-off through the sleep control register, reset
 * through the reset control register), a DSDT with the PCI host bridge, the
 * serial port and _S5, MADT and MCFG. They go in AM_ACPI_BASE's window.
 */
#ifndef RINGVM_ACPI_H
#define RINGVM_ACPI_H

#include <stdint.h>

#include "abi/address_map.h"
#include "services/error.h"
#include "services/memory.h"

#define ACPI_RSDP        AM_ACPI_BASE   /* first: the BIOS area is where Linux scans for it */
#define ACPI_S5_TYPE     5              /* SLP_TYP of _S5: what the sleep register sees */

/* Writes every table into guest RAM at AM_ACPI_BASE from the tree fdt; split: no 8259s. */
int acpi_build(const void *fdt, struct guest_memory *mem, int split_irqchip, struct error *err);

/* The ACPI checksum of len bytes (a table is valid when its sum is 0). */
uint8_t acpi_checksum(const void *data, size_t len);

#endif
