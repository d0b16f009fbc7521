/*
 * PVH entry: the VMM starts the BSP here in 32-bit protected mode, paging off,
 * %ebx = physical address of hvm_start_info. APs arrive at ap_start32 from the
 * real-mode trampoline. Both switch to long mode with the static page tables of
 * pagetables.S, take a stack and call C.
 */
#include "layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define CR0_LONG   0x80010033   /* PG | WP | NE | ET | MP | PE; clears CD/NW left by INIT */
#define CR4_PAE    0x20
#define MSR_EFER   0xc0000080
#define EFER_LME   0x100

/* p_align of the PT_NOTE must stay 4: loaders pad the name to that alignment. */
	.section .note.xen, "a", @note
	.balign 4
	.long 4                         /* name size: "Xen\0" */
	.long 4                         /* descriptor size: a 32-bit address */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start32

	.section .text.entry, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	/* PVH leaves the GDTR undefined but %ds flat, so lgdt before reloading segments. */
	lgdt gdt_desc
	xorl %esi, %esi                 /* %esi = 0: BSP */
	jmp 1f

	.globl ap_start32
ap_start32:
	/* The trampoline loaded our GDT already; %ds still has its real-mode base. */
	movl $1, %esi                   /* %esi = 1: AP */
1:	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl $CR0_LONG, %eax
	movl %eax, %cr0
	ljmp $SEL_CODE64, $long_mode

	.code64
long_mode:
	testl %esi, %esi
	jnz ap_long_mode
	movq $bsp_stack + BSP_STACK_SIZE, %rsp
	movl %ebx, %edi                 /* guest_main(start_info physical address) */
	call guest_main
	jmp park

ap_long_mode:
	/* Stacks go by arrival order; C works out which CPU this is from its APIC ID. */
	movl $1, %eax
	lock xaddl %eax, ap_stack_ticket(%rip)
	cmpl $MAX_CPUS - 1, %eax
	jae park
	incl %eax
	shlq $AP_STACK_SHIFT, %rax
	leaq ap_stacks(%rax), %rsp
	call ap_main
park:
	cli
	hlt
	jmp park

	.section .rodata
	.balign 8
	.globl gdt
gdt:
	/* Accessed bits preset so loading a selector never writes the table. */
	.quad 0
	.quad 0x00cf9b000000ffff        /* SEL_CODE32: flat 32-bit code */
	.quad 0x00af9b000000ffff        /* SEL_CODE64: long-mode code */
	.quad 0x00cf93000000ffff        /* SEL_DATA: flat data */
gdt_desc:
	.word GDT_LIMIT
	.quad gdt

	.section .data
	.balign 4
ap_stack_ticket:
	.long 0

	.section .bss.stacks, "aw", @nobits
	.balign 4096
bsp_stack:
	.skip BSP_STACK_SIZE
ap_stacks:
	.skip (MAX_CPUS - 1) << AP_STACK_SHIFT
