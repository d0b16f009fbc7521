#include "machine/cpuid.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define EXTRA_ENTRIES 8   /* room for the leaves this file adds */

static unsigned ceil_log2(unsigned n)
{
	unsigned shift = 0;

	while ((1u << shift) < n)
		shift++;
	return shift;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *table, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < table->nent; i++) {
		struct kvm_cpuid_entry2 *e = &table->entries[i];
		bool indexed = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		if (e->function == function && (!indexed || e->index == index))
			return e;
	}
	return NULL;
}

static void cpuid_remove(struct kvm_cpuid2 *table, uint32_t function)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < table->nent; i++)
		if (table->entries[i].function != function)
			table->entries[kept++] = table->entries[i];
	table->nent = kept;
}

/* Appends an entry; the caller allocated EXTRA_ENTRIES spare slots. */
static void cpuid_append(struct kvm_cpuid2 *table, struct kvm_cpuid_entry2 entry)
{
	table->entries[table->nent++] = entry;
}

static bool vendor_is_amd(struct kvm_cpuid2 *table)
{
	struct kvm_cpuid_entry2 *leaf0 = cpuid_find(table, 0, 0);
	/* "AuthenticAMD" and "HygonGenuine" both keep AMD's topology leaves. */
	return leaf0 && (leaf0->ebx == 0x68747541 || leaf0->ebx == 0x6f677948);
}

static void patch_leaf1(struct kvm_cpuid2 *t, unsigned apic_id, unsigned nr)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(t, 1, 0);

	if (!e)
		return;
	unsigned ids = 1u << ceil_log2(nr);   /* addressable IDs per package */
	e->ebx = (e->ebx & 0x0000ffff) | (apic_id << 24) | ((ids > 255 ? 255 : ids) << 16);
	if (nr > 1)
		e->edx |= 1u << 28;           /* HTT: the ID field above is valid */
	else
		e->edx &= ~(1u << 28);
	e->ecx |= 1u << 31;                   /* running under a hypervisor */
}

static void patch_cache_leaf4(struct kvm_cpuid2 *t, unsigned nr)
{
	unsigned cores = 1u << ceil_log2(nr);

	for (uint32_t i = 0; i < t->nent; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];
		if (e->function != 4 || !(e->eax & 0x1f))
			continue;
		unsigned level = (e->eax >> 5) & 7;
		unsigned sharing = level >= 3 ? cores : 1;   /* L1/L2 per core, L3 per package */
		e->eax = (e->eax & 0x3fff) | ((sharing - 1) << 14) | ((cores - 1) << 26);
	}
}

static void set_topology_leaf(struct kvm_cpuid2 *t, uint32_t function, unsigned apic_id,
			      unsigned nr)
{
	/* Level 0: one thread per core; level 1: nr cores per package; then the end marker. */
	const uint32_t eax[3] = { 0, ceil_log2(nr), 0 };
	const uint32_t ebx[3] = { 1, nr, 0 };
	const uint32_t type[3] = { 1, 2, 0 };

	cpuid_remove(t, function);
	for (uint32_t level = 0; level < 3; level++)
		cpuid_append(t, (struct kvm_cpuid_entry2){
			.function = function, .index = level,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
			.eax = eax[level], .ebx = ebx[level],
			.ecx = (type[level] << 8) | level, .edx = apic_id,
		});
}

static void patch_amd_topology(struct kvm_cpuid2 *t, unsigned apic_id, unsigned nr)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(t, 0x80000008, 0);

	if (e)
		e->ecx = (e->ecx & ~0xf0ffu) | (ceil_log2(nr) << 12) | (nr - 1);
	e = cpuid_find(t, 0x8000001e, 0);
	if (e) {
		e->eax = apic_id;
		e->ebx = apic_id;   /* core ID; one thread per core */
		e->ecx = 0;         /* node 0, one node per package */
	}
}

static void patch_timing(struct kvm_cpuid2 *t, uint32_t tsc_khz)
{
	struct kvm_cpuid_entry2 *base = cpuid_find(t, 0x40000000, 0);

	if (!base || !tsc_khz)
		return;
	if (base->eax < CPUID_TIMING_LEAF)
		base->eax = CPUID_TIMING_LEAF;
	cpuid_remove(t, CPUID_TIMING_LEAF);
	cpuid_append(t, (struct kvm_cpuid_entry2){
		.function = CPUID_TIMING_LEAF, .eax = tsc_khz, .ebx = CPUID_APIC_BUS_KHZ,
	});
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned index,
				  unsigned nr_vcpus, uint32_t tsc_khz)
{
	size_t entries = supported->nent + EXTRA_ENTRIES;
	struct kvm_cpuid2 *t = calloc(1, sizeof(*t) + entries * sizeof(t->entries[0]));

	if (!t)
		return NULL;
	t->nent = supported->nent;
	memcpy(t->entries, supported->entries, supported->nent * sizeof(t->entries[0]));

	unsigned apic_id = index;
	patch_leaf1(t, apic_id, nr_vcpus);
	patch_cache_leaf4(t, nr_vcpus);
	set_topology_leaf(t, 0xb, apic_id, nr_vcpus);
	/* Without a 0x1f leaf, guests fall back to 0xb, which is the one kept right. */
	cpuid_remove(t, 0x1f);
	if (vendor_is_amd(t))
		patch_amd_topology(t, apic_id, nr_vcpus);
	patch_timing(t, tsc_khz);
	return t;
}
