#include "vmm/boot/pvh.h"

#include <errno.h>
#include <string.h>

#include "vmm/boot/boot.h"
#include "vmm/config.h"

/* Boot GDT slots; the segment registers below are loaded as if from these. */
enum { GDT_NULL, GDT_CODE32, GDT_DATA32, GDT_TSS, GDT_ENTRIES };

static const uint64_t boot_gdt[GDT_ENTRIES] = {
	[GDT_NULL] = 0,
	[GDT_CODE32] = 0x00cf9b000000ffffULL,   /* base 0, 4 GiB, execute/read, accessed */
	[GDT_DATA32] = 0x00cf93000000ffffULL,   /* base 0, 4 GiB, read/write, accessed */
	[GDT_TSS] = 0x00008b0000000067ULL,      /* base 0, 104 bytes, busy 32-bit TSS */
};

int pvh_write_start_info(struct guest_memory *mem, const char *cmdline, struct error *err)
{
	struct e820_entry map[PVH_MAX_MEMMAP];
	size_t cmdline_len = strlen(cmdline) + 1;

	if (cmdline_len > CONFIG_CMDLINE_MAX)
		return error_set(err, E2BIG, "kernel command line is %zu bytes, the limit is %d",
				 cmdline_len - 1, CONFIG_CMDLINE_MAX - 1);
	unsigned n = memory_e820(mem, map, PVH_MAX_MEMMAP);
	struct pvh_start_info info = {
		.magic = PVH_START_MAGIC,
		.version = 1,
		.cmdline_paddr = BOOT_CMDLINE_ADDR,
		.memmap_paddr = BOOT_START_INFO_ADDR + sizeof(info),
		.memmap_entries = n,
	};
	size_t map_bytes = n * sizeof(struct pvh_memmap_entry);
	uint8_t *gdt = gpa_to_hva(mem, BOOT_GDT_ADDR, sizeof(boot_gdt));
	uint8_t *dst = gpa_to_hva(mem, BOOT_START_INFO_ADDR, sizeof(info) + map_bytes);
	uint8_t *line = gpa_to_hva(mem, BOOT_CMDLINE_ADDR, cmdline_len);

	if (!gdt || !dst || !line || BOOT_START_INFO_ADDR + sizeof(info) + map_bytes > BOOT_CMDLINE_ADDR)
		return error_set(err, ENOSPC, "no room for the PVH boot data in guest RAM");
	memcpy(gdt, boot_gdt, sizeof(boot_gdt));
	memcpy(dst, &info, sizeof(info));
	for (unsigned i = 0; i < n; i++) {
		struct pvh_memmap_entry e = { .addr = map[i].addr, .size = map[i].size, .type = map[i].type };
		memcpy(dst + sizeof(info) + i * sizeof(e), &e, sizeof(e));
	}
	memcpy(line, cmdline, cmdline_len);
	return 0;
}

static struct kvm_segment flat_segment(unsigned slot, uint8_t type)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = (uint16_t)(slot * 8),
		.type = type, .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
}

void pvh_cpu_state(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	struct kvm_segment data = flat_segment(GDT_DATA32, 0x3);

	sregs->cs = flat_segment(GDT_CODE32, 0xb);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = (struct kvm_segment){
		.base = 0, .limit = 0x67, .selector = GDT_TSS * 8, .type = 0xb, .present = 1,
	};
	sregs->ldt = (struct kvm_segment){ .type = 0x2, .present = 1, .limit = 0xffff };
	sregs->gdt.base = BOOT_GDT_ADDR;
	sregs->gdt.limit = sizeof(boot_gdt) - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	sregs->cr0 = 0x11;              /* PE, ET: protected mode, paging off */
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rbx = BOOT_START_INFO_ADDR;
	regs->rflags = 0x2;             /* reserved bit 1; IF and VM clear */
}
