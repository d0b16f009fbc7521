/* KVM's binary statistics (KVM_GET_STATS_FD): named counters of a VM or vCPU. */
#ifndef RINGVM_STATS_H
#define RINGVM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The posted-interrupt counters of ringvm's kernel patch (kernel-patch/), in print order. */
#define STATS_PI_COUNTERS 6
extern const char *const stats_pi_names[STATS_PI_COUNTERS];

/* Reads the counters named in names from a stats fd; found[i] says whether KVM has names[i]. */
int stats_read(int stats_fd, const char *const *names, unsigned n, uint64_t *values, bool *found);

/* A vCPU's posted-interrupt counters from its stats fd; -ENOENT where the host lacks any. */
int stats_read_pi(int stats_fd, uint64_t values[STATS_PI_COUNTERS]);

/* One line about a vCPU's posted-interrupt counters, or that the host kernel lacks them. */
int stats_format_pi(int stats_fd, unsigned index, char *buf, size_t len);

/* A device's count of interrupts not delivered, under its name ("virtio-blk 0"). */
struct stats_device_errors {
	const char *name;
	uint64_t errors;
};

/* One line: the irq layer's failed deliveries, then each MSI-X device's. */
int stats_format_irq(uint64_t irq_errors, const struct stats_device_errors *devices, unsigned n,
		     char *buf, size_t len);

#endif
