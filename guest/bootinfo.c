#include "bootinfo.h"

#include <stddef.h>

#include "printf.h"

#define HVM_START_MAGIC 0x336ec578
#define MEMMAP_RAM      1
#define MAX_MEMMAP      64
#define CMDLINE_MAX     1024

/* Xen's public/arch-x86/hvm/start_info.h, version 1. */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;      /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* Copies, because smp.c reuses low memory that the VMM may have put these in. */
static char cmdline[CMDLINE_MAX];
static bool cmdline_truncated;
static struct hvm_memmap_entry memmap[MAX_MEMMAP];
static unsigned memmap_entries;
static unsigned memmap_dropped;
static uint64_t ram_bytes;

static void copy_cmdline(const char *src)
{
	size_t n = 0;

	for (; src && src[n] && n < CMDLINE_MAX - 1; n++)
		cmdline[n] = src[n];
	cmdline[n] = '\0';
	cmdline_truncated = src && src[n];
}

const char *bootinfo_read(uint32_t start_info_paddr)
{
	const struct hvm_start_info *info = (const void *)(uintptr_t)start_info_paddr;

	if (!info || info->magic != HVM_START_MAGIC)
		return "no hvm_start_info (bad magic)";
	copy_cmdline((const char *)(uintptr_t)info->cmdline_paddr);
	if (info->version < 1)
		return NULL;  /* version 0 has no memory map */
	const struct hvm_memmap_entry *map = (const void *)(uintptr_t)info->memmap_paddr;

	for (uint32_t i = 0; map && i < info->memmap_entries; i++) {
		if (map[i].type == MEMMAP_RAM)
			ram_bytes += map[i].size;
		if (memmap_entries < MAX_MEMMAP)
			memmap[memmap_entries++] = map[i];
		else
			memmap_dropped++;
	}
	return NULL;
}

char *bootinfo_cmdline(void)
{
	return cmdline;
}

bool bootinfo_cmdline_truncated(void)
{
	return cmdline_truncated;
}

uint64_t bootinfo_ram_bytes(void)
{
	return ram_bytes;
}

bool bootinfo_is_ram(uint64_t base, uint64_t len)
{
	for (unsigned i = 0; i < memmap_entries; i++) {
		const struct hvm_memmap_entry *e = &memmap[i];

		if (e->type == MEMMAP_RAM && base >= e->addr && base - e->addr + len <= e->size)
			return true;
	}
	return false;
}

static const char *type_name(uint32_t type)
{
	static const char *const names[] = {
		[1] = "ram", [2] = "reserved", [3] = "acpi", [4] = "nvs",
		[5] = "unusable", [6] = "disabled", [7] = "pmem",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

void bootinfo_print_memory(void)
{
	if (memmap_entries == 0)
		printf("memory: no map\n");
	for (unsigned i = 0; i < memmap_entries; i++) {
		const struct hvm_memmap_entry *e = &memmap[i];
		const char *name = type_name(e->type);

		if (e->size == 0)
			continue;
		if (name)
			printf("memory: 0x%016lx-0x%016lx %s\n", e->addr, e->addr + e->size - 1, name);
		else
			printf("memory: 0x%016lx-0x%016lx type %u\n", e->addr, e->addr + e->size - 1,
			       e->type);
	}
	if (memmap_dropped)
		printf("memory: %u more entries not shown\n", memmap_dropped);
}
