#include "irq/ioeventfd.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

static int ioeventfd_ioctl(const struct ioeventfd *ev, bool assign)
{
	struct kvm_ioeventfd req = {
		.addr = ev->addr, .len = ev->len, .fd = ev->fd, .datamatch = ev->data,
		.flags = (ev->pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (ev->match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	return ioctl(ev->vm_fd, KVM_IOEVENTFD, &req) ? -errno : 0;
}

int ioeventfd_assign(struct ioeventfd *ev, int vm_fd, int fd, uint64_t addr, uint32_t len,
		     bool pio)
{
	return ioeventfd_assign_match(ev, vm_fd, fd, addr, len, pio, false, 0);
}

int ioeventfd_assign_match(struct ioeventfd *ev, int vm_fd, int fd, uint64_t addr, uint32_t len,
			   bool pio, bool match, uint64_t data)
{
	*ev = (struct ioeventfd){ .vm_fd = vm_fd, .fd = fd, .addr = addr, .len = len, .pio = pio,
				  .match = match, .data = data };
	int r = ioeventfd_ioctl(ev, true);
	ev->assigned = !r;
	return r;
}

int ioeventfd_deassign(struct ioeventfd *ev)
{
	if (!ev->assigned)
		return 0;
	ev->assigned = false;
	return ioeventfd_ioctl(ev, false);
}
