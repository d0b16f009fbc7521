/*
 * ELF kernels with a PVH entry point (Xen's XEN_ELFNOTE_PHYS32_ENTRY note), the
 * format QEMU, Firecracker and Cloud Hypervisor boot vmlinux with.
 */
#include <errno.h>
#include <string.h>

#include "boot/boot.h"
#include "boot/elf.h"
#include "boot/boot.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* The PVH entry point, if the image is an ELF that has one: 1, 0, or <0 if malformed. */
static int pvh_entry(const struct boot_image *img, struct elf_file *elf, uint64_t *entry,
		     struct error *err)
{
	const uint8_t *desc;
	uint32_t len;

	int r = elf_parse(img, elf, err);
	if (r)
		return r;
	r = elf_find_note(img, elf, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc, &len, err);
	if (r <= 0)
		return r;
	if (len != 4 && len != 8)
		return error_set(err, EINVAL, "kernel '%s': PVH entry note of %u bytes", img->name, len);
	*entry = 0;
	memcpy(entry, desc, len);
	return 1;
}

static bool pvh_elf_probe(const struct boot_image *img)
{
	struct elf_file elf;
	struct error quiet = { 0 };
	uint64_t entry;

	/* A malformed PVH ELF is still ours: the load reports what is wrong with it. */
	if (!elf_is_elf(img))
		return false;
	int r = pvh_entry(img, &elf, &entry, &quiet);
	return r != 0;
}

static int pvh_elf_place(const struct boot_image *img, const struct guest_memory *mem, bool copy,
			 struct boot_entry *out, struct error *err)
{
	struct elf_file elf;
	uint64_t entry = 0;

	*out = (struct boot_entry){ 0 };
	int r = pvh_entry(img, &elf, &entry, err);
	if (r < 0)
		return r;
	if ((r = elf_load(img, &elf, mem, copy, out, err)))
		return r;
	if (!elf_loads(&elf, entry) || entry >= AM_HIGH_RAM_START)
		return error_set(err, EINVAL, "kernel '%s': PVH entry 0x%llx is not in a loaded segment",
				 img->name, (unsigned long long)entry);
	out->protocol = BOOT_PVH;
	out->entry = entry;
	out->initrd_max = AM_HIGH_RAM_START - 1;
	out->cmdline_max = BOOT_CMDLINE_MAX;
	return 0;
}

const struct kernel_format pvh_elf_format = {
	.name = "PVH ELF",
	.probe = pvh_elf_probe,
	.place = pvh_elf_place,
};
