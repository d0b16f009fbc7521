/* The PVH boot protocol: hvm_start_info (abi/pvh.h) written, and the 32-bit entry state. */
#ifndef RINGVM_PVH_H
#define RINGVM_PVH_H

#include <linux/kvm.h>
#include <stdint.h>

#include "boot/boot.h"
#include "services/error.h"
#include "services/memory.h"

#define PVH_MAX_MEMMAP    32

/* Writes the start info, memory map and (with an initrd) the module list. */
int pvh_write_start_info(const struct boot_entry *entry, struct guest_memory *mem,
			 const void *fdt, uint64_t rsdp, struct error *err);

/* The state PVH promises at entry: flat 32-bit protected mode, paging off, %ebx = start info. */
void pvh_cpu_state(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
