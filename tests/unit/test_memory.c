#include <criterion/criterion.h>
#include <errno.h>

#include <sys/mman.h>

#include "services/memory.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

Test(memory, small_guest_is_one_low_region)
{
	struct mem_region r[MEM_MAX_REGIONS];
	cr_assert_eq(memory_layout(512 * MiB, r), 1);
	cr_assert_eq(r[0].gpa, 0);
	cr_assert_eq(r[0].size, 512 * MiB);
}

Test(memory, exactly_3g_stays_below_the_hole)
{
	struct mem_region r[MEM_MAX_REGIONS];
	cr_assert_eq(memory_layout(3 * GiB, r), 1);
	cr_assert_eq(r[0].size, 3 * GiB);
}

Test(memory, large_guest_resumes_above_4g)
{
	struct mem_region r[MEM_MAX_REGIONS];
	cr_assert_eq(memory_layout(6 * GiB, r), 2);
	cr_assert_eq(r[0].gpa, 0);
	cr_assert_eq(r[0].size, AM_LOW_RAM_END);
	cr_assert_eq(r[1].gpa, AM_HIGH_RAM_START);
	cr_assert_eq(r[1].size, 6 * GiB - AM_LOW_RAM_END);
}

/* Address space only (PROT_NONE): the tests compute addresses, they never touch RAM. */
static struct guest_memory fake_memory(uint64_t size)
{
	uint8_t *backing = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(backing, MAP_FAILED);
	struct guest_memory m = { .host = backing, .size = size };
	m.nr_regions = memory_layout(size, m.regions);
	uint64_t off = 0;
	for (unsigned i = 0; i < m.nr_regions; i++) {
		m.regions[i].host = backing + off;
		off += m.regions[i].size;
	}
	return m;
}

Test(memory, gpa_to_hva_checks_bounds_without_wrapping)
{
	struct guest_memory m = fake_memory(6 * GiB);
	uint8_t *base = m.host;

	cr_assert_eq(gpa_to_hva(&m, 0, 16), base);
	cr_assert_eq(gpa_to_hva(&m, 0x1000, 1), base + 0x1000);
	cr_assert_not_null(gpa_to_hva(&m, AM_LOW_RAM_END - 8, 8));
	cr_assert_null(gpa_to_hva(&m, AM_LOW_RAM_END - 8, 9), "straddles into the hole");
	cr_assert_null(gpa_to_hva(&m, AM_LOW_RAM_END, 1), "in the hole");
	cr_assert_null(gpa_to_hva(&m, AM_HIGH_RAM_START - 1, 2), "straddles into high RAM");
	cr_assert_eq(gpa_to_hva(&m, AM_HIGH_RAM_START, 1), base + AM_LOW_RAM_END);
	cr_assert_not_null(gpa_to_hva(&m, AM_HIGH_RAM_START + 3 * GiB - 1, 1), "last byte");
	cr_assert_null(gpa_to_hva(&m, AM_HIGH_RAM_START + 3 * GiB, 1), "past the end");
	cr_assert_null(gpa_to_hva(&m, 0x1000, UINT64_MAX), "huge length");
	cr_assert_null(gpa_to_hva(&m, UINT64_MAX, 2), "address wraps");
	cr_assert_not_null(gpa_to_hva(&m, 0x1000, 0), "an empty range inside RAM");
}

Test(memory, e820_describes_ram_holes_and_devices)
{
	struct guest_memory m = fake_memory(6 * GiB);
	struct e820_entry e[8];
	unsigned n = memory_e820(&m, e, 8);

	cr_assert_eq(n, 6);
	cr_assert_eq(e[0].addr, 0);
	cr_assert_eq(e[0].size, 0xa0000);
	cr_assert_eq(e[0].type, E820_RAM);
	cr_assert_eq(e[1].addr, 0xa0000);
	cr_assert_eq(e[1].type, E820_RESERVED);
	cr_assert_eq(e[2].addr, 0x100000);
	cr_assert_eq(e[2].addr + e[2].size, AM_LOW_RAM_END);
	cr_assert_eq(e[2].type, E820_RAM);
	cr_assert_eq(e[3].addr, AM_ECAM_BASE, "PCI configuration space, as firmware reserves it");
	cr_assert_eq(e[3].size, AM_ECAM_SIZE);
	cr_assert_eq(e[3].type, E820_RESERVED);
	cr_assert_eq(e[4].addr, AM_IOAPIC_BASE);
	cr_assert_eq(e[4].addr + e[4].size, AM_HIGH_RAM_START);
	cr_assert_eq(e[4].type, E820_RESERVED);
	cr_assert_eq(e[5].addr, AM_HIGH_RAM_START);
	cr_assert_eq(e[5].size, 6 * GiB - AM_LOW_RAM_END);
	/* KVM's real-mode helper pages sit in a reserved range. */
	cr_assert(AM_KVM_IDENTITY_MAP >= e[4].addr && AM_KVM_TSS + 3 * 4096 <= AM_HIGH_RAM_START);
	for (unsigned i = 1; i < n; i++)
		cr_assert_geq(e[i].addr, e[i - 1].addr + e[i - 1].size, "sorted, no overlap");
}

Test(memory, e820_of_a_tiny_guest)
{
	struct guest_memory m = fake_memory(2 * MiB);
	struct e820_entry e[8];
	unsigned n = memory_e820(&m, e, 8);
	cr_assert_eq(n, 5);
	cr_assert_eq(e[2].addr, 0x100000);
	cr_assert_eq(e[2].size, MiB);
	cr_assert_eq(memory_e820(&m, e, 2), 2, "never writes past max");
}

Test(memory, create_maps_zeroed_ram)
{
	struct guest_memory m;
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&m, 8 * MiB, &err), 0, "%s", err.msg);
	uint8_t *p = gpa_to_hva(&m, 0x7ff000, 4096);
	cr_assert_not_null(p);
	cr_assert_eq(p[4095], 0);
	p[0] = 0x5a;
	cr_assert_eq(((uint8_t *)gpa_to_hva(&m, 0x7ff000, 1))[0], 0x5a);
	cr_assert_eq((uintptr_t)m.host % (2 * MiB), 0, "huge-page aligned");
	guest_memory_destroy(&m);
	cr_assert_null(m.host);
}

Test(memory, more_than_the_host_has_is_refused)
{
	struct guest_memory m;
	struct error err = { 0 };
	cr_assert_lt(guest_memory_create(&m, 1ULL << 50, &err), 0);
	cr_assert(strstr(err.msg, "more than the host"), "%s", err.msg);
	guest_memory_destroy(&m);
}

Test(memory, host_ram_checked_without_mapping)
{
	struct error err = { 0 };
	cr_assert_eq(memory_check_host(64 * MiB, &err), 0, "%s", err.msg);
	cr_assert_eq(memory_check_host(1ULL << 50, &err), -ENOMEM);
	cr_assert(strstr(err.msg, "--memory 1 PiB is more than the host's"), "%s", err.msg);
}

Test(memory, layout_describes_ram_that_is_not_there)
{
	struct guest_memory m;
	guest_memory_layout(&m, AM_LOW_RAM_END + 8 * MiB);
	cr_assert_null(m.host, "nothing mapped");
	cr_assert_eq(m.size, AM_LOW_RAM_END + 8 * MiB);
	cr_assert_eq(m.nr_regions, 2, "split around the MMIO hole");
	cr_assert_eq(m.regions[0].size, AM_LOW_RAM_END);
	cr_assert_eq(m.regions[1].gpa, AM_HIGH_RAM_START);
	cr_assert_eq(m.regions[1].size, 8 * MiB);
	guest_memory_destroy(&m);       /* nothing to unmap: harmless */
}
