#include "bootinfo.h"

#include <stddef.h>

#include "abi/pvh.h"
#include "printf.h"

#define MAX_MEMMAP      64
#define CMDLINE_MAX     1024

/* Copies, because smp.c reuses low memory that the VMM may have put these in. */
static char cmdline[CMDLINE_MAX];
static bool cmdline_truncated;
static struct hvm_memmap_table_entry memmap[MAX_MEMMAP];
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

	if (!info || info->magic != XEN_HVM_START_MAGIC_VALUE)
		return "no hvm_start_info (bad magic)";
	copy_cmdline((const char *)(uintptr_t)info->cmdline_paddr);
	if (info->version < 1)
		return NULL;  /* version 0 has no memory map */
	const struct hvm_memmap_table_entry *map = (const void *)(uintptr_t)info->memmap_paddr;

	for (uint32_t i = 0; map && i < info->memmap_entries; i++) {
		if (map[i].type == XEN_HVM_MEMMAP_TYPE_RAM)
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
		const struct hvm_memmap_table_entry *e = &memmap[i];

		if (e->type == XEN_HVM_MEMMAP_TYPE_RAM && base >= e->addr && base - e->addr + len <= e->size)
			return true;
	}
	return false;
}

static const char *type_name(uint32_t type)
{
	static const char *const names[] = {
		[XEN_HVM_MEMMAP_TYPE_RAM] = "ram",
		[XEN_HVM_MEMMAP_TYPE_RESERVED] = "reserved",
		[XEN_HVM_MEMMAP_TYPE_ACPI] = "acpi",
		[XEN_HVM_MEMMAP_TYPE_NVS] = "nvs",
		[XEN_HVM_MEMMAP_TYPE_UNUSABLE] = "unusable",
		[XEN_HVM_MEMMAP_TYPE_DISABLED] = "disabled",
		[XEN_HVM_MEMMAP_TYPE_PMEM] = "pmem",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

void bootinfo_print_memory(void)
{
	if (memmap_entries == 0)
		printf("memory: no map\n");
	for (unsigned i = 0; i < memmap_entries; i++) {
		const struct hvm_memmap_table_entry *e = &memmap[i];
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
