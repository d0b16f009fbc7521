/*
 * ELF kernels with a PVH entry point (Xen's XEN_ELFNOTE_PHYS32_ENTRY note), the
 * format QEMU, Firecracker and Cloud Hypervisor boot vmlinux with. Every field is
 * checked against the file and guest RAM before a byte is copied.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/boot/boot.h"

#define ELF_MAX_SEGMENTS       64
#define XEN_ELFNOTE_PHYS32_ENTRY 18

struct elf_segment {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct elf_file {
	bool is64;
	uint64_t phoff;
	unsigned phnum;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
};

static bool pvh_elf_probe(const struct boot_image *img)
{
	return img->size >= SELFMAG && !memcmp(img->data, ELFMAG, SELFMAG);
}

static int elf_read_header(const struct boot_image *img, struct elf_file *elf, struct error *err)
{
	const uint8_t *id = img->data;
	unsigned phentsize, machine, type;

	if (img->size < EI_NIDENT)
		return error_set(err, EINVAL, "kernel '%s' is truncated: no ELF header", img->name);
	if (id[EI_CLASS] != ELFCLASS64 && id[EI_CLASS] != ELFCLASS32)
		return error_set(err, EINVAL, "kernel '%s': unknown ELF class %u", img->name, id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB || id[EI_VERSION] != EV_CURRENT)
		return error_set(err, EINVAL, "kernel '%s': not a little-endian ELF version 1 file",
				 img->name);
	elf->is64 = id[EI_CLASS] == ELFCLASS64;
	if (elf->is64) {
		Elf64_Ehdr eh;
		if (img->size < sizeof(eh))
			return error_set(err, EINVAL, "kernel '%s' is truncated: ELF header", img->name);
		memcpy(&eh, img->data, sizeof(eh));
		elf->phoff = eh.e_phoff;
		elf->phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
		machine = eh.e_machine;
		type = eh.e_type;
	} else {
		Elf32_Ehdr eh;
		if (img->size < sizeof(eh))
			return error_set(err, EINVAL, "kernel '%s' is truncated: ELF header", img->name);
		memcpy(&eh, img->data, sizeof(eh));
		elf->phoff = eh.e_phoff;
		elf->phnum = eh.e_phnum;
		phentsize = eh.e_phentsize;
		machine = eh.e_machine;
		type = eh.e_type;
	}
	if (machine != (elf->is64 ? EM_X86_64 : EM_386))
		return error_set(err, EINVAL, "kernel '%s': ELF for machine %u, not x86", img->name, machine);
	if (type != ET_EXEC)
		return error_set(err, EINVAL, "kernel '%s': ELF type %u is not an executable", img->name, type);
	if (phentsize != (elf->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return error_set(err, EINVAL, "kernel '%s': bad program header size %u", img->name, phentsize);
	if (elf->phnum == 0 || elf->phnum > ELF_MAX_SEGMENTS)
		return error_set(err, EINVAL, "kernel '%s': %u program headers (1 to %d expected)",
				 img->name, elf->phnum, ELF_MAX_SEGMENTS);
	uint64_t table = (uint64_t)elf->phnum * phentsize;
	if (elf->phoff > img->size || table > img->size - elf->phoff)
		return error_set(err, EINVAL, "kernel '%s' is truncated: program headers past the end",
				 img->name);
	for (unsigned i = 0; i < elf->phnum; i++) {
		const uint8_t *p = img->data + elf->phoff + (uint64_t)i * phentsize;
		struct elf_segment *s = &elf->seg[i];
		if (elf->is64) {
			Elf64_Phdr ph;
			memcpy(&ph, p, sizeof(ph));
			*s = (struct elf_segment){ ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz };
		} else {
			Elf32_Phdr ph;
			memcpy(&ph, p, sizeof(ph));
			*s = (struct elf_segment){ ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz };
		}
		if (s->type != PT_LOAD && s->type != PT_NOTE)
			continue;
		if (s->offset > img->size || s->filesz > img->size - s->offset)
			return error_set(err, EINVAL, "kernel '%s' is truncated: segment %u past the end",
					 img->name, i);
	}
	return 0;
}

/* Walks one PT_NOTE segment for the PVH entry note; 1 if found, 0 if not, <0 if malformed. */
static int elf_find_pvh_note(const struct boot_image *img, const struct elf_segment *s,
			     uint64_t *entry, struct error *err)
{
	const uint8_t *p = img->data + s->offset;
	uint64_t left = s->filesz;

	while (left >= 12) {
		uint32_t hdr[3];
		memcpy(hdr, p, sizeof(hdr));
		uint64_t namesz = hdr[0], descsz = hdr[1];
		uint64_t name_pad = (namesz + 3) & ~3ULL, desc_pad = (descsz + 3) & ~3ULL;
		if (name_pad > left - 12 || desc_pad > left - 12 - name_pad)
			return error_set(err, EINVAL, "kernel '%s': malformed ELF note", img->name);
		const uint8_t *name = p + 12, *desc = name + name_pad;
		if (hdr[2] == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 && !memcmp(name, "Xen", 4)) {
			if (descsz != 4 && descsz != 8)
				return error_set(err, EINVAL, "kernel '%s': PVH entry note of %llu bytes",
						 img->name, (unsigned long long)descsz);
			uint64_t value = 0;
			memcpy(&value, desc, descsz);
			*entry = value;
			return 1;
		}
		p += 12 + name_pad + desc_pad;
		left -= 12 + name_pad + desc_pad;
	}
	return 0;
}

static int cmp_paddr(const void *a, const void *b)
{
	const struct elf_segment *x = *(const struct elf_segment *const *)a;
	const struct elf_segment *y = *(const struct elf_segment *const *)b;
	return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

static int pvh_elf_load(const struct boot_image *img, struct guest_memory *mem,
			struct boot_entry *out, struct error *err)
{
	struct elf_file elf;
	const struct elf_segment *loads[ELF_MAX_SEGMENTS];
	unsigned nr_loads = 0;
	uint64_t entry = 0;
	int found = 0;

	int r = elf_read_header(img, &elf, err);
	if (r)
		return r;
	for (unsigned i = 0; i < elf.phnum; i++) {
		const struct elf_segment *s = &elf.seg[i];
		if (s->type == PT_NOTE && !found) {
			found = elf_find_pvh_note(img, s, &entry, err);
			if (found < 0)
				return found;
		}
		if (s->type != PT_LOAD || !s->memsz)
			continue;
		if (s->filesz > s->memsz)
			return error_set(err, EINVAL, "kernel '%s': segment %u has more file than memory",
					 img->name, i);
		if (s->paddr + s->memsz < s->paddr || !boot_range_free(mem, s->paddr, s->memsz))
			return error_set(err, EINVAL,
					 "kernel '%s': segment %u at 0x%llx-0x%llx is not in free guest RAM",
					 img->name, i, (unsigned long long)s->paddr,
					 (unsigned long long)(s->paddr + s->memsz - 1));
		loads[nr_loads++] = s;
	}
	if (!found)
		return error_set(err, EINVAL, "kernel '%s': ELF without a PVH entry note "
				 "(XEN_ELFNOTE_PHYS32_ENTRY)", img->name);
	if (!nr_loads)
		return error_set(err, EINVAL, "kernel '%s': nothing to load", img->name);

	qsort(loads, nr_loads, sizeof(loads[0]), cmp_paddr);
	bool entry_loaded = false;
	for (unsigned i = 0; i < nr_loads; i++) {
		const struct elf_segment *s = loads[i];
		if (i && loads[i - 1]->paddr + loads[i - 1]->memsz > s->paddr)
			return error_set(err, EINVAL, "kernel '%s': segments overlap at 0x%llx",
					 img->name, (unsigned long long)s->paddr);
		if (entry >= s->paddr && entry - s->paddr < s->memsz)
			entry_loaded = true;
	}
	if (!entry_loaded || entry >= MEM_4G)
		return error_set(err, EINVAL, "kernel '%s': PVH entry 0x%llx is not in a loaded segment",
				 img->name, (unsigned long long)entry);

	for (unsigned i = 0; i < nr_loads; i++) {
		const struct elf_segment *s = loads[i];
		uint8_t *dst = gpa_to_hva(mem, s->paddr, s->memsz);
		memcpy(dst, img->data + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	*out = (struct boot_entry){
		.protocol = BOOT_PVH,
		.entry = entry,
		.image_start = loads[0]->paddr,
		.image_end = loads[nr_loads - 1]->paddr + loads[nr_loads - 1]->memsz,
	};
	return 0;
}

const struct kernel_format pvh_elf_format = {
	.name = "PVH ELF",
	.probe = pvh_elf_probe,
	.load = pvh_elf_load,
};
