#include "machine/stats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

const char *const stats_pi_names[STATS_PI_COUNTERS] = {
	"pi_remote_ipis", "pi_local_deliveries", "pi_local_requests",
	"pi_wakeups", "pi_deferred", "pi_coalesced",
};

static int read_at(int fd, void *buf, size_t len, off_t offset)
{
	ssize_t n = pread(fd, buf, len, offset);
	return n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
}

int stats_read(int fd, const char *const *names, unsigned n, uint64_t *values, bool *found)
{
	struct kvm_stats_header header;
	int r = read_at(fd, &header, sizeof(header), 0);

	if (r)
		return r;
	for (unsigned i = 0; i < n; i++)
		found[i] = false;
	/* Each descriptor is followed by its name, name_size bytes, NUL-padded. */
	size_t desc_size = sizeof(struct kvm_stats_desc) + header.name_size;
	if (header.name_size == 0 || header.name_size > 4096 || header.num_desc > 65536)
		return -EPROTO;
	struct kvm_stats_desc *desc = malloc(desc_size);
	if (!desc)
		return -ENOMEM;
	for (uint32_t d = 0; d < header.num_desc && !r; d++) {
		r = read_at(fd, desc, desc_size, (off_t)header.desc_offset + (off_t)d * desc_size);
		if (r)
			break;
		desc->name[header.name_size - 1] = '\0';
		for (unsigned i = 0; i < n; i++) {
			if (found[i] || strcmp(desc->name, names[i]) || desc->size < 1)
				continue;
			r = read_at(fd, &values[i], sizeof(values[i]),
				    (off_t)header.data_offset + desc->offset);
			found[i] = !r;
		}
	}
	free(desc);
	return r;
}

int stats_read_pi(int stats_fd, uint64_t values[STATS_PI_COUNTERS])
{
	bool found[STATS_PI_COUNTERS];
	int r = stats_fd < 0 ? -ENOENT : stats_read(stats_fd, stats_pi_names, STATS_PI_COUNTERS, values, found);

	for (unsigned i = 0; !r && i < STATS_PI_COUNTERS; i++)
		if (!found[i])
			r = -ENOENT;
	return r;
}

int stats_format_pi(int stats_fd, unsigned index, char *buf, size_t len)
{
	uint64_t values[STATS_PI_COUNTERS];

	/* Absent is not zero: an unpatched host says so rather than print zeros. */
	if (stats_read_pi(stats_fd, values)) {
		snprintf(buf, len, "ringvm stats: vcpu %u: posted-interrupt counters unavailable", index);
		return 0;
	}
	int used = snprintf(buf, len, "ringvm stats: vcpu %u:", index);
	for (unsigned i = 0; i < STATS_PI_COUNTERS && used >= 0 && (size_t)used < len; i++)
		used += snprintf(buf + used, len - used, " %s %llu", stats_pi_names[i],
				 (unsigned long long)values[i]);
	return 0;
}

int stats_format_irq(uint64_t irq_errors, const struct stats_device_errors *devices, unsigned n,
		     char *buf, size_t len)
{
	/* The devices' counts overlap the layer's: theirs also hold vectors no route was made for. */
	int used = snprintf(buf, len, "ringvm stats: irq: delivery_errors %llu",
			    (unsigned long long)irq_errors);
	for (unsigned i = 0; i < n && used >= 0 && (size_t)used < len; i++)
		used += snprintf(buf + used, len - used, "%s %s: %llu", i ? "," : "; msix:",
				 devices[i].name, (unsigned long long)devices[i].errors);
	return 0;
}
