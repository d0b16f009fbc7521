/* The PVH boot protocol's data: hvm_start_info (version 1) and the 32-bit entry state. */
#ifndef RINGVM_PVH_H
#define RINGVM_PVH_H

#include <linux/kvm.h>
#include <stdint.h>

#include "boot/boot.h"
#include "services/error.h"
#include "services/memory.h"

#define PVH_START_MAGIC   0x336ec578
#define PVH_MAX_MEMMAP    32

/* Layouts from Xen's public arch-x86/hvm/start_info.h, the protocol's definition. */
struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* Writes the start info, memory map and (with an initrd) the module list. */
int pvh_write_start_info(const struct boot_entry *entry, struct guest_memory *mem,
			 const void *fdt, uint64_t rsdp, struct error *err);

/* The state PVH promises at entry: flat 32-bit protected mode, paging off, %ebx = start info. */
void pvh_cpu_state(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
