#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "abi/pvh.h"
#include "boot/boot.h"
#include "boot_tree.h"
#include "boot/pvh.h"
#include "machine/config.h"

#define MiB (1ULL << 20)

static struct guest_memory mem;

static void setup(void)
{
	struct error err = { 0 };
	cr_assert_eq(guest_memory_create(&mem, 64 * MiB, &err), 0, "%s", err.msg);
}

static void teardown(void) { guest_memory_destroy(&mem); }

TestSuite(pvh, .init = setup, .fini = teardown);

Test(pvh, start_info_memmap_and_cmdline)
{
	struct boot_entry entry = { .protocol = BOOT_PVH, .entry = 0x100000 };
	struct error err = { 0 };
	cr_assert_eq(boot_write_info(&entry, &mem, tree(&mem), TEST_RSDP, "console=ttyS0 test=smp", &err), 0, "%s", err.msg);

	struct hvm_start_info info;
	memcpy(&info, gpa_to_hva(&mem, BOOT_START_INFO_ADDR, sizeof(info)), sizeof(info));
	cr_assert_eq(info.magic, XEN_HVM_START_MAGIC_VALUE);
	cr_assert_eq(info.version, 1);
	cr_assert_eq(info.nr_modules, 0);
	cr_assert_str_eq((char *)gpa_to_hva(&mem, info.cmdline_paddr, 1), "console=ttyS0 test=smp");
	cr_assert_eq(info.memmap_entries, 5);

	struct hvm_memmap_table_entry map[5];
	memcpy(map, gpa_to_hva(&mem, info.memmap_paddr, sizeof(map)), sizeof(map));
	cr_assert_eq(map[0].addr, 0);
	cr_assert_eq(map[0].type, XEN_HVM_MEMMAP_TYPE_RAM);
	cr_assert_eq(map[2].addr, 0x100000);
	cr_assert_eq(map[2].addr + map[2].size, 64 * MiB);
	cr_assert_eq(map[2].type, XEN_HVM_MEMMAP_TYPE_RAM);
	cr_assert_eq(map[3].type, XEN_HVM_MEMMAP_TYPE_RESERVED);
	cr_assert_eq(map[4].type, XEN_HVM_MEMMAP_TYPE_RESERVED);
	cr_assert_eq(info.nr_modules, 0, "no initrd, no module");
	/* Everything ringvm wrote lies inside its own boot data window. */
	cr_assert_leq(info.memmap_paddr + sizeof(map), BOOT_CMDLINE_ADDR);
	cr_assert_geq(info.memmap_paddr, BOOT_DATA_START);
}

Test(pvh, command_line_limit)
{
	static char big[BOOT_CMDLINE_MAX + 1];
	struct boot_entry entry = { .protocol = BOOT_PVH };
	struct error err = { 0 };
	memset(big, 'a', BOOT_CMDLINE_MAX);
	cr_assert_eq(boot_write_info(&entry, &mem, tree(&mem), TEST_RSDP, big, &err), -E2BIG);
	big[BOOT_CMDLINE_MAX - 1] = '\0';
	struct error ok = { 0 };
	cr_assert_eq(boot_write_info(&entry, &mem, tree(&mem), TEST_RSDP, big, &ok), 0, "%s", ok.msg);
}

Test(pvh, entry_state_is_flat_protected_mode)
{
	struct boot_entry entry = { .protocol = BOOT_PVH, .entry = 0x1234567 };
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	memset(&sregs, 0xcc, sizeof(sregs));   /* whatever KVM had */
	boot_cpu_state(&entry, &regs, &sregs);

	cr_assert_eq(regs.rip, 0x1234567);
	cr_assert_eq(regs.rbx, BOOT_START_INFO_ADDR);
	cr_assert_eq(regs.rflags, 0x2, "interrupts off");
	cr_assert_eq(sregs.cr0 & 0x80000001, 0x1, "PE on, PG off");
	cr_assert_eq(sregs.cr4, 0);
	cr_assert_eq(sregs.efer, 0);
	cr_assert_eq(sregs.cs.db, 1, "32-bit code");
	cr_assert_eq(sregs.cs.l, 0);
	cr_assert_eq(sregs.cs.base, 0);
	cr_assert_eq(sregs.cs.limit, 0xffffffff);
	cr_assert_eq(sregs.cs.type & 0x8, 0x8, "code segment");
	cr_assert_eq(sregs.ss.type & 0x8, 0, "data segment");
	cr_assert_eq(sregs.ds.selector, sregs.ss.selector);
	cr_assert_eq(sregs.tr.type, 0xb, "busy TSS");
	cr_assert_eq(sregs.gdt.base, BOOT_GDT_ADDR);
}

Test(pvh, boot_gdt_matches_the_loaded_segments)
{
	struct boot_entry entry = { .protocol = BOOT_PVH, .entry = 0x100000 };
	struct error err = { 0 };
	struct kvm_regs regs;
	struct kvm_sregs sregs = { 0 };
	cr_assert_eq(boot_write_info(&entry, &mem, tree(&mem), TEST_RSDP, "", &err), 0);
	boot_cpu_state(&entry, &regs, &sregs);

	const uint8_t *gdt = gpa_to_hva(&mem, BOOT_GDT_ADDR, 32);
	uint64_t cs, ds;
	memcpy(&cs, gdt + sregs.cs.selector, 8);
	memcpy(&ds, gdt + sregs.ds.selector, 8);
	cr_assert_eq((cs >> 40) & 0xf, sregs.cs.type, "descriptor type of CS");
	cr_assert_eq((cs >> 54) & 1, sregs.cs.db);
	cr_assert_eq((ds >> 40) & 0xf, sregs.ds.type, "descriptor type of DS");
	cr_assert_eq(sregs.gdt.limit, 39, "null, code32, code64, data, TSS");
}
