/* What the user asked for: the VM as described on the command line. */
#ifndef RINGVM_CONFIG_H
#define RINGVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "devices/virtio_vsock.h"
#include "irq/irq.h"
#include "machine/sandbox.h"

#define CONFIG_MAX_CPUS      254            /* xAPIC IDs: 0xff is the broadcast ID */
#define CONFIG_MIN_MEMORY    (2ULL << 20)   /* boot data below 1 MiB, the image above */
#define CONFIG_MAX_MEMORY    (1ULL << 40)
#define CONFIG_MAX_DISKS     8
#define CONFIG_MAX_NETS      4
#define CONFIG_MAX_IOTHREADS 8              /* I/O threads besides the main loop: 1..8 */

/* How virtio devices reach the guest (--transport). */
enum virtio_transport { VIRTIO_TRANSPORT_PCI, VIRTIO_TRANSPORT_MMIO };

struct vm_config {
	const char *kernel;         /* kernel image path; NULL boots the built-in guest */
	const char *initrd;         /* --initrd, or NULL */
	const char *cmdline;        /* --cmdline, or NULL */
	char *const *guest_args;    /* the words after "--", appended to the command line */
	int nr_guest_args;
	unsigned cpus;
	uint64_t memory;            /* bytes of guest RAM */
	enum irqchip_mode irqchip;  /* --irqchip */
	enum irq_path irq;          /* --irq: how device interrupts reach KVM */
	bool stats;                 /* --stats: print KVM's per-vCPU counters at exit */
	int irq_test_fds[2];        /* --irq-test-fds: doorbell and irqfd serviced elsewhere, or -1 */
	struct disk_config disks[CONFIG_MAX_DISKS];
	unsigned nr_disks;
	struct net_config nets[CONFIG_MAX_NETS];
	unsigned nr_nets;
	bool rng;                   /* --rng: a virtio entropy device */
	struct vsock_config vsock;  /* --vsock: at most one */
	enum virtio_transport transport;    /* --transport: every virtio device's */
	const char *dump_dtb;       /* --dump-dtb: write the machine description here and stop */
	enum sandbox_mode seccomp;  /* --seccomp: each thread's system call allow-list */
	/* Firecracker's front end (machine/api.h): the VM comes from its API or config file. */
	const char *api_sock;       /* --api-sock: serve the API here */
	const char *api_id;         /* --id: the instance's id in GET / */
	const char *config_file;    /* --config-file: start the VM this file describes */
	bool no_api;                /* --no-api: no socket (needs --config-file) */
};

#endif
