/* A vCPU: its KVM fd, its thread, and the loop that runs the guest and handles its exits. */
#ifndef RINGVM_VCPU_H
#define RINGVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdbool.h>

#include "boot/boot.h"
#include "services/error.h"
#include "machine/requests.h"

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned index;             /* also its APIC ID */
	int fd;
	/*
	 * KVM's statistics of this vCPU, opened before it runs: a vCPU ioctl waits for
	 * KVM_RUN to return, so another thread could not open it later without waiting
	 * on a halted guest. -1 where the host kernel has none.
	 */
	int stats_fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	struct vcpu_requests requests;
	/* Exits by kind, for the metrics: written by the vCPU's thread only. */
	_Atomic uint64_t exits_io, exits_mmio, exits_hlt, exits_other;
};

/* Creates vCPU index: CPUID, LAPIC wiring, FPU defaults, the kick signal mask. */
int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned index, struct error *err);

/* Puts the boot vCPU at the kernel's entry point. */
int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_entry *entry, struct error *err);

/* Starts the vCPU's thread. */
int vcpu_start(struct vcpu *vcpu, struct error *err);

/* Waits for the vCPU's thread to finish (after a stop request). */
void vcpu_join(struct vcpu *vcpu);

/* Unmaps and closes the vCPU. */
void vcpu_destroy(struct vcpu *vcpu);

#endif
