/* The kernel command line ringvm hands the guest: the user's, its own words, the guest's arguments. */
#ifndef RINGVM_CMDLINE_H
#define RINGVM_CMDLINE_H

#include "machine/config.h"

/* The virtio devices cfg asks for: each takes a transport slot, in that order. */
unsigned cmdline_virtio_count(const struct vm_config *cfg);

/* --cmdline, a virtio_mmio.device= word per virtio-mmio device, the words after "--" (malloc'd). */
char *cmdline_build(const struct vm_config *cfg);

#endif
