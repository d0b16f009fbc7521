/* ELF executables as kernels: headers checked against the file, segments against guest RAM. */
#ifndef RINGVM_ELF_H
#define RINGVM_ELF_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"

#define ELF_MAX_SEGMENTS 64

struct elf_segment {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct elf_file {
	bool is64;
	uint64_t entry;             /* e_entry */
	unsigned phnum;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
};

/* True if the image starts with the ELF magic. */
bool elf_is_elf(const struct boot_image *img);

/* Checks the ELF and program headers of an x86 executable; every PT_LOAD/PT_NOTE lies in the file. */
int elf_parse(const struct boot_image *img, struct elf_file *elf, struct error *err);

/* Finds a note by owner name and type in the PT_NOTE segments: 1 (desc set), 0, or <0 if malformed. */
int elf_find_note(const struct boot_image *img, const struct elf_file *elf, const char *name,
		  uint32_t type, const uint8_t **desc, uint32_t *desc_len, struct error *err);

/* Checks the PT_LOAD segments are in free RAM and disjoint; copies them there only if copy. */
int elf_load(const struct boot_image *img, const struct elf_file *elf,
	     const struct guest_memory *mem, bool copy, struct boot_entry *out, struct error *err);

/* True if addr lies in a loaded segment. */
bool elf_loads(const struct elf_file *elf, uint64_t addr);

#endif
