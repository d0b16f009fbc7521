/* The virtual machine: everything it owns, how it starts, and how it stops. */
#ifndef RINGVM_VM_H
#define RINGVM_VM_H

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>

#include "devices/acpi_sleep.h"
#include "devices/console.h"
#include "devices/debug_exit.h"
#include "testdev/irq_test.h"
#include "devices/pci.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "devices/virtio_pci.h"
#include "devices/virtio_rng.h"
#include "devices/virtio_vsock.h"
#include "devices/i8042.h"
#include "devices/reset.h"
#include "devices/uart.h"
#include "boot/boot.h"
#include "services/bus.h"
#include "machine/config.h"
#include "services/error.h"
#include "services/iothread.h"
#include "irq/irq.h"
#include "machine/kvm.h"
#include "services/loop.h"
#include "services/memory.h"
#include "machine/terminal.h"
#include "machine/vcpu.h"

enum stop_reason {
	STOP_NONE,
	STOP_GUEST_EXIT,        /* the debug-exit port: status is the guest's */
	STOP_GUEST_POWEROFF,
	STOP_GUEST_RESET,       /* ringvm does not reboot guests: a reset ends the VM */
	STOP_USER_QUIT,         /* Ctrl-A x */
	STOP_SIGNAL,            /* SIGINT, SIGTERM, SIGHUP, SIGQUIT */
	STOP_ERROR,             /* a fatal error in any thread; err says which */
};

struct vm_stop {
	pthread_mutex_t lock;
	enum stop_reason reason;    /* the first request wins */
	int status;                 /* the exit status it implies */
	int signal;
	struct error err;
	struct loop_work work;      /* posted to the loop by the first request: it stops the loop */
};

/* PATCH /vm's pause: vCPUs park on a condition variable until resumed or stopped. */
struct vm_pause {
	pthread_mutex_t lock;
	pthread_cond_t resume;
	bool paused;                /* asked: a vCPU that sees its request parks while this holds */
	bool stopping;              /* the VM is stopping: parked vCPUs leave */
	unsigned parked;
	struct loop_work all_parked;    /* posted to the main loop when the last one parks */
	void (*on_parked)(void *ctx);   /* run by it, on the loop thread */
	void *ctx;
};

struct vm {
	bool inited;                /* vm_init ran */
	bool loop_started;          /* vm_open_loop ran: the loop is serving before the VM exists */
	bool building;              /* vm_create got past what vm_abandon can undo */
	struct vm_config cfg;
	struct kvm kvm;
	struct guest_memory mem;
	struct bus pio, mmio;
	struct loop loop;           /* the main thread's: the first I/O thread */
	struct irq_chip irq;
	struct vcpu *vcpus;
	unsigned nr_vcpus;
	struct boot_image image;    /* the kernel, from reading until it is loaded */
	struct boot_image initrd;
	struct boot_entry boot;     /* from vm_check_input: the kernel as parsed, before any KVM */
	char *cmdline;
	struct blk_image disk_images[CONFIG_MAX_DISKS];     /* opened before KVM, taken by the disks */
	struct net_tap taps[CONFIG_MAX_NETS];               /* attached before KVM, taken likewise */
	struct vsock_listener vsock_listener;               /* listening before KVM, taken likewise */
	void *fdt;                  /* the machine description: e820 and ACPI come from it */
	struct terminal term;
	sigset_t saved_sigmask;
	bool signals_blocked;

	struct irq_source com1_irq;
	struct uart com1;
	struct irq_source i8042_irq;
	struct i8042 i8042;         /* always there: the host's Ctrl+Alt+Del, and a reset */
	struct console console;
	struct debug_exit debug_exit;
	struct reset_ports reset;
	struct acpi_sleep sleep;
	struct pci_bus pci;
	struct virtio_blk *disks;   /* cfg.nr_disks of them */
	unsigned nr_disks;          /* built so far */
	struct virtio_net *nets;    /* cfg.nr_nets of them */
	unsigned nr_nets;
	struct virtio_rng *rng;
	struct virtio_vsock *vsock;
	/* Each virtio device's transport (cfg.transport's kind), in the order they attached. */
	union vm_virtio_transport {
		struct virtio_pci pci;
		struct virtio_mmio mmio;
	} *transports;
	unsigned nr_transports;
	bool with_irq_test;         /* the built-in guest's irq-test device (channel 1 on I/O thread 1) */
	struct irq_test irq_test;
	/* I/O thread N is iothreads[N - 1], made when a device first names it ("ringvm-ioN"). */
	struct iothread iothreads[CONFIG_MAX_IOTHREADS];

	int signal_fd;
	struct signalfd_siginfo siginfo;
	struct loop_op signal_op;

	struct vm_stop stop;
	struct vm_pause pause;
};

/* Sets vm up empty (no resources), once, before anything else. */
void vm_init(struct vm *vm);

/* Signals and the main loop before the VM exists, so that the loop can serve (the API). */
int vm_open_loop(struct vm *vm, struct error *err);

/* After a failed vm_create: back to the state before it; -EBUSY where that is too late. */
int vm_abandon(struct vm *vm);

/* Loop thread, VM running: parks every vCPU, then calls on_parked(ctx) on the loop thread. */
void vm_pause(struct vm *vm, void (*on_parked)(void *ctx), void *ctx);

/* A vCPU's thread, on its PAUSE request: waits while the VM is paused. */
void vm_park_vcpu(struct vm *vm);

/* Loop thread: lets parked vCPUs run again. */
void vm_resume(struct vm *vm);

/* Any thread: Ctrl+Alt+Del on the i8042 keyboard; -EAGAIN while the guest has it off. */
int vm_send_ctrl_alt_del(struct vm *vm);

/*
 * Drive index's backing file is now fd (taken), of size bytes: virtio-blk swaps it and
 * the transport raises its config-change interrupt.
 */
int vm_update_drive(struct vm *vm, unsigned index, int fd, uint64_t size);

/* Builds the VM described by cfg; on failure err says why and vm_destroy cleans up. */
int vm_create(struct vm *vm, const struct vm_config *cfg, struct error *err);

/* Runs the VM until it stops; returns the exit status (vm->stop says why). */
int vm_run(struct vm *vm);

/* Releases everything vm_create acquired, whatever point it reached. */
void vm_destroy(struct vm *vm);

/* Any thread: asks the VM to stop (the first reason wins). */
void vm_request_stop(struct vm *vm, enum stop_reason reason, int status);

/* Writes the machine description to path (--dump-dtb). */
int vm_write_dtb(struct vm *vm, const char *path, struct error *err);

/* After vm_run: one line per vCPU about its posted-interrupt counters, into buf. */
void vm_format_stats(struct vm *vm, char *buf, size_t len);

/* Any thread: records a fatal error, stops the VM, and returns -errnum. */
int vm_fail(struct vm *vm, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
