#include "services/memory.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "services/size.h"

#define HUGE_PAGE (2u << 20)

unsigned memory_layout(uint64_t size, struct mem_region regions[MEM_MAX_REGIONS])
{
	uint64_t low = size < AM_LOW_RAM_END ? size : AM_LOW_RAM_END;

	regions[0] = (struct mem_region){ .gpa = 0, .size = low };
	if (size == low)
		return 1;
	regions[1] = (struct mem_region){ .gpa = AM_HIGH_RAM_START, .size = size - low };
	return 2;
}

static uint64_t host_ram_bytes(void)
{
	struct sysinfo si;

	if (sysinfo(&si))
		return UINT64_MAX;
	return (uint64_t)si.totalram * si.mem_unit;
}

void guest_memory_layout(struct guest_memory *mem, uint64_t size)
{
	*mem = (struct guest_memory){ .size = size };
	mem->nr_regions = memory_layout(size, mem->regions);
}

int memory_check_host(uint64_t size, struct error *err)
{
	char want[32];
	uint64_t host = host_ram_bytes();

	/* RAM is touched lazily, so an oversized guest would fail much later, in the guest. */
	if (size > host)
		return error_set(err, ENOMEM, "--memory %s is more than the host's %llu MiB of RAM",
				 size_format(size, want, sizeof(want)),
				 (unsigned long long)(host >> 20));
	return 0;
}

int guest_memory_create(struct guest_memory *mem, uint64_t size, struct error *err)
{
	char want[32];

	*mem = (struct guest_memory){ 0 };
	int r = memory_check_host(size, err);
	if (r)
		return r;
	/*
	 * Anonymous memory, 2 MiB aligned so that guest and host addresses agree modulo
	 * a huge page: THP can then back it, and KVM map it, in 2 MiB pages. (shmem,
	 * and so a memfd, gets no huge pages under Debian's default shmem_enabled=never.)
	 */
	size_t span = size + HUGE_PAGE;
	uint8_t *map = mmap(NULL, span, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return error_sys(err, errno, "cannot map %s of guest RAM", size_format(size, want, sizeof(want)));
	uint8_t *ram = (uint8_t *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (ram > map)
		munmap(map, (size_t)(ram - map));
	if (map + span > ram + size)
		munmap(ram + size, (size_t)(map + span - (ram + size)));
	madvise(ram, size, MADV_HUGEPAGE);      /* advice: where THP is off, 4 KiB pages do */
	mem->host = ram;
	mem->size = size;
	mem->nr_regions = memory_layout(size, mem->regions);
	uint64_t offset = 0;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		mem->regions[i].host = mem->host + offset;
		offset += mem->regions[i].size;
	}
	return 0;
}

void guest_memory_destroy(struct guest_memory *mem)
{
	if (mem->host)
		munmap(mem->host, mem->size);
	*mem = (struct guest_memory){ 0 };
}

void *gpa_to_hva(const struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		/* Written so that no sum can wrap: gpa and len come from the guest. */
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

static unsigned e820_add(struct e820_entry *out, unsigned n, unsigned max, uint64_t addr,
			 uint64_t size, uint32_t type)
{
	if (size && n < max)
		out[n++] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
	return n;
}

unsigned memory_e820(const struct guest_memory *mem, struct e820_entry *out, unsigned max)
{
	const struct mem_region *low = &mem->regions[0];
	unsigned n = 0;

	if (low->size <= AM_LEGACY_START) {
		n = e820_add(out, n, max, 0, low->size, E820_RAM);
	} else {
		n = e820_add(out, n, max, 0, AM_LEGACY_START, E820_RAM);
		uint64_t legacy_end = low->size < AM_LEGACY_END ? low->size : AM_LEGACY_END;
		n = e820_add(out, n, max, AM_LEGACY_START, AM_LEGACY_END - AM_LEGACY_START,
			     E820_RESERVED);
		n = e820_add(out, n, max, legacy_end, low->size - legacy_end, E820_RAM);
	}
	/* ECAM, as firmware reserves it (Linux trusts MCFG only then); the APICs, KVM's pages. */
	n = e820_add(out, n, max, AM_ECAM_BASE, AM_ECAM_SIZE, E820_RESERVED);
	n = e820_add(out, n, max, AM_SYSTEM_START, AM_HIGH_RAM_START - AM_SYSTEM_START, E820_RESERVED);
	for (unsigned i = 1; i < mem->nr_regions; i++)
		n = e820_add(out, n, max, mem->regions[i].gpa, mem->regions[i].size, E820_RAM);
	return n;
}
