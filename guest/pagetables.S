/*
 * Identity map of the first 4 GiB with 2 MiB pages, built by the assembler so
 * that the guest spends no instructions on it. Accessed and dirty bits are
 * preset so the page walker never has to write them back.
 */
#include "abi/address_map.h"

#define PT_PRESENT  0x001
#define PT_WRITE    0x002
#define PT_PWT      0x008
#define PT_PCD      0x010
#define PT_ACCESSED 0x020
#define PT_DIRTY    0x040
#define PT_LARGE    0x080
#define PT_TABLE    (PT_PRESENT | PT_WRITE | PT_ACCESSED)
#define PT_2M       (PT_PRESENT | PT_WRITE | PT_ACCESSED | PT_DIRTY | PT_LARGE)

	.section .data.pagetables, "aw"
	.balign 4096
	.globl boot_pml4
boot_pml4:
	.quad boot_pdpt + PT_TABLE
	.fill 511, 8, 0
boot_pdpt:
	.quad boot_pd + 0x0000 + PT_TABLE
	.quad boot_pd + 0x1000 + PT_TABLE
	.quad boot_pd + 0x2000 + PT_TABLE
	.quad boot_pd + 0x3000 + PT_TABLE
	.fill 508, 8, 0
boot_pd:
	.set addr, 0
	.rept 2048
	.if addr >= AM_MMIO32_START        /* PCI windows, ECAM, IOAPIC, LAPIC: uncached */
	.quad addr + PT_2M + PT_PCD + PT_PWT
	.else
	.quad addr + PT_2M
	.endif
	.set addr, addr + 0x200000
	.endr
