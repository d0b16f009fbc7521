#include "apic.h"

#include "abi/address_map.h"
#include "cpu.h"
#include "layout.h"

#define REG_EOI        0x0b0
#define REG_SVR        0x0f0
#define REG_ICR_LOW    0x300
#define REG_ICR_HIGH   0x310
#define REG_LVT_TIMER  0x320
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CUR  0x390
#define REG_TIMER_DIV  0x3e0
#define SVR_ENABLE     0x100
#define ICR_PENDING    0x1000
#define TIMER_DIV_1    0x0b
#define LVT_TSC_DEADLINE (2u << 17)
#define MSR_TSC_DEADLINE 0x6e0

static uint32_t reg_read(unsigned reg)
{
	return mmio_read32(AM_LAPIC_BASE + reg);
}

static void reg_write(unsigned reg, uint32_t value)
{
	mmio_write32(AM_LAPIC_BASE + reg, value);
}

void lapic_enable(void)
{
	reg_write(REG_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

void lapic_init(void)
{
	lapic_enable();
	reg_write(REG_TIMER_DIV, TIMER_DIV_1);
	reg_write(REG_LVT_TIMER, VEC_TIMER);  /* one-shot, unmasked */
}

void lapic_eoi(void)
{
	reg_write(REG_EOI, 0);
}

void lapic_send_ipi(uint8_t apic_id, uint32_t command)
{
	reg_write(REG_ICR_HIGH, (uint32_t)apic_id << 24);
	reg_write(REG_ICR_LOW, command);
	/* KVM sends at once and reads back idle; real APICs may take a moment. */
	while (reg_read(REG_ICR_LOW) & ICR_PENDING)
		cpu_relax();
}

void lapic_timer_oneshot(uint32_t ticks)
{
	reg_write(REG_TIMER_INIT, ticks);
}

uint32_t lapic_timer_remaining(void)
{
	return reg_read(REG_TIMER_CUR);
}

void lapic_timer_deadline(uint64_t tsc)
{
	reg_write(REG_LVT_TIMER, LVT_TSC_DEADLINE | VEC_DEADLINE);
	/* The SDM asks for a fence between the LVT write and the deadline MSR write. */
	__asm__ volatile("mfence" : : : "memory");
	wrmsr(MSR_TSC_DEADLINE, tsc);
}

void lapic_timer_use_oneshot(void)
{
	wrmsr(MSR_TSC_DEADLINE, 0);
	reg_write(REG_LVT_TIMER, VEC_TIMER);
}
