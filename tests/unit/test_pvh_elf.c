#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot/boot.h"
#include "boot_parse.h"

#define MiB (1ULL << 20)

struct seg {
	uint32_t type;
	uint64_t paddr, memsz;
	const char *data;       /* file contents, strlen(data) bytes */
};

static uint8_t image[16384];
static struct guest_memory mem;

static void setup(void)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 16 * MiB, &err), 0, "%s", err.msg);
	memset(image, 0, sizeof(image));
}

static void teardown(void) { guest_memory_destroy(&mem); }

TestSuite(pvh_elf, .init = setup, .fini = teardown);

/* Builds an ELF64 executable: header, program headers, the PVH note, segment data. */
static size_t build_elf64(const struct seg *segs, int n, const void *note, size_t note_len)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)image;
	int phnum = n + (note ? 1 : 0);
	size_t off = sizeof(*eh) + phnum * sizeof(Elf64_Phdr);
	Elf64_Phdr *ph = (Elf64_Phdr *)(image + sizeof(*eh));

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)phnum;
	eh->e_ehsize = sizeof(*eh);
	if (note) {
		*ph = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = off, .p_filesz = note_len };
		memcpy(image + off, note, note_len);
		off += note_len;
		ph++;
	}
	for (int i = 0; i < n; i++, ph++) {
		size_t len = segs[i].data ? strlen(segs[i].data) : 0;
		*ph = (Elf64_Phdr){ .p_type = segs[i].type, .p_offset = off, .p_paddr = segs[i].paddr,
				    .p_vaddr = segs[i].paddr, .p_filesz = len, .p_memsz = segs[i].memsz };
		memcpy(image + off, segs[i].data, len);
		off += len;
	}
	return off;
}

struct pvh_note {
	uint32_t namesz, descsz, type;
	char name[4];
	uint64_t entry;
};

static struct pvh_note note_for(uint64_t entry)
{
	return (struct pvh_note){ 4, 8, 18, "Xen", entry };
}

static int load(size_t size, struct boot_entry *entry, struct error *err)
{
	struct boot_image img = { .data = image, .size = size, .name = "k" };
	return parse_then_load(&img, &mem, entry, err);
}

static void expect_refused(size_t size, const char *needle)
{
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_lt(load(size, &entry, &err), 0, "should be refused (%s)", needle);
	cr_assert(strstr(err.msg, needle), "'%s' should mention '%s'", err.msg, needle);
}

Test(pvh_elf, loads_segments_and_finds_the_entry)
{
	struct seg s[] = {
		{ PT_LOAD, 0x100000, 0x10, "code" },
		{ PT_LOAD, 0x200000, 0x2000, "data!" },   /* the rest is bss */
	};
	struct pvh_note n = note_for(0x100002);
	size_t size = build_elf64(s, 2, &n, sizeof(n));
	uint8_t *bss = gpa_to_hva(&mem, 0x200005, 1);
	*bss = 0xee;    /* stale bytes must be zeroed */

	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_eq(load(size, &entry, &err), 0, "%s", err.msg);
	cr_assert_eq(entry.protocol, BOOT_PVH);
	cr_assert_eq(entry.entry, 0x100002);
	cr_assert_eq(entry.image_start, 0x100000);
	cr_assert_eq(entry.image_end, 0x202000);
	cr_assert_eq(memcmp(gpa_to_hva(&mem, 0x100000, 4), "code", 4), 0);
	cr_assert_eq(memcmp(gpa_to_hva(&mem, 0x200000, 5), "data!", 5), 0);
	cr_assert_eq(*bss, 0);
}

Test(pvh_elf, four_byte_note_and_elf32)
{
	struct seg s[] = { { PT_LOAD, 0x100000, 0x10, "abcd" } };
	struct { uint32_t namesz, descsz, type; char name[4]; uint32_t entry; } n = { 4, 4, 18, "Xen", 0x100000 };
	size_t size = build_elf64(s, 1, &n, sizeof(n));
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_eq(load(size, &entry, &err), 0, "%s", err.msg);
	cr_assert_eq(entry.entry, 0x100000);

	/* The same image as ELF32. */
	memset(image, 0, sizeof(image));
	Elf32_Ehdr *eh = (Elf32_Ehdr *)image;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_386;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf32_Phdr);
	eh->e_phnum = 2;
	Elf32_Phdr *ph = (Elf32_Phdr *)(image + sizeof(*eh));
	size_t off = sizeof(*eh) + 2 * sizeof(*ph);
	ph[0] = (Elf32_Phdr){ .p_type = PT_NOTE, .p_offset = off, .p_filesz = sizeof(n) };
	memcpy(image + off, &n, sizeof(n));
	off += sizeof(n);
	ph[1] = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = off, .p_paddr = 0x100000, .p_filesz = 4, .p_memsz = 8 };
	memcpy(image + off, "wxyz", 4);
	cr_assert_eq(load(off + 4, &entry, &err), 0, "%s", err.msg);
	cr_assert_eq(memcmp(gpa_to_hva(&mem, 0x100000, 4), "wxyz", 4), 0);
}

Test(pvh_elf, truncated_images)
{
	struct seg s[] = { { PT_LOAD, 0x100000, 0x10, "code" } };
	struct pvh_note n = note_for(0x100000);
	size_t size = build_elf64(s, 1, &n, sizeof(n));

	expect_refused(10, "no ELF header");
	expect_refused(40, "truncated: ELF header");
	expect_refused(sizeof(Elf64_Ehdr) + 20, "program headers past the end");
	expect_refused(size - 2, "segment 1 past the end");
	expect_refused(size - 4 - sizeof(n) + 4, "segment 0 past the end");   /* the note cut */
}

Test(pvh_elf, segments_must_be_in_free_ram)
{
	struct pvh_note n = note_for(0x100000);
	struct seg beyond[] = { { PT_LOAD, 16 * MiB - 8, 0x10, "x" } };
	expect_refused(build_elf64(beyond, 1, &n, sizeof(n)), "is not in free guest RAM");
	struct seg hole[] = { { PT_LOAD, 0xb8000, 0x10, "vga" } };
	expect_refused(build_elf64(hole, 1, &n, sizeof(n)), "is not in free guest RAM");
	struct seg bootdata[] = { { PT_LOAD, 0x6000, 0x10, "start info" } };
	expect_refused(build_elf64(bootdata, 1, &n, sizeof(n)), "is not in free guest RAM");
	struct seg wraps[] = { { PT_LOAD, UINT64_MAX - 4, 0x10, "w" } };
	expect_refused(build_elf64(wraps, 1, &n, sizeof(n)), "is not in free guest RAM");
	struct seg mmio[] = { { PT_LOAD, 0xfee00000, 0x10, "apic" } };
	expect_refused(build_elf64(mmio, 1, &n, sizeof(n)), "is not in free guest RAM");
}

Test(pvh_elf, overlapping_segments)
{
	struct pvh_note n = note_for(0x100000);
	struct seg s[] = {
		{ PT_LOAD, 0x100800, 0x1000, "b" },
		{ PT_LOAD, 0x100000, 0x1000, "a" },
	};
	expect_refused(build_elf64(s, 2, &n, sizeof(n)), "segments overlap at 0x100800");
}

Test(pvh_elf, note_problems)
{
	struct seg s[] = { { PT_LOAD, 0x100000, 0x10, "code" } };
	expect_refused(build_elf64(s, 1, NULL, 0), "without a PVH entry note");

	struct pvh_note other = note_for(0x100000);
	other.type = 17;
	expect_refused(build_elf64(s, 1, &other, sizeof(other)), "without a PVH entry note");

	struct pvh_note linux_note = note_for(0x100000);
	memcpy(linux_note.name, "Lin", 4);
	expect_refused(build_elf64(s, 1, &linux_note, sizeof(linux_note)), "without a PVH entry note");

	struct pvh_note huge = note_for(0x100000);
	huge.descsz = 0xfffffff0;
	expect_refused(build_elf64(s, 1, &huge, sizeof(huge)), "malformed ELF note");

	struct { uint32_t namesz, descsz, type; char name[4]; uint16_t entry; uint16_t pad; } odd =
		{ 4, 2, 18, "Xen", 0, 0 };
	expect_refused(build_elf64(s, 1, &odd, sizeof(odd)), "PVH entry note of 2 bytes");
}

Test(pvh_elf, entry_must_be_loaded)
{
	struct seg s[] = { { PT_LOAD, 0x100000, 0x10, "code" } };
	struct pvh_note n = note_for(0x100010);
	expect_refused(build_elf64(s, 1, &n, sizeof(n)), "PVH entry 0x100010 is not in a loaded segment");
}

Test(pvh_elf, header_fields_checked)
{
	struct seg s[] = { { PT_LOAD, 0x100000, 0x10, "code" } };
	struct pvh_note n = note_for(0x100000);
	size_t size = build_elf64(s, 1, &n, sizeof(n));
	Elf64_Ehdr *eh = (Elf64_Ehdr *)image;

	eh->e_machine = EM_AARCH64;
	expect_refused(size, "not x86");
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_DYN;
	expect_refused(size, "not an executable");
	eh->e_type = ET_EXEC;
	eh->e_phentsize = 32;
	expect_refused(size, "bad program header size");
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 0;
	expect_refused(size, "program headers");
	eh->e_phnum = 0xffff;
	expect_refused(size, "program headers");
	eh->e_phnum = 2;
	eh->e_phoff = UINT64_MAX - 8;
	expect_refused(size, "program headers past the end");
	eh->e_phoff = sizeof(*eh);
	eh->e_ident[EI_CLASS] = 7;
	expect_refused(size, "unknown ELF class");
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_refused(size, "little-endian");
}

Test(pvh_elf, more_file_than_memory)
{
	struct seg s[] = { { PT_LOAD, 0x100000, 0x2, "code" } };
	struct pvh_note n = note_for(0x100000);
	expect_refused(build_elf64(s, 1, &n, sizeof(n)), "more file than memory");
}

Test(pvh_elf, not_an_elf_at_all)
{
	memcpy(image, "MZ\x90\x00 a PE file!", 16);
	expect_refused(16, "not a kernel ringvm can boot");
}
