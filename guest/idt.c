#include "idt.h"

#include <stdbool.h>

#include "apic.h"
#include "cpu.h"
#include "cpus.h"
#include "exit.h"
#include "layout.h"
#include "printf.h"

#define VEC_PAGE_FAULT 14
#define ERROR_CODE_VECTORS ((1u << 8) | (0x1fu << 10) | (1u << 17) | (1u << 21) | (3u << 29))

struct __attribute__((packed)) idt_pointer {
	uint16_t limit;
	uint64_t base;
};

extern const char idt[NR_VECTORS * 16];    /* built by isr.S */

static interrupt_handler *handlers[NR_VECTORS];

void idt_load(void)
{
	struct idt_pointer pointer = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" : : "m"(pointer));
}

void idt_set_handler(uint8_t vector, interrupt_handler *fn)
{
	if (vector >= VEC_EXCEPTIONS && vector < NR_VECTORS)
		handlers[vector] = fn;
}

static _Noreturn void report_exception(const struct interrupt_frame *f)
{
	static int reporter = -1;   /* APIC ID of the CPU reporting, so one line gets out whole */
	int me = cpu_apic_id();
	int expected = -1;

	if (!__atomic_compare_exchange_n(&reporter, &expected, me, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		if (expected == me)
			guest_exit(EXIT_EXCEPTION);  /* faulted while reporting: skip the line */
		cpu_park();                      /* another CPU's report ends the guest */
	}
	if (f->vector == VEC_PAGE_FAULT) {
		uint64_t cr2;

		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		printf_forced("guest: exception %lu at 0x%016lx (error 0x%lx, address 0x%016lx)\n",
			      f->vector, f->rip, f->error_code, cr2);
	} else if (ERROR_CODE_VECTORS & (1u << f->vector)) {
		printf_forced("guest: exception %lu at 0x%016lx (error 0x%lx)\n",
			      f->vector, f->rip, f->error_code);
	} else {
		printf_forced("guest: exception %lu at 0x%016lx\n", f->vector, f->rip);
	}
	guest_exit(EXIT_EXCEPTION);
}

void interrupt_dispatch(struct interrupt_frame *frame)
{
	if (frame->vector < VEC_EXCEPTIONS)
		report_exception(frame);
	if (frame->vector == VEC_SPURIOUS)
		return;  /* the APIC wants no EOI for it */
	if (handlers[frame->vector])
		handlers[frame->vector]();
	lapic_eoi();
}
