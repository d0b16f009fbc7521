/*
 * Linux bzImage, by the x86 boot protocol (Documentation/arch/x86/boot.rst),
 * version 2.10 or later, entered at its 64-bit entry point: the protected-mode
 * kernel at its preferred address, the setup header kept for the zero page.
 */
#include <errno.h>
#include <string.h>

#include "boot/boot.h"

#define HDR_OFFSET        0x1f1
#define HDR_SETUP_SECTS   0x1f1
#define HDR_BOOT_FLAG     0x1fe
#define HDR_JUMP          0x200
#define HDR_MAGIC         0x202
#define HDR_VERSION       0x206
#define HDR_LOADFLAGS     0x211
#define HDR_INITRD_MAX    0x22c
#define HDR_ALIGNMENT     0x230
#define HDR_RELOCATABLE   0x234
#define HDR_XLOADFLAGS    0x236
#define HDR_CMDLINE_SIZE  0x238
#define HDR_PREF_ADDRESS  0x258
#define HDR_INIT_SIZE     0x260
#define HDR_MIN_SIZE      0x264      /* through init_size: protocol 2.10 */
#define MAGIC_HDRS        0x53726448 /* "HdrS" */
#define LOADED_HIGH       0x01
#define XLF_KERNEL_64     0x01
#define ENTRY_64          0x200      /* startup_64, from the start of the loaded kernel */
#define DEFAULT_LOAD      0x1000000ULL

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static bool bzimage_probe(const struct boot_image *img)
{
	return img->size >= HDR_MAGIC + 4 && get32(img->data + HDR_MAGIC) == MAGIC_HDRS &&
	       get16(img->data + HDR_BOOT_FLAG) == 0xaa55;
}

static int bzimage_place(const struct boot_image *img, const struct guest_memory *mem, bool copy,
			 struct boot_entry *out, struct error *err)
{
	const uint8_t *d = img->data;

	if (img->size < HDR_MIN_SIZE)
		return error_set(err, EINVAL, "kernel '%s' is truncated: setup header", img->name);
	uint16_t version = get16(d + HDR_VERSION);
	if (version < 0x20a)
		return error_set(err, EINVAL, "kernel '%s': boot protocol %u.%02u, ringvm needs 2.10 or later",
				 img->name, version >> 8, version & 0xff);
	if (!(d[HDR_XLOADFLAGS] & XLF_KERNEL_64) || !(d[HDR_LOADFLAGS] & LOADED_HIGH))
		return error_set(err, EINVAL, "kernel '%s': not a 64-bit bzImage", img->name);
	unsigned setup_sects = d[HDR_SETUP_SECTS] ? d[HDR_SETUP_SECTS] : 4;
	uint64_t setup_size = (setup_sects + 1ULL) * 512;
	if (setup_size >= img->size)
		return error_set(err, EINVAL, "kernel '%s' is truncated: %u setup sectors, %zu bytes in all",
				 img->name, setup_sects, img->size);
	uint64_t kernel_size = img->size - setup_size;
	uint64_t init_size = get32(d + HDR_INIT_SIZE);
	uint64_t load = get64(d + HDR_PREF_ADDRESS);
	uint32_t align = get32(d + HDR_ALIGNMENT);
	if (!load)
		load = DEFAULT_LOAD;
	if (init_size < kernel_size)
		init_size = kernel_size;
	/* A relocatable kernel may go elsewhere; ringvm keeps it where it wants to be. */
	if ((align && (align & (align - 1))) || (align && load % align))
		return error_set(err, EINVAL, "kernel '%s': load address 0x%llx is not %u-aligned",
				 img->name, (unsigned long long)load, align);
	if (load + init_size < load || !boot_range_free(mem, load, init_size))
		return error_set(err, EINVAL, "kernel '%s' needs 0x%llx-0x%llx (init_size %llu MiB) in "
				 "guest RAM", img->name, (unsigned long long)load,
				 (unsigned long long)(load + init_size - 1),
				 (unsigned long long)(init_size >> 20));
	if (copy)
		memcpy(gpa_to_hva(mem, load, kernel_size), d + setup_size, kernel_size);

	/* The setup header runs from 0x1f1 to the end its jump instruction's offset gives. */
	uint32_t hdr_len = 0x202 + d[HDR_JUMP + 1] - HDR_OFFSET;
	if (hdr_len > BOOT_SETUP_HEADER_MAX)
		hdr_len = BOOT_SETUP_HEADER_MAX;
	if (HDR_OFFSET + hdr_len > img->size)
		hdr_len = (uint32_t)(img->size - HDR_OFFSET);
	*out = (struct boot_entry){
		.protocol = BOOT_LINUX64,
		.entry = load + ENTRY_64,
		.image_start = load,
		.image_end = load + init_size,
		.initrd_max = get32(d + HDR_INITRD_MAX),
		.cmdline_max = get32(d + HDR_CMDLINE_SIZE) + 1,
		.setup_header_len = hdr_len,
	};
	memcpy(out->setup_header, d + HDR_OFFSET, hdr_len);
	return 0;
}

const struct kernel_format bzimage_format = {
	.name = "bzImage",
	.probe = bzimage_probe,
	.place = bzimage_place,
};
