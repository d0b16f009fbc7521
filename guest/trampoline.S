/*
 * Real-mode start code for the APs. smp.c copies [trampoline_start,
 * trampoline_end) to a page below 1 MiB and sends its page number as the SIPI
 * vector, so the code runs with %cs = page << 8, %ip = 0 and addresses itself
 * relative to %cs. It only enters protected mode; entry.S does the rest.
 */
#include "layout.h"

	.section .rodata.trampoline, "a"
	.code16
	.globl trampoline_start, trampoline_end
trampoline_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl gdt_ptr - trampoline_start
	movl %cr0, %eax
	orl $1, %eax                    /* PE */
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $ap_start32

	.balign 4
gdt_ptr:
	.word GDT_LIMIT
	.long gdt
trampoline_end:
	.code64
