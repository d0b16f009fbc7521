/* Booting a kernel: reading its image, loading it in whichever format it is, entering it. */
#ifndef RINGVM_BOOT_H
#define RINGVM_BOOT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/error.h"
#include "vmm/memory.h"

/* Guest-physical addresses of the boot data ringvm writes; kernels may not load over them. */
#define BOOT_GDT_ADDR        0x500
#define BOOT_START_INFO_ADDR 0x6000
#define BOOT_CMDLINE_ADDR    0x7000
#define BOOT_DATA_START      BOOT_GDT_ADDR
#define BOOT_DATA_END        0x8000

struct boot_image {
	const uint8_t *data;
	size_t size;
	const char *name;       /* the path, or "built-in guest", for messages */
	bool owned;             /* data was allocated by boot_image_read */
};

enum boot_protocol { BOOT_PVH };

struct boot_entry {
	enum boot_protocol protocol;
	uint64_t entry;         /* guest-physical entry point */
	uint64_t image_start;   /* lowest and one past the highest byte loaded */
	uint64_t image_end;
};

/* A kernel format: probe says whether an image is of it, load places it in guest RAM. */
struct kernel_format {
	const char *name;
	bool (*probe)(const struct boot_image *img);
	int (*load)(const struct boot_image *img, struct guest_memory *mem,
		    struct boot_entry *entry, struct error *err);
};

/* Reads a kernel file (a regular, non-empty file no larger than max_size). */
int boot_image_read(const char *path, uint64_t max_size, struct boot_image *img,
		    struct error *err);

/* Frees what boot_image_read allocated. */
void boot_image_free(struct boot_image *img);

/* Loads img with the first format that recognizes it. */
int boot_load_kernel(const struct boot_image *img, struct guest_memory *mem,
		     struct boot_entry *entry, struct error *err);

/* Writes the protocol's boot data (start info, memory map, command line) into guest RAM. */
int boot_write_info(const struct boot_entry *entry, struct guest_memory *mem,
		    const char *cmdline, struct error *err);

/* Sets the boot vCPU's registers for entry (sregs as read from KVM, modified in place). */
void boot_cpu_state(const struct boot_entry *entry, struct kvm_regs *regs,
		    struct kvm_sregs *sregs);

/* True if [addr, addr+size) is usable RAM that ringvm's boot data does not occupy. */
bool boot_range_free(const struct guest_memory *mem, uint64_t addr, uint64_t size);

/* The PVH ELF format (pvh_elf.c). */
extern const struct kernel_format pvh_elf_format;

#endif
