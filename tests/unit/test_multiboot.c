#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "boot/boot.h"
#include "boot_parse.h"
#include "boot_tree.h"

#define MiB (1ULL << 20)

static struct guest_memory mem;
static uint8_t image[8192];

static void setup(void)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 32 * MiB, &err), 0, "%s", err.msg);
	memset(image, 0, sizeof(image));
}

static void teardown(void) { guest_memory_destroy(&mem); }

TestSuite(multiboot, .init = setup, .fini = teardown);

/* The a.out kludge: the header gives the load addresses; the file loads at 1 MiB. */
static size_t build_kludge(uint32_t flags)
{
	uint32_t h[8] = { 0x1badb002, flags | (1u << 16), 0, 0x100040, 0x100000, 0x101000, 0x102000,
			  0x100080 };
	h[2] = (uint32_t)-(h[0] + h[1]);
	memcpy(image + 0x40, h, sizeof(h));
	memset(image + 0x80, 0x90, 16);
	return 0x1000;
}

static int load(size_t size, struct boot_entry *entry, struct error *err)
{
	struct boot_image img = { .data = image, .size = size, .name = "mb" };
	return parse_then_load(&img, &mem, entry, err);
}

Test(multiboot, aout_kludge_loads_and_enters)
{
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_eq(load(build_kludge(0x3), &entry, &err), 0, "%s", err.msg);
	cr_assert_eq(entry.protocol, BOOT_MULTIBOOT);
	cr_assert_eq(entry.entry, 0x100080);
	cr_assert_eq(entry.image_end, 0x102000, "bss included");
	cr_assert_eq(*(uint8_t *)gpa_to_hva(&mem, 0x100080, 1), 0x90);

	static const uint8_t rd[100] = { 9 };
	struct boot_image initrd = { .data = rd, .size = sizeof(rd), .name = "rd" };
	cr_assert_eq(boot_load_initrd(&initrd, &mem, &entry, &err), 0, "%s", err.msg);
	cr_assert_eq(boot_write_info(&entry, &mem, tree(&mem), TEST_RSDP, "root=/dev/vda", &err), 0, "%s", err.msg);
	const uint32_t *mbi = gpa_to_hva(&mem, BOOT_START_INFO_ADDR, 64);
	cr_assert_eq(mbi[0] & 0x4d, 0x4d, "memory, command line, modules, memory map");
	cr_assert_eq(mbi[1], 640);
	cr_assert_eq(mbi[2], 31 * 1024, "KiB above 1 MiB");
	cr_assert_str_eq((char *)gpa_to_hva(&mem, mbi[4], 1), "root=/dev/vda");
	cr_assert_eq(mbi[5], 1, "one module");
	const uint32_t *mod = gpa_to_hva(&mem, mbi[6], 16);
	cr_assert_eq(mod[0], entry.initrd_addr);
	cr_assert_eq(mod[1] - mod[0], sizeof(rd));
	cr_assert_eq(mbi[11] % 24, 0, "memory map in 24-byte entries");

	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	boot_cpu_state(&entry, &regs, &sregs);
	cr_assert_eq(regs.rax, 0x2badb002);
	cr_assert_eq(regs.rbx, BOOT_START_INFO_ADDR);
	cr_assert_eq(sregs.cs.db, 1, "32-bit");
	cr_assert_eq(sregs.cr0 & 0x80000001, 1);
}

Test(multiboot, bad_headers)
{
	struct boot_entry entry;
	struct error err = { 0 };
	build_kludge(0x3);
	image[0x48] ^= 1;                          /* the checksum no longer adds up */
	cr_assert_lt(load(0x1000, &entry, &err), 0);
	cr_assert(strstr(err.msg, "not a kernel ringvm can boot"), "%s", err.msg);

	struct error e2 = { 0 };
	build_kludge(0x3 | 0x100);                 /* a flag ringvm does not know */
	cr_assert_lt(load(0x1000, &entry, &e2), 0);
	cr_assert(strstr(e2.msg, "requires Multiboot features"), "%s", e2.msg);

	struct error e3 = { 0 };
	build_kludge(0x3);
	uint32_t entry_addr = 0x300000;            /* outside the image */
	memcpy(image + 0x40 + 28, &entry_addr, 4);
	cr_assert_lt(load(0x1000, &entry, &e3), 0);
	cr_assert(strstr(e3.msg, "not in the image"), "%s", e3.msg);

	struct error e4 = { 0 };
	build_kludge(0x3);
	uint32_t load_end = 0x180000;              /* more than the file holds */
	memcpy(image + 0x40 + 20, &load_end, 4);
	cr_assert_lt(load(0x1000, &entry, &e4), 0);
	cr_assert(strstr(e4.msg, "truncated"), "%s", e4.msg);
}

Test(multiboot, elf_with_header)
{
	Elf32_Ehdr *eh = (Elf32_Ehdr *)image;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_386;
	eh->e_entry = 0x100010;
	eh->e_phoff = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf32_Phdr);
	eh->e_phnum = 1;
	Elf32_Phdr *ph = (Elf32_Phdr *)(image + sizeof(*eh));
	*ph = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = 0x1000, .p_paddr = 0x100000, .p_filesz = 0x100,
			    .p_memsz = 0x200 };
	uint32_t h[3] = { 0x1badb002, 0x3, 0 };
	h[2] = (uint32_t)-(h[0] + h[1]);
	memcpy(image + 0x100, h, sizeof(h));
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_eq(load(sizeof(image), &entry, &err), 0, "%s", err.msg);
	cr_assert_eq(entry.protocol, BOOT_MULTIBOOT);
	cr_assert_eq(entry.entry, 0x100010);
}
