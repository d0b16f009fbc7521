#include <criterion/criterion.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "machine/stats.h"

#define NAME_SIZE 48

/* Writes a stats file laid out as KVM_GET_STATS_FD's: header, descriptors, data. */
static int fake_stats(const char *const *names, const uint64_t *values, unsigned n)
{
	int fd = memfd_create("stats", 0);
	size_t desc_size = sizeof(struct kvm_stats_desc) + NAME_SIZE;
	struct kvm_stats_header h = {
		.name_size = NAME_SIZE, .num_desc = n, .id_offset = sizeof(h),
		.desc_offset = sizeof(h) + 64, .data_offset = sizeof(h) + 64 + n * desc_size,
	};
	cr_assert_eq(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
	for (unsigned i = 0; i < n; i++) {
		char buf[sizeof(struct kvm_stats_desc) + NAME_SIZE] = { 0 };
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)buf;
		d->flags = KVM_STATS_TYPE_CUMULATIVE;
		d->size = 1;
		d->offset = (n - 1 - i) * 8;      /* data in reverse order: offsets must be honoured */
		strncpy(d->name, names[i], NAME_SIZE - 1);
		cr_assert_eq(pwrite(fd, buf, desc_size, h.desc_offset + i * desc_size), (ssize_t)desc_size);
		cr_assert_eq(pwrite(fd, &values[i], 8, h.data_offset + d->offset), 8);
	}
	return fd;
}

Test(stats, reads_counters_by_name)
{
	const char *names[] = { "exits", "pi_wakeups", "halt_exits" };
	uint64_t values[] = { 100, 7, 3 };
	int fd = fake_stats(names, values, 3);
	const char *want[] = { "pi_wakeups", "exits", "pi_nonexistent" };
	uint64_t got[3] = { 0 };
	bool found[3];

	cr_assert_eq(stats_read(fd, want, 3, got, found), 0);
	cr_assert(found[0] && found[1]);
	cr_assert_not(found[2], "a counter the kernel lacks is reported missing, not zero");
	cr_assert_eq(got[0], 7);
	cr_assert_eq(got[1], 100);
	close(fd);
}

Test(stats, malformed_header_is_refused)
{
	int fd = memfd_create("stats", 0);
	struct kvm_stats_header h = { .name_size = 0, .num_desc = 5 };
	const char *want[] = { "x" };
	uint64_t v;
	bool f;
	cr_assert_eq(pwrite(fd, &h, sizeof(h), 0), sizeof(h));
	cr_assert_lt(stats_read(fd, want, 1, &v, &f), 0);
	cr_assert_lt(stats_read(-1, want, 1, &v, &f), 0);
	close(fd);
}

Test(stats, names_the_patch_counters)
{
	cr_assert_str_eq(stats_pi_names[0], "pi_remote_ipis");
	cr_assert_str_eq(stats_pi_names[STATS_PI_COUNTERS - 1], "pi_coalesced");
	char line[256];
	cr_assert_eq(stats_format_pi(-1, 3, line, sizeof(line)), 0);
	cr_assert_str_eq(line, "ringvm stats: vcpu 3: posted-interrupt counters unavailable");
}

Test(stats, names_the_interrupt_delivery_errors)
{
	char line[256];
	cr_assert_eq(stats_format_irq(0, NULL, 0, line, sizeof(line)), 0);
	cr_assert_str_eq(line, "ringvm stats: irq: delivery_errors 0");
	const struct stats_device_errors devs[] = {
		{ "virtio-blk 0", 3 }, { "virtio-blk 1", 0 }, { "virtio-rng", 7 },
	};
	cr_assert_eq(stats_format_irq(12, devs, 3, line, sizeof(line)), 0);
	cr_assert_str_eq(line, "ringvm stats: irq: delivery_errors 12; msix: virtio-blk 0: 3, "
			 "virtio-blk 1: 0, virtio-rng: 7");
	char small[16];
	cr_assert_eq(stats_format_irq(12, devs, 3, small, sizeof(small)), 0);
	cr_assert_eq(strlen(small), sizeof(small) - 1, "cut, not overrun");
}
