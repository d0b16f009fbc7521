#include "boot/elf.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool elf_is_elf(const struct boot_image *img)
{
	return img->size >= SELFMAG && !memcmp(img->data, ELFMAG, SELFMAG);
}

int elf_parse(const struct boot_image *img, struct elf_file *elf, struct error *err)
{
	const uint8_t *id = img->data;
	unsigned phentsize, machine, type;
	uint64_t phoff;

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
		phoff = eh.e_phoff;
		elf->phnum = eh.e_phnum;
		elf->entry = eh.e_entry;
		phentsize = eh.e_phentsize;
		machine = eh.e_machine;
		type = eh.e_type;
	} else {
		Elf32_Ehdr eh;
		if (img->size < sizeof(eh))
			return error_set(err, EINVAL, "kernel '%s' is truncated: ELF header", img->name);
		memcpy(&eh, img->data, sizeof(eh));
		phoff = eh.e_phoff;
		elf->phnum = eh.e_phnum;
		elf->entry = eh.e_entry;
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
	if (phoff > img->size || table > img->size - phoff)
		return error_set(err, EINVAL, "kernel '%s' is truncated: program headers past the end",
				 img->name);
	for (unsigned i = 0; i < elf->phnum; i++) {
		const uint8_t *p = img->data + phoff + (uint64_t)i * phentsize;
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

int elf_find_note(const struct boot_image *img, const struct elf_file *elf, const char *name,
		  uint32_t type, const uint8_t **desc_out, uint32_t *desc_len, struct error *err)
{
	uint64_t want_namesz = strlen(name) + 1;

	for (unsigned i = 0; i < elf->phnum; i++) {
		const struct elf_segment *s = &elf->seg[i];
		if (s->type != PT_NOTE)
			continue;
		const uint8_t *p = img->data + s->offset;
		uint64_t left = s->filesz;
		while (left >= 12) {
			uint32_t hdr[3];
			memcpy(hdr, p, sizeof(hdr));
			uint64_t namesz = hdr[0], descsz = hdr[1];
			uint64_t name_pad = (namesz + 3) & ~3ULL, desc_pad = (descsz + 3) & ~3ULL;
			if (name_pad > left - 12 || desc_pad > left - 12 - name_pad)
				return error_set(err, EINVAL, "kernel '%s': malformed ELF note", img->name);
			const uint8_t *note_name = p + 12, *desc = note_name + name_pad;
			if (hdr[2] == type && namesz == want_namesz && !memcmp(note_name, name, namesz)) {
				*desc_out = desc;
				*desc_len = (uint32_t)descsz;
				return 1;
			}
			p += 12 + name_pad + desc_pad;
			left -= 12 + name_pad + desc_pad;
		}
	}
	return 0;
}

static int cmp_paddr(const void *a, const void *b)
{
	const struct elf_segment *x = *(const struct elf_segment *const *)a;
	const struct elf_segment *y = *(const struct elf_segment *const *)b;
	return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

int elf_load(const struct boot_image *img, const struct elf_file *elf,
	     const struct guest_memory *mem, bool copy, struct boot_entry *out, struct error *err)
{
	const struct elf_segment *loads[ELF_MAX_SEGMENTS];
	unsigned nr_loads = 0;

	for (unsigned i = 0; i < elf->phnum; i++) {
		const struct elf_segment *s = &elf->seg[i];
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
	if (!nr_loads)
		return error_set(err, EINVAL, "kernel '%s': nothing to load", img->name);
	qsort(loads, nr_loads, sizeof(loads[0]), cmp_paddr);
	for (unsigned i = 1; i < nr_loads; i++)
		if (loads[i - 1]->paddr + loads[i - 1]->memsz > loads[i]->paddr)
			return error_set(err, EINVAL, "kernel '%s': segments overlap at 0x%llx",
					 img->name, (unsigned long long)loads[i]->paddr);
	for (unsigned i = 0; copy && i < nr_loads; i++) {
		const struct elf_segment *s = loads[i];
		uint8_t *dst = gpa_to_hva(mem, s->paddr, s->memsz);
		memcpy(dst, img->data + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	out->image_start = loads[0]->paddr;
	out->image_end = loads[nr_loads - 1]->paddr + loads[nr_loads - 1]->memsz;
	return 0;
}

bool elf_loads(const struct elf_file *elf, uint64_t addr)
{
	for (unsigned i = 0; i < elf->phnum; i++) {
		const struct elf_segment *s = &elf->seg[i];
		if (s->type == PT_LOAD && addr >= s->paddr && addr - s->paddr < s->memsz)
			return true;
	}
	return false;
}
