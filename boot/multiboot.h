/* Multiboot (v1): the information structure and the entry state. */
#ifndef RINGVM_MULTIBOOT_H
#define RINGVM_MULTIBOOT_H

#include <linux/kvm.h>

#include "boot/boot.h"

/* Writes the Multiboot information (memory, command line pointer, memory map, initrd module). */
int multiboot_write_info(const struct boot_entry *entry, struct guest_memory *mem, const void *fdt,
			 struct error *err);

/* Flat 32-bit protected mode with %eax = 0x2badb002 and %ebx = the information. */
void multiboot_cpu_state(uint64_t entry, struct kvm_regs *regs, struct kvm_sregs *sregs);

#endif
