/*
 * The three kernel loaders (bzImage, PVH ELF, Multiboot), behind boot_load_kernel's
 * probing, then the initrd's placement and the boot data. The input:
 *   flags (RAM size, initrd size's scale), a kernel length (u32), the kernel image,
 *   an initrd length (u32), then the command line (the rest, NUL-terminated here).
 * Checked, as tests/unit/boot_parse.h does: parsing on RAM's layout alone accepts and
 * refuses exactly what loading does, with the same entry; the same for the initrd;
 * the loaded image and initrd lie in RAM and clear of ringvm's boot data.
 * FUZZ_FORMAT (a kernel_format) makes a target that calls only that loader directly.
 */
#include "boot/boot.h"
#include "firmware/devicetree.h"
#include "fuzz.h"

#define MiB (1ULL << 20)
#define INITRD_MAX (8 * MiB)

static uint8_t initrd_bytes[INITRD_MAX];    /* zeroes: the initrd's contents do not matter */
static uint8_t fdt[FDT_MAX_SIZE];           /* rebuilt for each input */
static char cmdline[BOOT_CMDLINE_MAX * 2];

static void same_entry(const struct boot_entry *a, const struct boot_entry *b)
{
	FZ_CHECK(a->protocol == b->protocol && a->entry == b->entry &&
		 a->image_start == b->image_start && a->image_end == b->image_end &&
		 a->initrd_max == b->initrd_max && a->cmdline_max == b->cmdline_max &&
		 a->setup_header_len == b->setup_header_len &&
		 !memcmp(a->setup_header, b->setup_header, a->setup_header_len),
		 "parse and load found different entries (0x%llx, 0x%llx)",
		 (unsigned long long)a->entry, (unsigned long long)b->entry);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Small: a loader may touch all of it (Multiboot's bss), and each input maps it afresh. */
	static const uint64_t rams[] = { 16 * MiB, 64 * MiB, 128 * MiB, 256 * MiB };
	struct fz f = { data, size };
	struct guest_memory mem, layout;
	struct boot_entry parsed = { 0 }, entry = { 0 };
	struct error perr = { 0 }, err = { 0 };
	struct boot_image kernel = { .name = "fuzz" }, initrd = { .data = initrd_bytes, .name = "initrd" };

	uint8_t flags = fz_u8(&f);
	uint32_t klen = fz_u32(&f);
	kernel.size = fz_take(&f, klen, &kernel.data);
	initrd.size = fz_u32(&f) % INITRD_MAX;
	const uint8_t *rest;
	size_t n = fz_take(&f, sizeof(cmdline) - 1, &rest);
	memcpy(cmdline, rest, n);
	cmdline[n] = 0;
	if (!kernel.size)
		return 0;
	if (guest_memory_create(&mem, rams[flags & 3], &err))
		fz_fail("guest RAM: %s", err.msg);
	guest_memory_layout(&layout, mem.size);

#ifdef FUZZ_FORMAT
	if (!FUZZ_FORMAT.probe(&kernel))
		goto out;
	int pr = FUZZ_FORMAT.place(&kernel, &layout, false, &parsed, &perr);
	int r = FUZZ_FORMAT.place(&kernel, &mem, true, &entry, &err);
#else
	int pr = boot_parse_kernel(&kernel, &layout, &parsed, &perr);
	int r = boot_load_kernel(&kernel, &mem, &entry, &err);
#endif
	FZ_CHECK(pr == r, "parse: %d (%s), load: %d (%s)", pr, perr.msg, r, err.msg);
	FZ_DEBUG("kernel: %d %s\n", r, r ? err.msg : "loaded");
	if (r) {
		FZ_CHECK(!strcmp(perr.msg, err.msg), "parse: %s, load: %s", perr.msg, err.msg);
		goto out;
	}
	same_entry(&parsed, &entry);
	FZ_CHECK(entry.image_start <= entry.image_end && entry.image_end <= mem.size + (4ULL << 30),
		 "image at [0x%llx, 0x%llx)", (unsigned long long)entry.image_start,
		 (unsigned long long)entry.image_end);

	if (initrd.size) {
		struct boot_entry placed = entry;
		int ipr = boot_place_initrd(&initrd, &layout, &placed, &perr);
		int ir = boot_load_initrd(&initrd, &mem, &entry, &err);
		FZ_CHECK(ipr == ir, "initrd: place %d (%s), load %d (%s)", ipr, perr.msg, ir, err.msg);
		FZ_DEBUG("initrd: %d %s\n", ir, ir ? err.msg : "loaded");
		if (!ir) {
			FZ_CHECK(placed.initrd_addr == entry.initrd_addr, "initrd placed apart");
			FZ_CHECK(boot_range_free(&mem, entry.initrd_addr, entry.initrd_size),
				 "initrd at 0x%llx over boot data or outside RAM",
				 (unsigned long long)entry.initrd_addr);
			/* boot_place_initrd reads an initrd_max of 0 (a bzImage's header) as no limit. */
			FZ_CHECK(!entry.initrd_max ||
				 entry.initrd_addr + entry.initrd_size - 1 <= entry.initrd_max,
				 "initrd beyond the kernel's limit");
		}
	}
	if (boot_check_cmdline(&entry, cmdline, &err))
		goto out;
	struct machine_facts facts = { .mem = &mem, .cpus = 1, .cmdline = cmdline,
				       .initrd_addr = entry.initrd_addr, .initrd_size = entry.initrd_size };
	if (fdt_build(&facts, fdt, &err))
		goto out;
	r = boot_write_info(&entry, &mem, fdt, AM_ACPI_BASE, cmdline, &err);
	FZ_DEBUG("boot data: %d %s\n", r, r ? err.msg : "written");
	struct kvm_regs regs = { 0 };
	struct kvm_sregs sregs = { 0 };
	boot_cpu_state(&entry, &regs, &sregs);
out:
	guest_memory_destroy(&mem);
	return 0;
}
