/* Small helpers every layer uses. */
#ifndef RINGVM_UTIL_H
#define RINGVM_UTIL_H

#include <stddef.h>

/* The structure that embeds member, from a pointer to it. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#endif
