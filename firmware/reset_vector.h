/*
 * What a PC's firmware leaves at f000:fff0. Linux reboots a machine with
 * hardware-reduced ACPI and no EFI by jumping there in real mode (its
 * BOOT_EFI -> BOOT_BIOS fallback), so ringvm puts a stub there that asks
 * the reset control register for a reset: the VM then ends.
 */
#ifndef RINGVM_RESET_VECTOR_H
#define RINGVM_RESET_VECTOR_H

#include "abi/address_map.h"
#include "services/error.h"
#include "services/memory.h"

#define RESET_VECTOR_ADDR AM_RESET_VECTOR

/* Writes the stub at RESET_VECTOR_ADDR; -ENOSPC when guest RAM does not reach it. */
int reset_vector_install(struct guest_memory *mem, struct error *err);

#endif
