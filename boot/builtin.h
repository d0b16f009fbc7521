/* The built-in guest (guest/), embedded at build time. */
#ifndef RINGVM_BUILTIN_H
#define RINGVM_BUILTIN_H

#include <stddef.h>
#include <stdint.h>

extern const uint8_t builtin_guest_elf[];
extern const size_t builtin_guest_elf_size;

#endif
