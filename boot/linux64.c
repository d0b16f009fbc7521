/*
 * Entering a bzImage at its 64-bit entry point: the zero page (boot_params) with
 * the setup header, e820 map, command line and initrd, identity page tables for
 * the first 4 GiB, and long mode with %rsi = the zero page.
 */
#include <errno.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/linux64.h"
#include "firmware/devicetree.h"

/* boot_params offsets (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP         0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_HDR               0x1f1
#define BP_TYPE_OF_LOADER    0x210
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE      0x21c
#define BP_CMD_LINE_PTR      0x228
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128
#define LOADER_UNDEFINED     0xff

#define PTE_PRESENT          0x1
#define PTE_WRITE            0x2
#define PTE_LARGE            0x80

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

int linux64_write_info(const struct boot_entry *entry, struct guest_memory *mem, const void *fdt,
		       uint64_t rsdp, struct error *err)
{
	uint8_t *zp = gpa_to_hva(mem, BOOT_ZERO_PAGE_ADDR, 4096);
	uint64_t *tables = gpa_to_hva(mem, BOOT_PAGE_TABLES, 6 * 4096);
	struct e820_entry map[BP_E820_MAX];

	if (!zp || !tables)
		return error_set(err, ENOSPC, "no room for Linux's boot data in guest RAM");
	memset(zp, 0, 4096);
	memcpy(zp + BP_HDR, entry->setup_header, entry->setup_header_len);
	zp[BP_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	put32(zp + BP_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
	put32(zp + BP_EXT_CMD_LINE_PTR, 0);
	put32(zp + BP_RAMDISK_IMAGE, (uint32_t)entry->initrd_addr);
	put32(zp + BP_RAMDISK_SIZE, (uint32_t)entry->initrd_size);
	put32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(entry->initrd_addr >> 32));
	put32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(entry->initrd_size >> 32));
	int got = fdt_e820(fdt, map, BP_E820_MAX);
	if (got < 0)
		return error_set(err, -got, "the device tree has no memory map");
	unsigned n = (unsigned)got;
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		memcpy(zp + BP_E820_TABLE + 20 * i, &map[i].addr, 8);
		memcpy(zp + BP_E820_TABLE + 20 * i + 8, &map[i].size, 8);
		memcpy(zp + BP_E820_TABLE + 20 * i + 16, &map[i].type, 4);
	}

	memcpy(zp + BP_ACPI_RSDP, &rsdp, 8);

	/*
	 * No SETUP_DTB: a kernel built with CONFIG_OF would register the CPUs and the
	 * IOAPIC from it a second time, after ACPI's MADT. ACPI is the one description.
	 */

	/* PML4 -> one PDPT -> four page directories of 2 MiB pages: 0-4 GiB, identity. */
	memset(tables, 0, 6 * 4096);
	uint64_t *pml4 = tables, *pdpt = tables + 512, *pd = tables + 1024;
	pml4[0] = (BOOT_PAGE_TABLES + 0x1000) | PTE_PRESENT | PTE_WRITE;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PAGE_TABLES + 0x2000 + 0x1000ULL * i) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
	return 0;
}

void linux64_cpu_state(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	struct kvm_segment data = boot_flat_segment(BOOT_DS, 0x3, false);

	sregs->cs = boot_flat_segment(BOOT_CS64, 0xb, true);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	boot_system_segments(sregs);
	sregs->cr0 = 0x80050033;        /* PG, AM, WP, NE, ET, MP, PE */
	sregs->cr3 = BOOT_PAGE_TABLES;
	sregs->cr4 = 0x20;              /* PAE */
	sregs->efer = 0x500;            /* LME, LMA */
	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rsi = BOOT_ZERO_PAGE_ADDR;
	regs->rflags = 0x2;
}
