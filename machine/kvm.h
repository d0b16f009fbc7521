/* The KVM device and VM: capability checks, memory slots, the in-kernel irqchip. */
#ifndef RINGVM_KVM_H
#define RINGVM_KVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "services/error.h"
#include "services/memory.h"

#define KVM_DEVICE_PATH "/dev/kvm"

struct kvm {
	int dev_fd;                     /* /dev/kvm */
	int vm_fd;
	size_t run_size;                /* bytes of each vCPU's shared kvm_run area */
	unsigned max_vcpus;
	uint32_t tsc_khz;               /* 0 when KVM cannot tell */
	struct kvm_cpuid2 *cpuid;       /* KVM_GET_SUPPORTED_CPUID */
};

/* Opens /dev/kvm and checks the API version and every capability ringvm needs. */
int kvm_open(struct kvm *kvm, struct error *err);

/* Creates the VM, its helper pages for real mode, and queries its limits. */
int kvm_create_vm(struct kvm *kvm, struct error *err);

/* Registers every RAM region of mem as a KVM memory slot. */
int kvm_map_memory(struct kvm *kvm, const struct guest_memory *mem, struct error *err);

/* Closes the VM and the device. */
void kvm_close(struct kvm *kvm);

#endif
