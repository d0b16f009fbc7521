/* Single-instruction helpers: port and MMIO access, CPUID, MSRs, TSC, interrupt flag. */
#ifndef RINGVM_GUEST_CPU_H
#define RINGVM_GUEST_CPU_H

#include <stddef.h>
#include <stdint.h>

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

/* Executes CPUID for leaf and subleaf. */
static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;

	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

/* Writes a model-specific register. */
static inline void wrmsr(uint32_t msr, uint64_t value)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
			 : "memory");
}

/* Writes a byte to an I/O port. */
static inline void outb(uint16_t port, uint8_t value)
{
	__asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

/* Reads a byte from an I/O port. */
static inline uint8_t inb(uint16_t port)
{
	uint8_t value;

	__asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	return value;
}

/* Writes a 32-bit value to an I/O port. */
static inline void outl(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

/* Reads a 32-bit value from an I/O port. */
static inline uint32_t inl(uint16_t port)
{
	uint32_t value;

	__asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
	return value;
}

/* Writes n bytes from buf to one I/O port, in a single instruction. */
static inline void outsb(uint16_t port, const void *buf, size_t n)
{
	__asm__ volatile("rep outsb" : "+S"(buf), "+c"(n) : "d"(port) : "memory");
}

/* Reads a 32-bit device register (memory is identity mapped). */
static inline uint32_t mmio_read32(uintptr_t addr)
{
	return *(volatile uint32_t *)addr;
}

/* Writes a 32-bit device register. */
static inline void mmio_write32(uintptr_t addr, uint32_t value)
{
	*(volatile uint32_t *)addr = value;
}

/* Reads the time-stamp counter (not serializing: it may run ahead of earlier loads). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Tells the CPU (and a hypervisor's pause-loop exiting) that this is a spin loop. */
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

/* Masks interrupts. */
static inline void irq_disable(void)
{
	__asm__ volatile("cli" : : : "memory");
}

/* Unmasks interrupts. */
static inline void irq_enable(void)
{
	__asm__ volatile("sti" : : : "memory");
}

/*
 * Sleeps until an interrupt has been handled, then masks interrupts again.
 * "sti; hlt" cannot lose a wakeup: sti takes effect after the next instruction.
 */
static inline void irq_wait(void)
{
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}

/*
 * Unmasks interrupts and sleeps until one has been handled, leaving them
 * unmasked. Call with interrupts masked, after checking that whatever the
 * wait is for has not happened yet: "sti; hlt" cannot lose a wakeup.
 */
static inline void irq_enable_and_halt(void)
{
	__asm__ volatile("sti; hlt" : : : "memory");
}

/* Stops this CPU for good. */
static inline _Noreturn void cpu_park(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}

#endif
