/* Loading a kernel in a test, checked against parsing it first on RAM's layout alone. */
#ifndef RINGVM_TEST_BOOT_PARSE_H
#define RINGVM_TEST_BOOT_PARSE_H

#include <criterion/criterion.h>
#include <string.h>

#include "boot/boot.h"

/*
 * boot_parse_kernel runs before the VM's RAM exists (layout's host is NULL, so a
 * copy would crash the test): it must accept and refuse exactly what
 * boot_load_kernel does, for the same reason, and find the same entry.
 */
static inline int parse_then_load(const struct boot_image *img, struct guest_memory *mem,
				  struct boot_entry *entry, struct error *err)
{
	struct guest_memory layout;
	struct boot_entry parsed;
	struct error perr = { 0 };

	guest_memory_layout(&layout, mem->size);
	cr_assert_null(layout.host);
	int pr = boot_parse_kernel(img, &layout, &parsed, &perr);
	int r = boot_load_kernel(img, mem, entry, err);
	cr_assert_eq(pr, r, "parse: %d (%s), load: %d (%s)", pr, perr.msg, r, err->msg);
	if (r) {
		cr_assert_str_eq(perr.msg, err->msg, "the same reason");
		return r;
	}
	cr_assert_eq(parsed.protocol, entry->protocol);
	cr_assert_eq(parsed.entry, entry->entry);
	cr_assert_eq(parsed.image_start, entry->image_start);
	cr_assert_eq(parsed.image_end, entry->image_end);
	cr_assert_eq(parsed.initrd_max, entry->initrd_max);
	cr_assert_eq(parsed.cmdline_max, entry->cmdline_max);
	cr_assert_eq(parsed.setup_header_len, entry->setup_header_len);
	cr_assert_eq(memcmp(parsed.setup_header, entry->setup_header, entry->setup_header_len), 0);
	return 0;
}

#endif
