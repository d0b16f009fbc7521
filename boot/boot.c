#include "boot/boot.h"

#include <errno.h>
#include <string.h>

#include "boot/elf.h"
#include "boot/linux64.h"
#include "boot/multiboot.h"
#include "boot/pvh.h"
#include "boot/boot.h"

/* Tried in order: a vmlinux may carry both a PVH note and a Multiboot header. */
static const struct kernel_format *const formats[] = {
	&bzimage_format,
	&pvh_elf_format,
	&multiboot_format,
};

/* The boot GDT, shared by every protocol: see BOOT_CS32 and friends. */
static const uint64_t boot_gdt[] = {
	0,
	0x00cf9b000000ffffULL,      /* 0x08: 32-bit code, 4 GiB, execute/read, accessed */
	0x00af9b000000ffffULL,      /* 0x10: 64-bit code */
	0x00cf93000000ffffULL,      /* 0x18: data, 4 GiB, read/write, accessed */
	0x00008b0000000067ULL,      /* 0x20: busy 32-bit TSS, 104 bytes at 0 */
};

static int boot_place_kernel(const struct boot_image *img, const struct guest_memory *mem,
			     bool copy, struct boot_entry *entry, struct error *err)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i]->probe(img))
			return formats[i]->place(img, mem, copy, entry, err);
	if (elf_is_elf(img)) {
		struct elf_file elf;
		int r = elf_parse(img, &elf, err);
		return r ? r : error_set(err, ENOEXEC, "kernel '%s': ELF without a PVH entry note "
					 "(XEN_ELFNOTE_PHYS32_ENTRY) or a Multiboot header", img->name);
	}
	return error_set(err, ENOEXEC, "kernel '%s' is not a kernel ringvm can boot (expected a "
			 "bzImage, or an ELF with a PVH entry note or a Multiboot header)", img->name);
}

int boot_parse_kernel(const struct boot_image *img, const struct guest_memory *layout,
		      struct boot_entry *entry, struct error *err)
{
	return boot_place_kernel(img, layout, false, entry, err);
}

int boot_load_kernel(const struct boot_image *img, struct guest_memory *mem,
		     struct boot_entry *entry, struct error *err)
{
	return boot_place_kernel(img, mem, true, entry, err);
}

int boot_place_initrd(const struct boot_image *initrd, const struct guest_memory *mem,
		      struct boot_entry *entry, struct error *err)
{
	uint64_t low_end = mem->regions[0].size;
	uint64_t limit = entry->initrd_max && entry->initrd_max < low_end ? entry->initrd_max + 1 : low_end;

	/* As high as allowed, page-aligned, above the kernel: the kernel's own room stays free. */
	if (initrd->size > limit || ((limit - initrd->size) & ~0xfffULL) < entry->image_end ||
	    !boot_range_free(mem, (limit - initrd->size) & ~0xfffULL, initrd->size))
		return error_set(err, ENOSPC, "initrd '%s' (%zu bytes) does not fit in guest RAM between "
				 "the kernel and 0x%llx", initrd->name, initrd->size,
				 (unsigned long long)limit);
	entry->initrd_addr = (limit - initrd->size) & ~0xfffULL;
	entry->initrd_size = initrd->size;
	return 0;
}

int boot_load_initrd(const struct boot_image *initrd, struct guest_memory *mem,
		     struct boot_entry *entry, struct error *err)
{
	int r = boot_place_initrd(initrd, mem, entry, err);
	if (!r)
		memcpy(gpa_to_hva(mem, entry->initrd_addr, initrd->size), initrd->data, initrd->size);
	return r;
}

int boot_check_cmdline(const struct boot_entry *entry, const char *cmdline, struct error *err)
{
	size_t len = strlen(cmdline) + 1;
	uint32_t max = entry->cmdline_max && entry->cmdline_max < BOOT_CMDLINE_MAX
		       ? entry->cmdline_max : BOOT_CMDLINE_MAX;

	if (len > max)
		return error_set(err, E2BIG, "kernel command line is %zu bytes, the kernel takes %u",
				 len - 1, max - 1);
	return 0;
}

int boot_write_info(const struct boot_entry *entry, struct guest_memory *mem, const void *fdt,
		    uint64_t rsdp, const char *cmdline, struct error *err)
{
	size_t len = strlen(cmdline) + 1;
	uint8_t *gdt = gpa_to_hva(mem, BOOT_GDT_ADDR, sizeof(boot_gdt));
	char *line = gpa_to_hva(mem, BOOT_CMDLINE_ADDR, len);
	int r = boot_check_cmdline(entry, cmdline, err);

	if (r)
		return r;
	if (!gdt || !line)
		return error_set(err, ENOSPC, "no room for the boot data in guest RAM");
	memcpy(gdt, boot_gdt, sizeof(boot_gdt));
	memcpy(line, cmdline, len);
	switch (entry->protocol) {
	case BOOT_PVH:
		return pvh_write_start_info(entry, mem, fdt, rsdp, err);
	case BOOT_LINUX64:
		return linux64_write_info(entry, mem, fdt, rsdp, err);
	case BOOT_MULTIBOOT:
		return multiboot_write_info(entry, mem, fdt, err);
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
	case BOOT_LINUX64:
		linux64_cpu_state(entry->entry, regs, sregs);
		break;
	case BOOT_MULTIBOOT:
		multiboot_cpu_state(entry->entry, regs, sregs);
		break;
	}
}

struct kvm_segment boot_flat_segment(uint16_t selector, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type, .present = 1,
		.dpl = 0, .db = !code64, .s = 1, .l = code64, .g = 1,
	};
}

void boot_system_segments(struct kvm_sregs *sregs)
{
	sregs->tr = (struct kvm_segment){
		.base = 0, .limit = 0x67, .selector = BOOT_TSS, .type = 0xb, .present = 1,
	};
	sregs->ldt = (struct kvm_segment){ .type = 0x2, .present = 1, .limit = 0xffff };
	sregs->gdt.base = BOOT_GDT_ADDR;
	sregs->gdt.limit = sizeof(boot_gdt) - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
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
