#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "services/bus.h"

struct probe {
	int calls;
	uint64_t offset;
	uint32_t len;
	bool is_write;
	uint8_t fill;
};

static void probe_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct probe *p = opaque;
	p->calls++;
	p->offset = offset;
	p->len = len;
	p->is_write = is_write;
	if (!is_write)
		memset(data, p->fill, len);
}

static struct bus bus;

static void setup(void) { bus_init(&bus, "test"); }
static void teardown(void) { bus_destroy(&bus); }

TestSuite(bus, .init = setup, .fini = teardown);

Test(bus, dispatch_reaches_the_right_device_with_offsets)
{
	struct probe a = { .fill = 0xaa }, b = { .fill = 0xbb };
	cr_assert_eq(bus_register(&bus, 0x3f8, 8, probe_access, &a, "a"), 0);
	cr_assert_eq(bus_register(&bus, 0x60, 1, probe_access, &b, "b"), 0);

	uint8_t data[4] = { 0 };
	cr_assert(bus_dispatch(&bus, 0x3fd, data, 1, false));
	cr_assert_eq(a.calls, 1);
	cr_assert_eq(a.offset, 5);
	cr_assert_eq(data[0], 0xaa);
	cr_assert(bus_dispatch(&bus, 0x60, data, 1, true));
	cr_assert_eq(b.calls, 1);
	cr_assert(b.is_write);
	cr_assert_eq(a.calls, 1);
}

Test(bus, boundaries_are_exact)
{
	struct probe a = { 0 };
	uint8_t data[8];
	cr_assert_eq(bus_register(&bus, 0x1000, 0x10, probe_access, &a, "a"), 0);
	cr_assert_not(bus_dispatch(&bus, 0xfff, data, 1, false), "one below the base");
	cr_assert(bus_dispatch(&bus, 0x1000, data, 1, false), "the base");
	cr_assert(bus_dispatch(&bus, 0x100f, data, 1, false), "the last byte");
	cr_assert_not(bus_dispatch(&bus, 0x1010, data, 1, false), "one past the end");
	cr_assert(bus_dispatch(&bus, 0x100c, data, 4, false), "a dword ending on the last byte");
	cr_assert_not(bus_dispatch(&bus, 0x100d, data, 4, false), "a dword straddling the end");
	cr_assert_not(bus_dispatch(&bus, 0xffe, data, 4, false), "a dword straddling the base");
	cr_assert_eq(a.calls, 3);
}

Test(bus, overlaps_are_rejected)
{
	struct probe a = { 0 };
	cr_assert_eq(bus_register(&bus, 0x100, 0x100, probe_access, &a, "a"), 0);
	cr_assert_eq(bus_register(&bus, 0x100, 1, probe_access, &a, "same base"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x1ff, 1, probe_access, &a, "last byte"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x0, 0x101, probe_access, &a, "reaches in"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x50, 0x1000, probe_access, &a, "covers"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0x180, 0x10, probe_access, &a, "inside"), -EEXIST);
	cr_assert_eq(bus_register(&bus, 0xff, 1, probe_access, &a, "just below"), 0);
	cr_assert_eq(bus_register(&bus, 0x200, 1, probe_access, &a, "just above"), 0);
	cr_assert_eq(bus.count, 3);
}

Test(bus, empty_and_wrapping_ranges_are_rejected)
{
	struct probe a = { 0 };
	cr_assert_eq(bus_register(&bus, 0x10, 0, probe_access, &a, "empty"), -EINVAL);
	cr_assert_eq(bus_register(&bus, UINT64_MAX, 2, probe_access, &a, "wraps"), -EINVAL);
	cr_assert_eq(bus_register(&bus, UINT64_MAX, 1, probe_access, &a, "last byte"), 0);
	uint8_t d[2];
	cr_assert(bus_dispatch(&bus, UINT64_MAX, d, 1, false));
	cr_assert_not(bus_dispatch(&bus, UINT64_MAX, d, 2, false), "an access that wraps");
	cr_assert_not(bus_dispatch(&bus, 0x10, d, 0, false), "an empty access");
}

Test(bus, unregister_frees_the_range)
{
	struct probe a = { 0 };
	uint8_t d;
	cr_assert_eq(bus_register(&bus, 0x40, 4, probe_access, &a, "a"), 0);
	cr_assert_eq(bus_unregister(&bus, 0x41), -ENOENT);
	cr_assert_eq(bus_unregister(&bus, 0x40), 0);
	cr_assert_not(bus_dispatch(&bus, 0x40, &d, 1, false));
	cr_assert_eq(bus_register(&bus, 0x42, 4, probe_access, &a, "again"), 0);
}

Test(bus, many_devices_in_any_order)
{
	static struct probe p[500];
	/* Registered out of order, so the table must sort itself. */
	for (int i = 0; i < 500; i++) {
		int slot = (i * 37) % 500;
		p[slot].fill = (uint8_t)slot;
		cr_assert_eq(bus_register(&bus, 0x10000 + slot * 0x10, 0x10, probe_access, &p[slot], "p"), 0);
	}
	for (int slot = 0; slot < 500; slot++) {
		uint8_t d = 0;
		cr_assert(bus_dispatch(&bus, 0x10000 + slot * 0x10 + 7, &d, 1, false));
		cr_assert_eq(d, (uint8_t)slot);
		cr_assert_eq(p[slot].offset, 7);
	}
	for (size_t i = 1; i < bus.count; i++)
		cr_assert_lt(bus.regions[i - 1].last, bus.regions[i].base);
}

Test(bus, dword_registers_take_aligned_dwords_only)
{
	uint8_t b[8];
	uint32_t v = 0x12345678;

	memcpy(b, &v, 4);
	cr_assert(bus_dword_begin(8, b, 4, true, &v));
	cr_assert_eq(v, 0x12345678, "a write's data");
	cr_assert(bus_dword_begin(8, b, 4, false, &v));
	cr_assert_eq(v, 0, "a read starts from 0");
	bus_dword_end(b, false, 0xcafef00d);
	cr_assert_eq(*(uint32_t *)b, 0xcafef00d, "a read returns the value");
	memset(b, 0, sizeof(b));
	bus_dword_end(b, true, 0xcafef00d);
	cr_assert_eq(*(uint32_t *)b, 0, "a write's buffer is left alone");
	cr_assert_not(bus_dword_begin(2, b, 4, false, &v), "unaligned");
	cr_assert_eq(*(uint32_t *)b, 0xffffffff, "an ignored read is all ones");
	memset(b, 0, sizeof(b));
	cr_assert_not(bus_dword_begin(0, b, 2, false, &v), "a word");
	cr_assert_eq(*(uint16_t *)b, 0xffff);
	cr_assert_eq(b[2], 0, "only len bytes are written");
	cr_assert_not(bus_dword_begin(0, b, 8, true, &v), "a qword");
}
