/* The machine description boot tests hand to boot_write_info: built from their RAM. */
#ifndef RINGVM_TEST_BOOT_TREE_H
#define RINGVM_TEST_BOOT_TREE_H

#include <criterion/criterion.h>

#include "firmware/devicetree.h"

static inline const void *tree(struct guest_memory *mem)
{
	static uint8_t blob[FDT_MAX_SIZE];
	struct error err = { 0 };
	struct machine_facts facts = { .mem = mem, .cpus = 1, .cmdline = "" };
	cr_assert_eq(fdt_build(&facts, blob, &err), 0, "%s", err.msg);
	return blob;
}

#define TEST_RSDP AM_ACPI_BASE

#endif
