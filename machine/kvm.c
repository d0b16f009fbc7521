#include "machine/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "abi/address_map.h"
#include "machine/cpuid.h"

struct required_cap {
	int cap;
	const char *name;
	const char *why;
};

#define CAP(c, w) { c, #c, w }
static const struct required_cap required_caps[] = {
	CAP(KVM_CAP_USER_MEMORY, "guest RAM from ringvm's memory"),
	CAP(KVM_CAP_SET_TSS_ADDR, "real-mode support on VMX"),
	CAP(KVM_CAP_SET_IDENTITY_MAP_ADDR, "real-mode support on VMX"),
	CAP(KVM_CAP_EXT_CPUID, "CPUID configuration"),
	CAP(KVM_CAP_MP_STATE, "SMP start-up"),
	CAP(KVM_CAP_IRQCHIP, "the in-kernel interrupt controllers"),
	CAP(KVM_CAP_PIT2, "the in-kernel timer"),
	CAP(KVM_CAP_IRQ_ROUTING, "GSI routing"),
	CAP(KVM_CAP_IRQFD, "interrupts through eventfds"),
	CAP(KVM_CAP_IOEVENTFD, "doorbells through eventfds"),
	CAP(KVM_CAP_SIGNAL_MSI, "MSI injection"),
};
#undef CAP

int kvm_open(struct kvm *kvm, struct error *err)
{
	*kvm = (struct kvm){ .dev_fd = -1, .vm_fd = -1 };

	kvm->dev_fd = open(KVM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (kvm->dev_fd < 0) {
		int e = errno;
		const char *hint = e == ENOENT ? " (is KVM enabled and its module loaded?)"
				 : e == EACCES || e == EPERM ? " (is your user in the 'kvm' group?)"
				 : "";
		return error_set(err, e, "cannot open %s: %s%s", KVM_DEVICE_PATH, strerror(e), hint);
	}
	int version = ioctl(kvm->dev_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION)
		return error_set(err, ENOTSUP, "%s speaks KVM API %d, ringvm needs %d",
				 KVM_DEVICE_PATH, version, KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		const struct required_cap *c = &required_caps[i];
		if (ioctl(kvm->dev_fd, KVM_CHECK_EXTENSION, c->cap) <= 0)
			return error_set(err, ENOTSUP, "KVM on this host lacks %s (needed for %s)",
					 c->name, c->why);
	}
	int size = ioctl(kvm->dev_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return error_sys(err, size < 0 ? errno : EINVAL, "KVM_GET_VCPU_MMAP_SIZE");
	kvm->run_size = (size_t)size;
	return 0;
}

/*
 * KVM's LAPIC emulates the TSC-deadline timer but leaves CPUID.1:ECX[24] clear in
 * the supported set (api.rst: check KVM_CAP_TSC_DEADLINE_TIMER). Without it Linux
 * programs its timer through the APIC's MMIO page, each write an emulated access.
 */
static void offer_tsc_deadline(struct kvm *kvm)
{
	struct kvm_cpuid_entry2 *leaf1 = cpuid_find(kvm->cpuid, 1, 0);
	if (leaf1 && ioctl(kvm->dev_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
		leaf1->ecx |= 1u << 24;
}

static int kvm_get_supported_cpuid(struct kvm *kvm, struct error *err)
{
	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return error_set(err, ENOMEM, "out of memory for CPUID");
		c->nent = nent;
		if (!ioctl(kvm->dev_fd, KVM_GET_SUPPORTED_CPUID, c)) {
			kvm->cpuid = c;
			offer_tsc_deadline(kvm);
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return error_sys(err, e, "KVM_GET_SUPPORTED_CPUID");
	}
	return error_set(err, E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

int kvm_create_vm(struct kvm *kvm, struct error *err)
{
	do
		kvm->vm_fd = ioctl(kvm->dev_fd, KVM_CREATE_VM, 0);
	while (kvm->vm_fd < 0 && errno == EINTR);
	if (kvm->vm_fd < 0)
		return error_sys(err, errno, "cannot create a KVM VM");

	int max = ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	kvm->max_vcpus = max > 0 ? (unsigned)max : 1;

	int khz = ioctl(kvm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) > 0
		  ? ioctl(kvm->vm_fd, KVM_GET_TSC_KHZ, 0) : -1;
	kvm->tsc_khz = khz > 0 ? (uint32_t)khz : 0;

	/* VMX without unrestricted guest runs real mode through these; harmless elsewhere. */
	if (ioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)AM_KVM_TSS))
		return error_sys(err, errno, "KVM_SET_TSS_ADDR");
	uint64_t identity = AM_KVM_IDENTITY_MAP;
	if (ioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity))
		return error_sys(err, errno, "KVM_SET_IDENTITY_MAP_ADDR");
	return kvm_get_supported_cpuid(kvm, err);
}

int kvm_map_memory(struct kvm *kvm, const struct guest_memory *mem, struct error *err)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr = (uintptr_t)mem->regions[i].host,
		};
		if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot))
			return error_sys(err, errno, "cannot give guest RAM at 0x%llx to KVM",
					 (unsigned long long)slot.guest_phys_addr);
	}
	return 0;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->dev_fd >= 0)
		close(kvm->dev_fd);
	free(kvm->cpuid);
	*kvm = (struct kvm){ .dev_fd = -1, .vm_fd = -1 };
}
