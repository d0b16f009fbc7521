#include <criterion/criterion.h>
#include <stdlib.h>

#include "machine/cpuid.h"

/* A small "supported" table shaped like KVM's on an Intel host. */
static struct kvm_cpuid2 *supported(bool amd)
{
	struct kvm_cpuid2 *t = calloc(1, sizeof(*t) + 16 * sizeof(t->entries[0]));
	struct kvm_cpuid_entry2 e[] = {
		{ .function = 0, .eax = 0x1f, .ebx = amd ? 0x68747541 : 0x756e6547 },
		{ .function = 1, .eax = 0x806ec, .ebx = 0x00ff0800, .ecx = 0x80000000, .edx = 0 },
		{ .function = 4, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0xfc004121 },
		{ .function = 4, .index = 3, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0xfc03c163 },
		{ .function = 0xb, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 2, .edx = 7 },
		{ .function = 0x1f, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 2 },
		{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b },
		{ .function = 0x80000008, .eax = 0x3027, .ecx = 0x7007 },
		{ .function = 0x8000001e, .eax = 9, .ebx = 0x105 },
	};
	t->nent = sizeof(e) / sizeof(e[0]);
	memcpy(t->entries, e, sizeof(e));
	return t;
}

Test(cpuid, apic_id_and_logical_count_in_leaf1)
{
	struct kvm_cpuid2 *s = supported(false);
	struct kvm_cpuid2 *t = cpuid_for_vcpu(s, 5, 6, 0);
	struct kvm_cpuid_entry2 *e = cpuid_find(t, 1, 0);
	cr_assert_eq(e->ebx >> 24, 5, "APIC ID");
	cr_assert_eq((e->ebx >> 16) & 0xff, 8, "IDs per package: next power of two");
	cr_assert_eq(e->ebx & 0xffff, 0x0800, "CLFLUSH size kept");
	cr_assert(e->edx & (1u << 28), "HTT");
	cr_assert(e->ecx & (1u << 31), "hypervisor bit");
	free(t);

	t = cpuid_for_vcpu(s, 0, 1, 0);
	e = cpuid_find(t, 1, 0);
	cr_assert_eq(e->ebx >> 24, 0);
	cr_assert_eq((e->ebx >> 16) & 0xff, 1);
	cr_assert_not(e->edx & (1u << 28), "no HTT with one CPU");
	free(t);
	free(s);
}

Test(cpuid, topology_leaf_describes_n_cores)
{
	struct kvm_cpuid2 *s = supported(false);
	struct kvm_cpuid2 *t = cpuid_for_vcpu(s, 3, 4, 0);
	struct kvm_cpuid_entry2 *smt = cpuid_find(t, 0xb, 0);
	struct kvm_cpuid_entry2 *core = cpuid_find(t, 0xb, 1);
	struct kvm_cpuid_entry2 *end = cpuid_find(t, 0xb, 2);
	cr_assert_not_null(smt);
	cr_assert_not_null(core);
	cr_assert_not_null(end);
	cr_assert_eq(smt->ebx, 1);
	cr_assert_eq(smt->ecx, 0x100);
	cr_assert_eq(smt->edx, 3, "x2APIC ID");
	cr_assert_eq(core->eax, 2, "shift: 4 cores need 2 bits");
	cr_assert_eq(core->ebx, 4);
	cr_assert_eq(core->ecx, 0x201);
	cr_assert_eq(end->ebx, 0);
	cr_assert_eq(end->ecx & 0xff00, 0, "invalid level ends the list");
	cr_assert_null(cpuid_find(t, 0x1f, 0), "0x1f removed so guests use 0xb");
	free(t);
	free(s);
}

Test(cpuid, cache_sharing_in_leaf4)
{
	struct kvm_cpuid2 *s = supported(false);
	struct kvm_cpuid2 *t = cpuid_for_vcpu(s, 0, 3, 0);
	struct kvm_cpuid_entry2 *l1 = cpuid_find(t, 4, 0), *l3 = cpuid_find(t, 4, 3);
	cr_assert_eq(l1->eax >> 26, 3, "cores per package - 1, power of two");
	cr_assert_eq((l1->eax >> 14) & 0xfff, 0, "L1 per core");
	cr_assert_eq((l3->eax >> 14) & 0xfff, 3, "L3 shared by the package");
	cr_assert_eq(l1->eax & 0x3fff, 0x0121, "cache type and level kept");
	free(t);
	free(s);
}

Test(cpuid, timing_leaf_when_tsc_known)
{
	struct kvm_cpuid2 *s = supported(false);
	struct kvm_cpuid2 *t = cpuid_for_vcpu(s, 0, 1, 2500000);
	cr_assert_eq(cpuid_find(t, 0x40000000, 0)->eax, CPUID_TIMING_LEAF);
	struct kvm_cpuid_entry2 *e = cpuid_find(t, CPUID_TIMING_LEAF, 0);
	cr_assert_not_null(e);
	cr_assert_eq(e->eax, 2500000);
	cr_assert_eq(e->ebx, CPUID_APIC_BUS_KHZ);
	free(t);
	t = cpuid_for_vcpu(s, 0, 1, 0);
	cr_assert_null(cpuid_find(t, CPUID_TIMING_LEAF, 0), "no leaf without a frequency");
	cr_assert_eq(cpuid_find(t, 0x40000000, 0)->eax, 0x40000001);
	free(t);
	free(s);
}

Test(cpuid, amd_core_count)
{
	struct kvm_cpuid2 *s = supported(true);
	struct kvm_cpuid2 *t = cpuid_for_vcpu(s, 2, 4, 0);
	struct kvm_cpuid_entry2 *e = cpuid_find(t, 0x80000008, 0);
	cr_assert_eq(e->ecx & 0xff, 3, "NC = cores - 1");
	cr_assert_eq((e->ecx >> 12) & 0xf, 2, "ApicIdSize");
	cr_assert_eq(cpuid_find(t, 0x8000001e, 0)->eax, 2, "extended APIC ID");
	free(t);
	/* Intel hosts keep 0x80000008's ECX as KVM gave it. */
	struct kvm_cpuid2 *si = supported(false);
	t = cpuid_for_vcpu(si, 2, 4, 0);
	cr_assert_eq(cpuid_find(t, 0x80000008, 0)->ecx, 0x7007);
	free(t);
	free(si);
	free(s);
}

Test(cpuid, table_of_the_host_is_not_modified)
{
	struct kvm_cpuid2 *s = supported(false);
	struct kvm_cpuid2 *copy = supported(false);
	free(cpuid_for_vcpu(s, 7, 8, 1000));
	cr_assert_eq(s->nent, copy->nent);
	cr_assert_arr_eq(s->entries, copy->entries, s->nent * sizeof(s->entries[0]));
	free(copy);
	free(s);
}
