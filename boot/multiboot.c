/*
 * Multiboot (version 1) kernels, as QEMU's -kernel loads them: an ELF (or the
 * a.out kludge's load addresses), entered in flat 32-bit protected mode with
 * %eax = 0x2badb002 and %ebx = the Multiboot information.
 */
#include <errno.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/elf.h"
#include "boot/multiboot.h"
#include "boot/pvh.h"
#include "firmware/devicetree.h"

#define MB_MAGIC          0x1badb002
#define MB_BOOT_MAGIC     0x2badb002
#define MB_SEARCH         8192
#define MB_F_AOUT_KLUDGE  (1u << 16)
#define MB_F_KNOWN        (0x7u | MB_F_AOUT_KLUDGE)  /* page-align, memory info, video (ignored) */
#define MBI_MEM           (1u << 0)
#define MBI_CMDLINE       (1u << 2)
#define MBI_MODS          (1u << 3)
#define MBI_MMAP          (1u << 6)
#define MBI_MMAP_OFFSET   0x80
#define MBI_MODS_OFFSET   0x800
#define MBI_MAX_MMAP      64

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/* Offset of a valid Multiboot header in the first 8 KiB, or -1. */
static long mb_find(const struct boot_image *img)
{
	size_t end = img->size < MB_SEARCH ? img->size : MB_SEARCH;

	for (size_t off = 0; off + 12 <= end; off += 4) {
		uint32_t h[3];
		memcpy(h, img->data + off, sizeof(h));
		if (h[0] == MB_MAGIC && (uint32_t)(h[0] + h[1] + h[2]) == 0)
			return (long)off;
	}
	return -1;
}

static bool multiboot_probe(const struct boot_image *img)
{
	return mb_find(img) >= 0;
}

static int load_aout_kludge(const struct boot_image *img, const struct mb_header *h, size_t off,
			    const struct guest_memory *mem, bool copy, struct boot_entry *out,
			    struct error *err)
{
	/* The header's own file offset ties file offsets to load addresses. */
	uint64_t delta = (uint64_t)h->header_addr - h->load_addr;
	if (off + sizeof(*h) > img->size || h->header_addr < h->load_addr || delta > off)
		return error_set(err, EINVAL, "kernel '%s': Multiboot load addresses do not match the file",
				 img->name);
	uint64_t file_off = off - delta;
	uint64_t load_end = h->load_end_addr ? h->load_end_addr : h->load_addr + (img->size - file_off);
	uint64_t bss_end = h->bss_end_addr > load_end ? h->bss_end_addr : load_end;
	if (load_end < h->load_addr || load_end - h->load_addr > img->size - file_off)
		return error_set(err, EINVAL, "kernel '%s' is truncated: Multiboot image past the end",
				 img->name);
	if (!boot_range_free(mem, h->load_addr, bss_end - h->load_addr))
		return error_set(err, EINVAL, "kernel '%s': 0x%x-0x%llx is not in free guest RAM",
				 img->name, h->load_addr, (unsigned long long)bss_end - 1);
	if (copy) {
		uint8_t *dst = gpa_to_hva(mem, h->load_addr, bss_end - h->load_addr);
		memcpy(dst, img->data + file_off, load_end - h->load_addr);
		memset(dst + (load_end - h->load_addr), 0, bss_end - load_end);
	}
	out->image_start = h->load_addr;
	out->image_end = bss_end;
	out->entry = h->entry_addr;
	if (out->entry < out->image_start || out->entry >= out->image_end)
		return error_set(err, EINVAL, "kernel '%s': Multiboot entry 0x%llx is not in the image",
				 img->name, (unsigned long long)out->entry);
	return 0;
}

static int multiboot_place(const struct boot_image *img, const struct guest_memory *mem,
			   bool copy, struct boot_entry *out, struct error *err)
{
	long off = mb_find(img);
	struct mb_header h = { 0 };
	int r;

	memcpy(&h, img->data + off, img->size - (size_t)off < sizeof(h) ? img->size - (size_t)off
									 : sizeof(h));
	if (h.flags & 0xffff & ~MB_F_KNOWN)
		return error_set(err, EINVAL, "kernel '%s' requires Multiboot features ringvm lacks (flags 0x%x)",
				 img->name, h.flags);
	*out = (struct boot_entry){ .protocol = BOOT_MULTIBOOT, .initrd_max = AM_HIGH_RAM_START - 1,
				    .cmdline_max = 4096 };
	if (h.flags & MB_F_AOUT_KLUDGE)
		return load_aout_kludge(img, &h, (size_t)off, mem, copy, out, err);
	struct elf_file elf;
	if (!elf_is_elf(img))
		return error_set(err, EINVAL, "kernel '%s': Multiboot header but neither ELF nor load "
				 "addresses", img->name);
	if ((r = elf_parse(img, &elf, err)) || (r = elf_load(img, &elf, mem, copy, out, err)))
		return r;
	if (!elf_loads(&elf, elf.entry) || elf.entry >= AM_HIGH_RAM_START)
		return error_set(err, EINVAL, "kernel '%s': ELF entry 0x%llx is not in a loaded segment",
				 img->name, (unsigned long long)elf.entry);
	out->entry = elf.entry;
	return 0;
}

const struct kernel_format multiboot_format = {
	.name = "Multiboot",
	.probe = multiboot_probe,
	.place = multiboot_place,
};

int multiboot_write_info(const struct boot_entry *entry, struct guest_memory *mem, const void *fdt,
			 struct error *err)
{
	struct e820_entry map[MBI_MAX_MMAP];
	int got = fdt_e820(fdt, map, MBI_MAX_MMAP);
	if (got < 0)
		return error_set(err, -got, "the device tree has no memory map");
	unsigned n = (unsigned)got;
	uint8_t *mbi = gpa_to_hva(mem, BOOT_START_INFO_ADDR, 0x1000);
	uint32_t info[13] = { 0 };

	if (!mbi)
		return error_set(err, ENOSPC, "no room for the Multiboot information in guest RAM");
	memset(mbi, 0, 0x1000);
	/* mem_upper: KiB of RAM contiguous from 1 MiB, as BIOSes report it. */
	uint64_t upper = mem->regions[0].size > AM_LEGACY_END ? mem->regions[0].size - AM_LEGACY_END : 0;
	info[0] = MBI_MEM | MBI_CMDLINE | MBI_MMAP;
	info[1] = 640;
	info[2] = (uint32_t)(upper >> 10);
	info[4] = BOOT_CMDLINE_ADDR;
	uint8_t *mmap = mbi + MBI_MMAP_OFFSET;
	for (unsigned i = 0; i < n; i++) {
		uint32_t size = 20;
		memcpy(mmap + i * 24, &size, 4);
		memcpy(mmap + i * 24 + 4, &map[i].addr, 8);
		memcpy(mmap + i * 24 + 12, &map[i].size, 8);
		memcpy(mmap + i * 24 + 20, &map[i].type, 4);
	}
	info[11] = n * 24;
	info[12] = BOOT_START_INFO_ADDR + MBI_MMAP_OFFSET;
	if (entry->initrd_size) {
		uint32_t mod[4] = { (uint32_t)entry->initrd_addr,
				    (uint32_t)(entry->initrd_addr + entry->initrd_size), 0, 0 };
		memcpy(mbi + MBI_MODS_OFFSET, mod, sizeof(mod));
		info[0] |= MBI_MODS;
		info[5] = 1;
		info[6] = BOOT_START_INFO_ADDR + MBI_MODS_OFFSET;
	}
	memcpy(mbi, info, sizeof(info));
	return 0;
}

void multiboot_cpu_state(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	pvh_cpu_state(entry, regs, sregs);      /* the same flat 32-bit protected mode */
	regs->rax = MB_BOOT_MAGIC;
	regs->rbx = BOOT_START_INFO_ADDR;
}
