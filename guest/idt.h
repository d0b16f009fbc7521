/* Interrupt descriptor table: CPU exceptions end the guest, device vectors call handlers. */
#ifndef RINGVM_GUEST_IDT_H
#define RINGVM_GUEST_IDT_H

#include <stdint.h>

/* What isr.S leaves on the stack: saved registers, then the CPU's frame. */
struct interrupt_frame {
	uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

typedef void interrupt_handler(void);

/* Loads isr.S's table on this CPU. */
void idt_load(void);

/* Calls fn for vector (VEC_EXCEPTIONS..NR_VECTORS-1); the dispatcher sends the EOI. */
void idt_set_handler(uint8_t vector, interrupt_handler *fn);

/* Entry from isr.S for every vector. */
void interrupt_dispatch(struct interrupt_frame *frame);

#endif
