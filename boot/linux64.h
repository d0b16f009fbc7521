/* Linux's 64-bit boot protocol: the zero page, page tables and entry state. */
#ifndef RINGVM_LINUX64_H
#define RINGVM_LINUX64_H

#include <linux/kvm.h>

#include "boot/boot.h"

/* Writes the zero page (e820 from the tree fdt, the RSDP) and identity page tables, not the command line. */
int linux64_write_info(const struct boot_entry *entry, struct guest_memory *mem, const void *fdt,
		       uint64_t rsdp, struct error *err);

/* Long mode at the kernel's 64-bit entry, %rsi = the zero page. */
void linux64_cpu_state(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
