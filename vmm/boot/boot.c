#include "vmm/boot/boot.h"

#include <errno.h>

#include "vmm/boot/pvh.h"

static const struct kernel_format *const formats[] = {
	&pvh_elf_format,
};

int boot_load_kernel(const struct boot_image *img, struct guest_memory *mem,
		     struct boot_entry *entry, struct error *err)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i]->probe(img))
			return formats[i]->load(img, mem, entry, err);
	return error_set(err, ENOEXEC, "kernel '%s' is not a kernel ringvm can boot "
			 "(expected an ELF with a PVH entry note)", img->name);
}

int boot_write_info(const struct boot_entry *entry, struct guest_memory *mem,
		    const char *cmdline, struct error *err)
{
	switch (entry->protocol) {
	case BOOT_PVH:
		return pvh_write_start_info(mem, cmdline, err);
	}
	return error_set(err, EINVAL, "unknown boot protocol");
}

void boot_cpu_state(const struct boot_entry *entry, struct kvm_regs *regs,
		    struct kvm_sregs *sregs)
{
	switch (entry->protocol) {
	case BOOT_PVH:
		pvh_cpu_state(entry->entry, regs, sregs);
		break;
	}
}

bool boot_range_free(const struct guest_memory *mem, uint64_t addr, uint64_t size)
{
	struct e820_entry map[16];
	unsigned n = memory_e820(mem, map, 16);

	if (!size || addr + size < addr)
		return false;
	if (addr < BOOT_DATA_END && addr + size > BOOT_DATA_START)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (map[i].type == E820_RAM && addr >= map[i].addr &&
		    addr + size <= map[i].addr + map[i].size)
			return true;
	return false;
}
