/* Booting a kernel: reading its image, loading it in whichever format it is, entering it. */
#ifndef RINGVM_BOOT_H
#define RINGVM_BOOT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/address_map.h"
#include "services/error.h"
#include "services/memory.h"

#define BOOT_CMDLINE_MAX     2048       /* Linux's x86 COMMAND_LINE_SIZE, NUL included */

/* Where the boot data ringvm writes goes (abi/address_map.h); kernels may not load over it. */
#define BOOT_GDT_ADDR        AM_BOOT_GDT
#define BOOT_START_INFO_ADDR AM_BOOT_START_INFO
#define BOOT_ZERO_PAGE_ADDR  AM_BOOT_ZERO_PAGE
#define BOOT_PAGE_TABLES     AM_BOOT_PAGE_TABLES    /* Linux's 64-bit entry */
#define BOOT_CMDLINE_ADDR    AM_BOOT_CMDLINE
#define BOOT_DATA_START      AM_BOOT_DATA_START
#define BOOT_DATA_END        AM_BOOT_DATA_END

/* The boot GDT's selectors: Linux's 64-bit boot protocol wants code at 0x10, data at 0x18. */
#define BOOT_CS32            0x08
#define BOOT_CS64            0x10
#define BOOT_DS              0x18
#define BOOT_TSS             0x20

struct boot_image {
	const uint8_t *data;
	size_t size;
	const char *name;       /* the path, or "built-in guest", for messages */
	bool owned;             /* data was allocated by boot_image_read */
};

enum boot_protocol { BOOT_PVH, BOOT_LINUX64, BOOT_MULTIBOOT };

#define BOOT_SETUP_HEADER_MAX 0x80  /* bytes of Linux's setup header kept for the zero page */

struct boot_entry {
	enum boot_protocol protocol;
	uint64_t entry;         /* guest-physical entry point */
	uint64_t image_start;   /* lowest and one past the highest byte loaded */
	uint64_t image_end;
	uint64_t initrd_addr, initrd_size;
	uint64_t initrd_max;    /* highest address an initrd may reach (inclusive) */
	uint32_t cmdline_max;   /* bytes the kernel accepts, NUL included */
	uint8_t setup_header[BOOT_SETUP_HEADER_MAX];   /* Linux: from offset 0x1f1 */
	uint32_t setup_header_len;
};

/*
 * A kernel format: probe says whether an image is of it; place checks the image
 * against mem's layout and fills entry, and copies it into mem's RAM only if copy
 * (so that the same checks run before the RAM exists, and again when loading).
 */
struct kernel_format {
	const char *name;
	bool (*probe)(const struct boot_image *img);
	int (*place)(const struct boot_image *img, const struct guest_memory *mem, bool copy,
		     struct boot_entry *entry, struct error *err);
};

/* Reads a kernel or initrd file (regular, non-empty, no larger than max_size); what names it. */
int boot_image_read(const char *path, const char *what, uint64_t max_size,
		    struct boot_image *img, struct error *err);

/* Frees what boot_image_read allocated. */
void boot_image_free(struct boot_image *img);

/* Checks img, in the first format that recognizes it, against layout's RAM (unmapped is fine). */
int boot_parse_kernel(const struct boot_image *img, const struct guest_memory *layout,
		      struct boot_entry *entry, struct error *err);

/* Loads img with the first format that recognizes it. */
int boot_load_kernel(const struct boot_image *img, struct guest_memory *mem,
		     struct boot_entry *entry, struct error *err);

/* Chooses where an initrd goes (entry's initrd_addr/size), as boot_load_initrd would; copies nothing. */
int boot_place_initrd(const struct boot_image *initrd, const struct guest_memory *layout,
		      struct boot_entry *entry, struct error *err);

/* Places an initrd as high as the protocol allows in free RAM above the kernel. */
int boot_load_initrd(const struct boot_image *initrd, struct guest_memory *mem,
		     struct boot_entry *entry, struct error *err);

/* Checks that the kernel takes a command line as long as cmdline. */
int boot_check_cmdline(const struct boot_entry *entry, const char *cmdline, struct error *err);

/*
 * Writes the protocol's boot data (start info, memory map, command line) into guest
 * RAM; the memory map comes from the machine description fdt, the RSDP is at rsdp.
 */
int boot_write_info(const struct boot_entry *entry, struct guest_memory *mem, const void *fdt,
		    uint64_t rsdp, const char *cmdline, struct error *err);

/* Sets the boot vCPU's registers for entry (sregs as read from KVM, modified in place). */
void boot_cpu_state(const struct boot_entry *entry, struct kvm_regs *regs,
		    struct kvm_sregs *sregs);

/* A flat 4 GiB segment as if loaded from the boot GDT; code64 makes a long-mode code segment. */
struct kvm_segment boot_flat_segment(uint16_t selector, uint8_t type, bool code64);

/* TR, LDTR, GDTR and IDTR as every protocol enters: the boot GDT, no IDT. */
void boot_system_segments(struct kvm_sregs *sregs);

/* True if [addr, addr+size) is usable RAM that ringvm's boot data does not occupy. */
bool boot_range_free(const struct guest_memory *mem, uint64_t addr, uint64_t size);

/* The formats (bzimage.c, pvh_elf.c, multiboot.c). */
extern const struct kernel_format bzimage_format;
extern const struct kernel_format pvh_elf_format;
extern const struct kernel_format multiboot_format;

#endif
