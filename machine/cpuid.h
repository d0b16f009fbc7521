/* Each vCPU's CPUID: KVM's supported set, with its APIC ID, the VM's topology and timing leaves. */
#ifndef RINGVM_CPUID_H
#define RINGVM_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

#define CPUID_TIMING_LEAF  0x40000010u  /* EAX: TSC kHz, EBX: APIC bus kHz (VMware's convention) */
#define CPUID_APIC_BUS_KHZ 1000000u     /* KVM's APIC timer ticks at 1 GHz */

/* Returns a new table for vCPU index of nr_vcpus (one socket, a core each), or NULL on ENOMEM. */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *supported, unsigned index,
				  unsigned nr_vcpus, uint32_t tsc_khz);

/* Finds the entry for function/index in a table; NULL if absent. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *table, uint32_t function, uint32_t index);

#endif
