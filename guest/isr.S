/*
 * Interrupt entry stubs and the IDT that points at them. Each stub makes the
 * stack look the same whether or not the CPU pushed an error code (it pushes a
 * zero if not), pushes its vector and joins interrupt_common, which saves the
 * registers C may clobber and calls interrupt_dispatch(struct interrupt_frame *).
 * C is built with -mgeneral-regs-only, so no vector or x87 state needs saving.
 *
 * The stubs are ISR_STUB_SIZE apart from LOAD_ADDR, the irq-test device's
 * handlers IRQDEV_ISR_SIZE apart after them and the virtio handlers
 * VIRTIO_ISR_SIZE apart after those, so their addresses are known to the
 * assembler and the IDT is plain data: filling it at run time would cost a
 * millisecond of emulated instructions.
 */
#include "irqdev.h"
#include "layout.h"

#define ISR_STUB_SIZE   16
#define IRQDEV_ISR_SIZE 128
#define IRQDEV_ISRS     (LOAD_ADDR + VEC_IRQDEV_FIRST * ISR_STUB_SIZE)
#define VIRTIO_ISR_SIZE 64
#define VIRTIO_ISRS     (IRQDEV_ISRS + (VEC_VIRTIO_FIRST - VEC_IRQDEV_FIRST) * IRQDEV_ISR_SIZE)
#define GATE_INTERRUPT  0x8e    /* present, ring 0, 64-bit interrupt gate: IF cleared */
#define LAPIC_EOI       0xfee000b0

	.macro stub vector
	.if ((\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30))
	.else
	pushq $0                        /* the CPU pushed no error code */
	.endif
	pushq $\vector
	jmp interrupt_common
	.balign ISR_STUB_SIZE, 0xcc
	.endm

	/*
	 * Counts an irq-test interrupt on channel, reading the TSC first if tsc,
	 * then ends it. It saves only the registers it uses; iretq restores the
	 * flags that incl and testb change. A level line may interrupt spuriously
	 * (an EOI or an irqfd resample that lands while the line is still up), so
	 * if level, an interrupt counts (its TSC is kept, its line lowered with
	 * ACK) only while the device says the line is up, else it counts apart.
	 */
	.macro irqdev_isr channel, tsc, level
	.set .Lstart, .
	pushq %rax
	.if \tsc | \level
	pushq %rdx
	.endif
	.if \tsc
	rdtsc
	.if \level
	movl %eax, tsc_entry(%rip)
	movl %edx, tsc_entry + 4(%rip)
	.else
	movl %eax, irqdev_tsc(%rip)
	movl %edx, irqdev_tsc + 4(%rip)
	.endif
	.endif
	.if \level
	movl $IRQ_TEST_REG(IRQ_TEST_PENDING), %edx
	inl %dx, %eax
	testb $(1 << \channel), %al
	jnz 1f
	incl irqdev_spurious + 4 * \channel(%rip)
	jmp 2f
1:
	.if \tsc
	movq tsc_entry(%rip), %rax
	movq %rax, irqdev_tsc(%rip)
	.endif
	incl irqdev_count + 4 * \channel(%rip)
	movl $\channel, %eax
	movl $IRQ_TEST_REG(IRQ_TEST_ACK), %edx
	outl %eax, %dx
2:
	.else
	incl irqdev_count + 4 * \channel(%rip)
	.endif
	movl $LAPIC_EOI, %eax
	movl $0, (%rax)
	.if \tsc | \level
	popq %rdx
	.endif
	popq %rax
	iretq
	.org .Lstart + IRQDEV_ISR_SIZE, 0xcc     /* fails to assemble if the handler outgrew it */
	.set irqdev_isrs, irqdev_isrs + 1
	.endm

	/*
	 * A virtio queue or configuration interrupt: the TSC for virtiortt and
	 * a count per vector. Drivers learn what completed from the used ring,
	 * so waking the halted CPU is the rest of the handler's work.
	 */
	.macro virtio_isr index
	.set .Lstart, .
	pushq %rax
	pushq %rdx
	rdtsc
	movl %eax, virtio_irq_tsc(%rip)
	movl %edx, virtio_irq_tsc + 4(%rip)
	incl virtio_irq_count + 4 * \index(%rip)
	movl $LAPIC_EOI, %eax
	movl $0, (%rax)
	popq %rdx
	popq %rax
	iretq
	.org .Lstart + VIRTIO_ISR_SIZE, 0xcc
	.endm

	.section .text.isr, "ax"
	.globl isr_stubs
isr_stubs:
	.set vector, 0
	.rept VEC_IRQDEV_FIRST
	stub vector
	.set vector, vector + 1
	.endr

	/* In vector order from VEC_IRQDEV_FIRST (layout.h), at IRQDEV_ISRS. */
	.org IRQDEV_ISRS - LOAD_ADDR    /* fails to assemble if a stub outgrew its slot */
	.set irqdev_isrs, 0
	irqdev_isr 0, 0, 0              /* VEC_IRQDEV_EDGE */
	irqdev_isr 1, 0, 0
	irqdev_isr 0, 0, 1              /* VEC_IRQDEV_LEVEL */
	irqdev_isr 1, 0, 1
	irqdev_isr 0, 1, 0              /* VEC_IRQDEV_TSC */
	irqdev_isr 0, 1, 1              /* VEC_IRQDEV_TSC_LEVEL */
	.if irqdev_isrs != VEC_VIRTIO_FIRST - VEC_IRQDEV_FIRST
	.error "one irqdev_isr per vector from VEC_IRQDEV_FIRST to VEC_VIRTIO_FIRST"
	.endif

	/* From VEC_VIRTIO_FIRST to NR_VECTORS, at VIRTIO_ISRS. */
	.org VIRTIO_ISRS - LOAD_ADDR
	.set index, 0
	.rept NR_VIRTIO_VECTORS
	virtio_isr index
	.set index, index + 1
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

	/* The TSC a level handler read, kept only if its interrupt counts. */
	.section .bss
	.balign 8
tsc_entry:
	.skip 8

	.section .rodata
	.balign 16
	.globl idt
idt:
	.set vector, 0
	.rept NR_VECTORS
	.if vector < VEC_IRQDEV_FIRST
	.set stub_addr, LOAD_ADDR + vector * ISR_STUB_SIZE
	.elseif vector < VEC_VIRTIO_FIRST
	.set stub_addr, IRQDEV_ISRS + (vector - VEC_IRQDEV_FIRST) * IRQDEV_ISR_SIZE
	.else
	.set stub_addr, VIRTIO_ISRS + (vector - VEC_VIRTIO_FIRST) * VIRTIO_ISR_SIZE
	.endif
	.word stub_addr & 0xffff
	.word SEL_CODE64
	.byte 0                         /* no interrupt stack table */
	.byte GATE_INTERRUPT
	.word stub_addr >> 16
	.long 0                         /* the image lies below 4 GiB */
	.long 0
	.set vector, vector + 1
	.endr
