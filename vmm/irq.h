/* Interrupt sources: what a device raises, without knowing how it reaches KVM. */
#ifndef RINGVM_IRQ_H
#define RINGVM_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct irq_source;

struct irq_source_ops {
	int (*set_level)(struct irq_source *src, bool level);
};

struct irq_source {
	const struct irq_source_ops *ops;
	int vm_fd;
	uint32_t gsi;
	bool level;                 /* the line's last driven level */
};

/* Drives a line to level (only changes reach KVM); returns 0 or -errno. */
static inline int irq_set_level(struct irq_source *src, bool level)
{
	return src->ops->set_level(src, level);
}

/* Makes src an interrupt controller pin (GSI) driven with KVM_IRQ_LINE. */
void irq_source_init_line(struct irq_source *src, int vm_fd, uint32_t gsi);

#endif
