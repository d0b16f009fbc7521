#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

static int irq_line_set_level(struct irq_source *src, bool level)
{
	if (src->level == level)
		return 0;
	struct kvm_irq_level irq = { .irq = src->gsi, .level = level };
	if (ioctl(src->vm_fd, KVM_IRQ_LINE, &irq))
		return -errno;
	src->level = level;
	return 0;
}

static const struct irq_source_ops irq_line_ops = {
	.set_level = irq_line_set_level,
};

void irq_source_init_line(struct irq_source *src, int vm_fd, uint32_t gsi)
{
	*src = (struct irq_source){ .ops = &irq_line_ops, .vm_fd = vm_fd, .gsi = gsi };
}
