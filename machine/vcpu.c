#include "machine/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "machine/cpuid.h"
#include "machine/sandbox.h"
#include "machine/vm.h"

#define APIC_LVT_LINT0   0x350
#define APIC_LVT_LINT1   0x360
#define APIC_MODE_NMI    (4u << 8)
#define APIC_MODE_EXTINT (7u << 8)

/* LINT0 takes the 8259's interrupts, LINT1 NMIs: how a PC wires every local APIC. */
static int vcpu_wire_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	uint32_t lint0 = APIC_MODE_EXTINT, lint1 = APIC_MODE_NMI;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic))
		return -errno;
	memcpy(&lapic.regs[APIC_LVT_LINT0], &lint0, sizeof(lint0));
	memcpy(&lapic.regs[APIC_LVT_LINT1], &lint1, sizeof(lint1));
	return ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) ? -errno : 0;
}

/* Inside KVM_RUN only the kick signal is deliverable, so only a kick interrupts the guest. */
static int vcpu_set_signal_mask(struct vcpu *vcpu)
{
	sigset_t set;
	struct {
		struct kvm_signal_mask head;
		uint8_t bytes[8];
	} mask = { .head.len = 8 };   /* the kernel's sigset_t on x86-64 */

	sigfillset(&set);
	sigdelset(&set, kick_signal());
	memcpy(mask.bytes, &set, sizeof(mask.bytes));
	return ioctl(vcpu->fd, KVM_SET_SIGNAL_MASK, &mask) ? -errno : 0;
}

int vcpu_create(struct vcpu *vcpu, struct vm *vm, unsigned index, struct error *err)
{
	*vcpu = (struct vcpu){ .vm = vm, .index = index, .fd = -1, .stats_fd = -1 };

	vcpu->fd = ioctl(vm->kvm.vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (vcpu->fd < 0)
		return error_sys(err, errno, "cannot create vCPU %u", index);
	vcpu->stats_fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, NULL);
	void *run = mmap(NULL, vm->kvm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED)
		return error_sys(err, errno, "cannot map vCPU %u's run area", index);
	vcpu->run = run;

	struct kvm_cpuid2 *cpuid = cpuid_for_vcpu(vm->kvm.cpuid, index, vm->nr_vcpus, vm->kvm.tsc_khz);
	if (!cpuid)
		return error_set(err, ENOMEM, "out of memory for vCPU %u's CPUID", index);
	int r = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) ? -errno : 0;
	free(cpuid);
	if (r)
		return error_sys(err, -r, "cannot set vCPU %u's CPUID", index);

	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };   /* the x87 and SSE reset values */
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu))
		return error_sys(err, errno, "cannot set vCPU %u's FPU state", index);
	if ((r = vcpu_wire_lapic(vcpu)))
		return error_sys(err, -r, "cannot set vCPU %u's local APIC", index);
	if ((r = vcpu_set_signal_mask(vcpu)))
		return error_sys(err, -r, "cannot set vCPU %u's signal mask", index);
	return 0;
}

int vcpu_set_boot_state(struct vcpu *vcpu, const struct boot_entry *entry, struct error *err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs))
		return error_sys(err, errno, "KVM_GET_SREGS");
	boot_cpu_state(entry, &regs, &sregs);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs))
		return error_sys(err, errno, "cannot set the boot vCPU's segment registers");
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs))
		return error_sys(err, errno, "cannot set the boot vCPU's registers");
	return 0;
}

static uint64_t vcpu_rip(struct vcpu *vcpu)
{
	struct kvm_regs regs;

	return ioctl(vcpu->fd, KVM_GET_REGS, &regs) ? 0 : regs.rip;
}

static int vcpu_handle_pio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	size_t run_size = vcpu->vm->kvm.run_size;
	uint32_t size = run->io.size, count = run->io.count;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	if (!size || size > 4 || run->io.data_offset > run_size ||
	    (uint64_t)size * count > run_size - run->io.data_offset)
		return vm_fail(vcpu->vm, EPROTO, "vCPU %u: malformed port I/O exit", vcpu->index);
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < count; i++, data += size) {
		/* Nothing decodes the port: reads float high, as on an empty ISA bus. */
		if (!bus_dispatch(&vcpu->vm->pio, run->io.port, data, size, is_write) && !is_write)
			memset(data, 0xff, size);
	}
	return 0;
}

static int vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint32_t len = run->mmio.len;

	if (!len || len > sizeof(run->mmio.data))
		return vm_fail(vcpu->vm, EPROTO, "vCPU %u: malformed MMIO exit", vcpu->index);
	if (!bus_dispatch(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			  run->mmio.is_write) && !run->mmio.is_write)
		memset(run->mmio.data, 0xff, len);
	return 0;
}

static int vcpu_handle_system_event(struct vcpu *vcpu)
{
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(vcpu->vm, STOP_GUEST_POWEROFF, 0);
		return 1;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(vcpu->vm, STOP_GUEST_RESET, 0);
		return 1;
	default:
		return vm_fail(vcpu->vm, EIO, "vCPU %u: guest crashed (system event %u)", vcpu->index,
			       vcpu->run->system_event.type);
	}
}

/* Returns 0 to keep running, 1 when the VM is stopping, <0 on a fatal error. */
static int vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	_Atomic uint64_t *count = run->exit_reason == KVM_EXIT_IO ? &vcpu->exits_io
				  : run->exit_reason == KVM_EXIT_MMIO ? &vcpu->exits_mmio
				  : run->exit_reason == KVM_EXIT_HLT ? &vcpu->exits_hlt : &vcpu->exits_other;
	/* One writer: a relaxed add is all the metrics' reader needs. */
	atomic_store_explicit(count, atomic_load_explicit(count, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return vcpu_handle_pio(vcpu);
	case KVM_EXIT_MMIO:
		return vcpu_handle_mmio(vcpu);
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		return vcpu_handle_system_event(vcpu);
	case KVM_EXIT_IOAPIC_EOI:
		irq_chip_eoi(&vcpu->vm->irq, run->eoi.vector);
		return 0;
	case KVM_EXIT_SHUTDOWN:
		return vm_fail(vcpu->vm, EIO, "vCPU %u: guest triple fault at rip 0x%llx", vcpu->index,
			       (unsigned long long)vcpu_rip(vcpu));
	case KVM_EXIT_FAIL_ENTRY:
		return vm_fail(vcpu->vm, EIO, "vCPU %u: KVM could not enter the guest (reason 0x%llx)",
			       vcpu->index,
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	case KVM_EXIT_INTERNAL_ERROR:
		return vm_fail(vcpu->vm, EIO, "vCPU %u: KVM internal error %u at rip 0x%llx",
			       vcpu->index, run->internal.suberror,
			       (unsigned long long)vcpu_rip(vcpu));
	default:
		return vm_fail(vcpu->vm, EIO, "vCPU %u: unexpected exit reason %u", vcpu->index,
			       run->exit_reason);
	}
}

/* Handles requests before entry; false when the thread should end. */
static bool vcpu_process_requests(struct vcpu *vcpu)
{
	if (vcpu_check_request(&vcpu->requests, VCPU_REQ_STOP))
		return false;
	if (vcpu_check_request(&vcpu->requests, VCPU_REQ_PAUSE))
		vm_park_vcpu(vcpu->vm);
	/* A stop made while parked: its bit is still pending, the thread leaves now. */
	return !vcpu_check_request(&vcpu->requests, VCPU_REQ_STOP);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
	pthread_setname_np(pthread_self(), name);
	vcpu_requests_bind(&vcpu->requests);
	struct error err = { 0 };
	if (sandbox_apply(SANDBOX_VCPU, vcpu->vm->cfg.seccomp, &err)) {
		vm_fail(vcpu->vm, err.code, "%s", err.msg);
		return NULL;        /* before the guest runs a single instruction here */
	}
	for (;;) {
		if (!vcpu_process_requests(vcpu))
			break;
		if (vcpu_requests_enter_guest(&vcpu->requests))
			continue;       /* a request arrived: handle it before entering */
		int r = ioctl(vcpu->fd, KVM_RUN, 0);
		int e = errno;
		vcpu_requests_exit_guest(&vcpu->requests);
		if (r < 0) {
			if (e == EINTR || e == EAGAIN) {
				kick_signal_consume();
				continue;
			}
			vm_fail(vcpu->vm, e, "vCPU %u: KVM_RUN: %s", vcpu->index, strerror(e));
			break;
		}
		if (vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

int vcpu_start(struct vcpu *vcpu, struct error *err)
{
	sigset_t all, old;

	/* Born with every signal blocked: process signals go to the main thread's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return error_sys(err, r, "cannot start vCPU %u's thread", vcpu->index);
	vcpu->started = true;
	return 0;
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->started)
		pthread_join(vcpu->thread, NULL);
	vcpu->started = false;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->kvm.run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	if (vcpu->stats_fd >= 0)
		close(vcpu->stats_fd);
	vcpu->run = NULL;
	vcpu->fd = vcpu->stats_fd = -1;
}
