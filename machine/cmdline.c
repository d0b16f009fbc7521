#include "machine/cmdline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi/address_map.h"

/* The virtio devices cfg asks for: each takes a transport slot, in vm_add_virtio's order. */
unsigned cmdline_virtio_count(const struct vm_config *cfg)
{
	return cfg->nr_disks + cfg->nr_nets + cfg->rng + cfg->vsock.enabled;
}

/*
 * Linux's "virtio_mmio.device=<size>@<base>:<irq>" for virtio-mmio slot i: how a kernel
 * booted with acpi=off (and CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES) finds the device.
 */
static int virtio_mmio_word(char *out, size_t size, unsigned i)
{
	return snprintf(out, size, "virtio_mmio.device=0x%llx@0x%llx:%u",
			(unsigned long long)AM_VIRTIO_MMIO_STRIDE,
			(unsigned long long)(AM_VIRTIO_MMIO_BASE + i * AM_VIRTIO_MMIO_STRIDE),
			AM_VIRTIO_MMIO_FIRST_IRQ + i);
}

char *cmdline_build(const struct vm_config *cfg)
{
	size_t len = (cfg->cmdline ? strlen(cfg->cmdline) : 0) + 1;
	unsigned mmio = cfg->transport == VIRTIO_TRANSPORT_MMIO ? cmdline_virtio_count(cfg) : 0;
	char word[64];

	for (unsigned i = 0; i < mmio; i++)
		len += (size_t)virtio_mmio_word(word, sizeof(word), i) + 1;

	for (int i = 0; i < cfg->nr_guest_args; i++)
		len += strlen(cfg->guest_args[i]) + 1;
	char *line = malloc(len);
	if (!line)
		return NULL;
	line[0] = '\0';
	if (cfg->cmdline)
		strcpy(line, cfg->cmdline);
	/* Before the guest's arguments, which may open init's with a "--". */
	for (unsigned i = 0; i < mmio; i++) {
		virtio_mmio_word(word, sizeof(word), i);
		if (line[0])
			strcat(line, " ");
		strcat(line, word);
	}
	for (int i = 0; i < cfg->nr_guest_args; i++) {
		if (line[0])
			strcat(line, " ");
		strcat(line, cfg->guest_args[i]);
	}
	return line;
}
