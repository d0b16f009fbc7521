/* What the VMM hands over in PVH's hvm_start_info: command line and memory map. */
#ifndef RINGVM_GUEST_BOOTINFO_H
#define RINGVM_GUEST_BOOTINFO_H

#include <stdbool.h>
#include <stdint.h>

/* Copies the command line and memory map out of hvm_start_info; NULL or what was wrong. */
const char *bootinfo_read(uint32_t start_info_paddr);

/* The command line, a private copy callers may cut up; "" when there was none. */
char *bootinfo_cmdline(void);

/* True when the command line was longer than the copy kept. */
bool bootinfo_cmdline_truncated(void);

/* Bytes of RAM the memory map lists. */
uint64_t bootinfo_ram_bytes(void);

/* True when [base, base + len) lies inside one RAM entry of the memory map. */
bool bootinfo_is_ram(uint64_t base, uint64_t len);

/* Prints one "memory: FIRST-LAST TYPE" line per map entry. */
void bootinfo_print_memory(void);

#endif
