#include "cpus.h"

#include <stdbool.h>

#include "cpu.h"
#include "layout.h"

#define LEAF_TOPOLOGY  0xb
#define LEVEL_SMT      1
#define LEVEL_CORE     2
#define CPUID_HTT      (1u << 28)   /* leaf 1 EDX: EBX[23:16] is valid */

/*
 * Within a package an APIC ID is core << smt_shift | thread, and core and
 * thread numbers are dense, so logical CPU i has core i / threads and thread
 * i % threads.
 */
static unsigned count = 1;
static unsigned threads_per_core = 1;
static unsigned smt_shift;

static bool read_leaf_b(void)
{
	bool found_core = false;

	if (cpuid(0, 0).eax < LEAF_TOPOLOGY)
		return false;
	for (uint32_t sub = 0; sub < 8; sub++) {
		struct cpuid_regs r = cpuid(LEAF_TOPOLOGY, sub);
		unsigned type = (r.ecx >> 8) & 0xff;

		if (type == 0)
			break;
		if (type == LEVEL_SMT && (r.ebx & 0xffff)) {
			smt_shift = r.eax & 0x1f;
			threads_per_core = r.ebx & 0xffff;
		} else if (type == LEVEL_CORE && (r.ebx & 0xffff)) {
			count = r.ebx & 0xffff;
			found_core = true;
		}
	}
	return found_core;
}

void cpus_detect(void)
{
	if (!read_leaf_b()) {
		struct cpuid_regs leaf1 = cpuid(1, 0);

		smt_shift = 0;
		threads_per_core = 1;
		count = (leaf1.edx & CPUID_HTT) ? (leaf1.ebx >> 16) & 0xff : 1;
	}
	if (count == 0)
		count = 1;
	if (count > MAX_CPUS)
		count = MAX_CPUS;
}

unsigned cpus_count(void)
{
	return count;
}

uint8_t cpus_apic_id(unsigned index)
{
	return (uint8_t)((index / threads_per_core) << smt_shift | index % threads_per_core);
}

int cpus_index_of(uint8_t apic_id)
{
	unsigned thread = apic_id & ((1u << smt_shift) - 1);
	unsigned index = (apic_id >> smt_shift) * threads_per_core + thread;

	if (thread >= threads_per_core || index >= count)
		return -1;
	return (int)index;
}

uint8_t cpu_apic_id(void)
{
	return (uint8_t)(cpuid(1, 0).ebx >> 24);
}
