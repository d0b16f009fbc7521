#include "boot/pvh.h"

#include <errno.h>
#include <string.h>

#include "abi/pvh.h"
#include "firmware/devicetree.h"

int pvh_write_start_info(const struct boot_entry *entry, struct guest_memory *mem,
			 const void *fdt, uint64_t rsdp, struct error *err)
{
	struct e820_entry map[PVH_MAX_MEMMAP];
	int got = fdt_e820(fdt, map, PVH_MAX_MEMMAP);
	if (got < 0)
		return error_set(err, -got, "the device tree has no memory map");
	unsigned n = (unsigned)got;
	struct hvm_start_info info = {
		.magic = XEN_HVM_START_MAGIC_VALUE,
		.version = 1,
		.cmdline_paddr = BOOT_CMDLINE_ADDR,
		.rsdp_paddr = rsdp,
		.memmap_paddr = BOOT_START_INFO_ADDR + sizeof(info),
		.memmap_entries = n,
	};
	size_t map_bytes = n * sizeof(struct hvm_memmap_table_entry);
	struct hvm_modlist_entry module = { .paddr = entry->initrd_addr, .size = entry->initrd_size };
	uint64_t modlist = info.memmap_paddr + map_bytes;
	uint8_t *dst = gpa_to_hva(mem, BOOT_START_INFO_ADDR, sizeof(info) + map_bytes + sizeof(module));

	if (!dst || modlist + sizeof(module) > BOOT_ZERO_PAGE_ADDR)
		return error_set(err, ENOSPC, "no room for the PVH boot data in guest RAM");
	if (entry->initrd_size) {
		info.nr_modules = 1;
		info.modlist_paddr = modlist;
		memcpy(dst + sizeof(info) + map_bytes, &module, sizeof(module));
	}
	memcpy(dst, &info, sizeof(info));
	for (unsigned i = 0; i < n; i++) {
		struct hvm_memmap_table_entry e = { .addr = map[i].addr, .size = map[i].size, .type = map[i].type };
		memcpy(dst + sizeof(info) + i * sizeof(e), &e, sizeof(e));
	}
	return 0;
}

void pvh_cpu_state(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	struct kvm_segment data = boot_flat_segment(BOOT_DS, 0x3, false);

	sregs->cs = boot_flat_segment(BOOT_CS32, 0xb, false);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	boot_system_segments(sregs);
	sregs->cr0 = 0x11;              /* PE, ET: protected mode, paging off */
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rbx = BOOT_START_INFO_ADDR;
	regs->rflags = 0x2;             /* reserved bit 1; IF and VM clear */
}
