/* The two memory routines freestanding code still needs (string.c). */
#ifndef RINGVM_GUEST_MEM_H
#define RINGVM_GUEST_MEM_H

#include <stddef.h>

/* Copies n bytes; the ranges must not overlap. */
void *memcpy(void *dst, const void *src, size_t n);

/* Fills n bytes with c. */
void *memset(void *dst, int c, size_t n);

#endif
