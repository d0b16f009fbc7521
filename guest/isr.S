/*
 * Interrupt entry stubs and the IDT that points at them. Each stub makes the
 * stack look the same whether or not the CPU pushed an error code (it pushes a
 * zero if not), pushes its vector and joins interrupt_common, which saves the
 * registers C may clobber and calls interrupt_dispatch(struct interrupt_frame *).
 * C is built with -mgeneral-regs-only, so no vector or x87 state needs saving.
 *
 * The stubs are ISR_STUB_SIZE apart from LOAD_ADDR, so their addresses are
 * known to the assembler and the IDT is plain data: filling it at run time
 * would cost a millisecond of emulated instructions.
 */
#include "layout.h"

#define ISR_STUB_SIZE 16
#define GATE_INTERRUPT 0x8e     /* present, ring 0, 64-bit interrupt gate: IF cleared */

	.macro stub vector
	.if ((\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30))
	.else
	pushq $0                        /* the CPU pushed no error code */
	.endif
	pushq $\vector
	jmp interrupt_common
	.balign ISR_STUB_SIZE, 0xcc
	.endm

	.section .text.isr, "ax"
	.globl isr_stubs
isr_stubs:
	.set vector, 0
	.rept NR_VECTORS
	stub vector
	.set vector, vector + 1
	.endr

interrupt_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	movq %rsp, %rdi
	cld
	call interrupt_dispatch
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp                  /* vector and error code */
	iretq

	.section .rodata
	.balign 16
	.globl idt
idt:
	.set vector, 0
	.rept NR_VECTORS
	.set stub_addr, LOAD_ADDR + vector * ISR_STUB_SIZE
	.word stub_addr & 0xffff
	.word SEL_CODE64
	.byte 0                         /* no interrupt stack table */
	.byte GATE_INTERRUPT
	.word stub_addr >> 16
	.long 0                         /* the image lies below 4 GiB */
	.long 0
	.set vector, vector + 1
	.endr
