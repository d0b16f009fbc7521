#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "boot_parse.h"
#include "boot_tree.h"

#define MiB (1ULL << 20)

static struct guest_memory mem;
static uint8_t *image;
static size_t image_size;

static void put16(size_t off, uint16_t v) { memcpy(image + off, &v, 2); }
static void put32(size_t off, uint32_t v) { memcpy(image + off, &v, 4); }
static void put64(size_t off, uint64_t v) { memcpy(image + off, &v, 8); }

/* A bzImage as Linux's build makes them: setup sectors, then the protected-mode kernel. */
static void build(unsigned setup_sects, size_t kernel_bytes, uint32_t init_size)
{
	image_size = (setup_sects + 1) * 512 + kernel_bytes;
	image = calloc(1, image_size);
	image[0x1f1] = (uint8_t)setup_sects;
	put16(0x1fe, 0xaa55);
	image[0x200] = 0xeb;
	image[0x201] = 0x6a;                  /* header through 0x26c */
	put32(0x202, 0x53726448);             /* "HdrS" */
	put16(0x206, 0x020f);
	image[0x211] = 0x01;                  /* LOADED_HIGH */
	put32(0x22c, 0x7fffffff);             /* initrd_addr_max */
	put32(0x230, 0x200000);               /* kernel_alignment */
	image[0x234] = 1;
	image[0x236] = 0x03;                  /* XLF_KERNEL_64, can go above 4 GiB */
	put32(0x238, 2047);                   /* cmdline_size */
	put64(0x258, 0x1000000);              /* pref_address */
	put32(0x260, init_size);
	for (size_t i = 0; i < kernel_bytes; i++)
		image[(setup_sects + 1) * 512 + i] = (uint8_t)(i * 13 + 1);
}

static void setup(void)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 64 * MiB, &err), 0, "%s", err.msg);
	image = NULL;
}

static void teardown(void)
{
	free(image);
	guest_memory_destroy(&mem);
}

TestSuite(bzimage, .init = setup, .fini = teardown);

static int load(struct boot_entry *entry, struct error *err)
{
	struct boot_image img = { .data = image, .size = image_size, .name = "bz" };
	return parse_then_load(&img, &mem, entry, err);
}

static void expect_refused(const char *needle)
{
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_lt(load(&entry, &err), 0, "should be refused (%s)", needle);
	cr_assert(strstr(err.msg, needle), "'%s' should mention '%s'", err.msg, needle);
}

Test(bzimage, loads_at_the_preferred_address)
{
	build(31, 8192, 4 * MiB);
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_eq(load(&entry, &err), 0, "%s", err.msg);
	cr_assert_eq(entry.protocol, BOOT_LINUX64);
	cr_assert_eq(entry.entry, 0x1000200, "startup_64");
	cr_assert_eq(entry.image_end, 0x1000000 + 4 * MiB, "init_size is the kernel's own room");
	cr_assert_eq(memcmp(gpa_to_hva(&mem, 0x1000000, 8192), image + 32 * 512, 8192), 0);
	cr_assert_eq(entry.setup_header_len, 0x26c - 0x1f1);
	cr_assert_eq(entry.cmdline_max, 2048);
}

Test(bzimage, zero_page_page_tables_and_entry_state)
{
	build(4, 4096, 1 * MiB);
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_eq(load(&entry, &err), 0, "%s", err.msg);
	static const uint8_t rd[5000] = { 1, 2, 3 };
	struct boot_image initrd = { .data = rd, .size = sizeof(rd), .name = "rd" };
	cr_assert_eq(boot_load_initrd(&initrd, &mem, &entry, &err), 0, "%s", err.msg);
	cr_assert_eq(boot_write_info(&entry, &mem, tree(&mem), TEST_RSDP, "console=ttyS0", &err), 0, "%s", err.msg);

	const uint8_t *zp = gpa_to_hva(&mem, BOOT_ZERO_PAGE_ADDR, 4096);
	uint32_t v;
	cr_assert_eq(memcmp(zp + 0x202, "HdrS", 4), 0, "setup header copied");
	cr_assert_eq(zp[0x210], 0xff, "type_of_loader");
	memcpy(&v, zp + 0x228, 4);
	cr_assert_eq(v, BOOT_CMDLINE_ADDR);
	cr_assert_str_eq((char *)gpa_to_hva(&mem, v, 1), "console=ttyS0");
	memcpy(&v, zp + 0x218, 4);
	cr_assert_eq(v, entry.initrd_addr);
	cr_assert_eq(v % 4096, 0, "initrd page-aligned");
	cr_assert_geq(v, entry.image_end, "above the kernel's room");
	cr_assert_leq(v + sizeof(rd), 64 * MiB, "in RAM");
	cr_assert_eq(*(uint8_t *)gpa_to_hva(&mem, v + 2, 1), 3);
	memcpy(&v, zp + 0x21c, 4);
	cr_assert_eq(v, sizeof(rd));
	cr_assert_eq(zp[0x1e8], 5, "e820 entries");
	uint64_t addr, size;
	uint32_t type;
	memcpy(&addr, zp + 0x2d0 + 40, 8);
	memcpy(&size, zp + 0x2d0 + 48, 8);
	memcpy(&type, zp + 0x2d0 + 56, 4);
	cr_assert_eq(addr, 0x100000);
	cr_assert_eq(addr + size, 64 * MiB);
	cr_assert_eq(type, 1);

	const uint64_t *pml4 = gpa_to_hva(&mem, BOOT_PAGE_TABLES, 4096);
	const uint64_t *pdpt = gpa_to_hva(&mem, pml4[0] & ~0xfffULL, 4096);
	const uint64_t *pd3 = gpa_to_hva(&mem, pdpt[3] & ~0xfffULL, 4096);
	cr_assert_eq(pd3[511] & ~0xfffULL, 0xffe00000ULL, "the last 2 MiB of 4 GiB, identity");
	cr_assert_eq(pd3[511] & 0x83, 0x83, "present, writable, large");

	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	boot_cpu_state(&entry, &regs, &sregs);
	cr_assert_eq(regs.rip, 0x1000200);
	cr_assert_eq(regs.rsi, BOOT_ZERO_PAGE_ADDR);
	cr_assert_eq(sregs.cs.l, 1, "long mode code");
	cr_assert_eq(sregs.cs.selector, 0x10, "__BOOT_CS");
	cr_assert_eq(sregs.ds.selector, 0x18, "__BOOT_DS");
	cr_assert_eq(sregs.efer & 0x500, 0x500);
	cr_assert(sregs.cr0 & 0x80000000, "paging");
	cr_assert(sregs.cr4 & 0x20, "PAE");
	cr_assert_eq(sregs.cr3, BOOT_PAGE_TABLES);
}

Test(bzimage, hostile_headers)
{
	build(31, 4096, 1 * MiB);
	image[0x1f1] = 200;                       /* setup larger than the file */
	expect_refused("is truncated: 200 setup sectors");
	free(image);

	build(4, 4096, 128 * MiB);                /* wants more room than RAM */
	expect_refused("needs 0x1000000-0x8ffffff");
	free(image);

	build(4, 4096, 1 * MiB);
	put16(0x206, 0x0209);
	expect_refused("boot protocol 2.09, ringvm needs 2.10");
	put16(0x206, 0x020f);
	image[0x236] = 0;
	expect_refused("not a 64-bit bzImage");
	image[0x236] = 1;
	put64(0x258, 0xffffffffffe00000ULL);      /* a preferred address that wraps */
	expect_refused("needs");
	put64(0x258, 0x1000000);
	put32(0x230, 0x300000);                   /* not a power of two */
	expect_refused("is not 3145728-aligned");
	put32(0x230, 0x200000);
	put64(0x258, 0x1100000);                  /* not aligned */
	expect_refused("is not 2097152-aligned");
	put64(0x258, 0x1000000);
	image_size = 0x240;                       /* cut inside the header */
	expect_refused("truncated: setup header");
}

Test(bzimage, initrd_that_does_not_fit)
{
	build(4, 4096, 1 * MiB);
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_eq(load(&entry, &err), 0, "%s", err.msg);
	static uint8_t big[63 * MiB];
	struct boot_image initrd = { .data = big, .size = sizeof(big), .name = "big.img" };
	cr_assert_eq(boot_load_initrd(&initrd, &mem, &entry, &err), -ENOSPC);
	cr_assert(strstr(err.msg, "initrd 'big.img'"), "%s", err.msg);
	/* initrd_addr_max below the RAM top: the initrd ends under it. */
	struct boot_entry low = entry;
	struct error ok = { 0 };
	low.initrd_max = 0x2ffffff;
	struct boot_image small = { .data = big, .size = 4096, .name = "small" };
	cr_assert_eq(boot_load_initrd(&small, &mem, &low, &ok), 0, "%s", ok.msg);
	cr_assert_leq(low.initrd_addr + 4096, 0x3000000);
}

Test(bzimage, command_line_limited_by_the_kernel)
{
	build(4, 4096, 1 * MiB);
	put32(0x238, 10);
	struct boot_entry entry;
	struct error err = { 0 };
	cr_assert_eq(load(&entry, &err), 0, "%s", err.msg);
	cr_assert_eq(boot_write_info(&entry, &mem, tree(&mem), TEST_RSDP, "0123456789A", &err), -E2BIG);
	cr_assert(strstr(err.msg, "the kernel takes 10"), "%s", err.msg);
}

Test(bzimage, initrd_and_cmdline_checked_before_ram_exists)
{
	build(4, 4096, 1 * MiB);
	struct boot_entry entry, placed;
	struct error err = { 0 };
	cr_assert_eq(load(&entry, &err), 0, "%s", err.msg);
	placed = entry;
	struct guest_memory layout;
	guest_memory_layout(&layout, mem.size);
	static const uint8_t rd[5000] = { 1 };
	struct boot_image initrd = { .data = rd, .size = sizeof(rd), .name = "rd" };
	cr_assert_eq(boot_place_initrd(&initrd, &layout, &placed, &err), 0, "%s", err.msg);
	cr_assert_eq(boot_load_initrd(&initrd, &mem, &entry, &err), 0, "%s", err.msg);
	cr_assert_eq(placed.initrd_addr, entry.initrd_addr, "where the load puts it");
	cr_assert_eq(placed.initrd_size, sizeof(rd));

	static char line[2049];
	memset(line, 'x', 2047);
	cr_assert_eq(boot_check_cmdline(&entry, line, &err), 0, "cmdline_size 2047: %s", err.msg);
	line[2047] = 'x';
	cr_assert_eq(boot_check_cmdline(&entry, line, &err), -E2BIG);
	cr_assert(strstr(err.msg, "the kernel takes 2047"), "%s", err.msg);
}
