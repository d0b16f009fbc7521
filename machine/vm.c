#include "machine/vm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abi/address_map.h"
#include "firmware/acpi.h"
#include "boot/builtin.h"
#include "firmware/reset_vector.h"
#include "firmware/devicetree.h"
#include "firmware/mptable.h"
#include "machine/cmdline.h"
#include "machine/sandbox.h"
#include "machine/stats.h"
#include "services/util.h"

#define LOOP_ENTRIES     256
#define FLUSH_TIMEOUT_MS 2000     /* a stuck stdout must not hold ringvm forever */
#define CANCEL_TIMEOUT_MS 1000

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* Loop thread, posted by the first stop request from whichever thread made it. */
static void vm_stop_loop(struct loop_work *work)
{
	struct vm *vm = container_of(work, struct vm, stop.work);

	loop_stop(&vm->loop);
}

void vm_request_stop(struct vm *vm, enum stop_reason reason, int status)
{
	pthread_mutex_lock(&vm->stop.lock);
	bool first = vm->stop.reason == STOP_NONE;
	if (first) {
		vm->stop.reason = reason;
		vm->stop.status = status;
	}
	pthread_mutex_unlock(&vm->stop.lock);
	if (!first)
		return;
	/* A parked vCPU must see the stop too. */
	pthread_mutex_lock(&vm->pause.lock);
	vm->pause.stopping = true;
	pthread_cond_broadcast(&vm->pause.resume);
	pthread_mutex_unlock(&vm->pause.lock);
	/* Every bit first, as kvm_make_all_cpus_request does: a vCPU checking early leaves early. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_make_request(&vm->vcpus[i].requests, VCPU_REQ_STOP);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i].requests);
	/* Only the first request gets here, so the work is set up once, before its only post. */
	vm->stop.work.run = vm_stop_loop;
	/* Before loop_init no thread runs that a stop would have to reach. */
	if (vm->loop.initialized)
		loop_post(&vm->loop, &vm->stop.work);
}

int vm_fail(struct vm *vm, int errnum, const char *fmt, ...)
{
	va_list ap;
	char msg[ERROR_MSG_MAX];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&vm->stop.lock);
	if (vm->stop.reason == STOP_NONE)
		error_set(&vm->stop.err, errnum, "%s", msg);
	pthread_mutex_unlock(&vm->stop.lock);
	vm_request_stop(vm, STOP_ERROR, 1);
	return -(errnum > 0 ? errnum : EIO);
}

static void vm_guest_exit(void *ctx, int status)
{
	vm_request_stop(ctx, STOP_GUEST_EXIT, status);
}

static void vm_guest_reset(void *ctx)
{
	vm_request_stop(ctx, STOP_GUEST_RESET, 0);
}

static void vm_guest_poweroff(void *ctx)
{
	vm_request_stop(ctx, STOP_GUEST_POWEROFF, 0);
}

static void vm_user_quit(void *ctx)
{
	vm_request_stop(ctx, STOP_USER_QUIT, 0);
}

/* The host failed to deliver an interrupt: the guest would wait for it forever. */
static void vm_irq_failed(void *ctx, int err, const char *what)
{
	vm_fail(ctx, -err, "interrupt delivery failed: %s: %s", what, strerror(-err));
}

static void vm_arm_signal(struct vm *vm)
{
	struct io_uring_sqe *sqe = loop_sqe(&vm->loop, &vm->signal_op);
	io_uring_prep_read(sqe, vm->signal_fd, &vm->siginfo, sizeof(vm->siginfo), 0);
}

static void vm_signal_done(struct loop_op *op, int res, unsigned flags)
{
	struct vm *vm = container_of(op, struct vm, signal_op);

	(void)flags;
	if (res == -ECANCELED)
		return;
	if (res != (int)sizeof(vm->siginfo)) {
		vm_arm_signal(vm);
		return;
	}
	int sig = (int)vm->siginfo.ssi_signo;
	pthread_mutex_lock(&vm->stop.lock);
	if (vm->stop.reason == STOP_NONE)
		vm->stop.signal = sig;
	pthread_mutex_unlock(&vm->stop.lock);
	vm_request_stop(vm, STOP_SIGNAL, 128 + sig);
	vm_arm_signal(vm);
}

static int vm_block_signals(struct vm *vm, struct error *err)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		sigaddset(&set, stop_signals[i]);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (vm->signal_fd < 0)
		return error_sys(err, errno, "cannot create a signalfd");
	/* The kick signal stays blocked outside KVM_RUN in every thread. */
	sigaddset(&set, kick_signal());
	pthread_sigmask(SIG_BLOCK, &set, &vm->saved_sigmask);
	vm->signals_blocked = true;
	signal(SIGPIPE, SIG_IGN);   /* a closed stdout is an EPIPE to handle, not a death */
	return kick_signal_init() ? error_sys(err, errno, "cannot install the kick signal") : 0;
}

static void vm_iothread_failed(void *ctx, int err)
{
	vm_fail(ctx, -err, "an I/O thread's loop failed: %s", strerror(-err));
}

/* On each extra I/O thread, before its loop runs: seccomp filters are per thread. */
static int vm_iothread_sandbox(void *ctx)
{
	struct vm *vm = ctx;
	struct error err = { 0 };

	return sandbox_apply(SANDBOX_IOTHREAD, vm->cfg.seccomp, &err) ? vm_fail(vm, err.code, "%s", err.msg)
								       : 0;
}

/* The loop of I/O thread n (0: the main loop's), made on first use; started by vm_run. */
static int vm_iothread_loop(struct vm *vm, unsigned n, struct loop **out, struct error *err)
{
	char name[16];

	if (!n) {
		*out = &vm->loop;
		return 0;
	}
	if (n > CONFIG_MAX_IOTHREADS)
		return error_set(err, EINVAL, "no I/O thread %u: they are 1 to %d", n, CONFIG_MAX_IOTHREADS);
	struct iothread *io = &vm->iothreads[n - 1];
	if (!io->loop.initialized) {
		/* The name is what /proc/PID/task/TID/comm shows (15 characters at most). */
		snprintf(name, sizeof(name), "ringvm-io%u", n);
		int r = iothread_init(io, name, vm_iothread_failed, vm, err);
		if (r)
			return r;
		io->on_start = vm_iothread_sandbox;
	}
	*out = &io->loop;
	return 0;
}

/* The loops a device's queues run on: queue i on loops[i % *nr]. */
static int vm_device_loops(struct vm *vm, unsigned first, unsigned count,
			   struct loop *loops[CONFIG_MAX_IOTHREADS], unsigned *nr, struct error *err)
{
	*nr = count ? count : 1;
	if (*nr > CONFIG_MAX_IOTHREADS)
		return error_set(err, EINVAL, "more than %d I/O threads for one device", CONFIG_MAX_IOTHREADS);
	for (unsigned i = 0; i < *nr; i++) {
		int r = vm_iothread_loop(vm, first ? first + i : 0, &loops[i], err);
		if (r)
			return r;
	}
	return 0;
}

static int vm_add_irq_test(struct vm *vm, struct error *err)
{
	struct loop *second;

	/* Channel 1 has a thread of its own, so that two host threads raise interrupts at once. */
	vm->with_irq_test = true;
	int r = vm_iothread_loop(vm, 1, &second, err);
	if (r)
		return r;
	struct loop *loops[IRQ_TEST_CHANNELS] = { &vm->loop, second };
	irq_test_init(&vm->irq_test, &vm->irq, vm->kvm.vm_fd, loops, vm->cfg.irq_test_fds[0],
		      vm->cfg.irq_test_fds[1]);
	r = bus_register(&vm->pio, AM_PORT_IRQ_TEST, AM_IRQ_TEST_PORTS, irq_test_access, &vm->irq_test,
			 "irq-test");
	return r ? error_sys(err, -r, "cannot place the irq-test device") : 0;
}

/* Every device the command line allows has a virtio-mmio slot (rng and vsock the last two). */
_Static_assert(CONFIG_MAX_DISKS + CONFIG_MAX_NETS + 2 <= AM_VIRTIO_MMIO_SLOTS,
	       "virtio-mmio slots for every device");

/* A device's transport: the next PCI slot, or the next virtio-mmio slot and its pin. */
static int vm_attach_virtio(struct vm *vm, struct virtio_dev *dev, struct error *err)
{
	unsigned i = vm->nr_transports;
	union vm_virtio_transport *t = &vm->transports[i];
	int r;

	if (vm->cfg.transport == VIRTIO_TRANSPORT_MMIO) {
		if (i >= AM_VIRTIO_MMIO_SLOTS)
			return error_set(err, ENOSPC, "more than %d virtio devices on virtio-mmio",
					 AM_VIRTIO_MMIO_SLOTS);
		r = virtio_mmio_init(&t->mmio, dev, &vm->mmio, AM_VIRTIO_MMIO_BASE + i * AM_VIRTIO_MMIO_STRIDE,
				     &vm->irq, AM_VIRTIO_MMIO_FIRST_IRQ + i, err);
		vm->nr_transports = i + 1;    /* even half-built: destroy releases what it holds */
		return r;
	}
	r = virtio_pci_init(&t->pci, dev, &vm->irq);
	vm->nr_transports = i + 1;
	if (r)
		return error_sys(err, -r, "cannot create the PCI function of %s", dev->info.name);
	if ((r = pci_bus_plug(&vm->pci, &t->pci.pci)))
		return error_sys(err, -r, "no PCI slot or MMIO space left for %s", dev->info.name);
	return 0;
}

/* Transport slots in command-line order: the disks, the network devices, the entropy device, vsock. */
static int vm_add_virtio(struct vm *vm, struct error *err)
{
	struct loop *loops[CONFIG_MAX_IOTHREADS];
	unsigned nr_loops;
	int r;

	vm->transports = calloc(cmdline_virtio_count(&vm->cfg) + 1, sizeof(*vm->transports));
	if (!vm->transports)
		return error_set(err, ENOMEM, "out of memory for virtio transports");
	if (vm->cfg.nr_disks) {
		vm->disks = calloc(vm->cfg.nr_disks, sizeof(*vm->disks));
		if (!vm->disks)
			return error_set(err, ENOMEM, "out of memory for %u disks", vm->cfg.nr_disks);
	}
	for (unsigned i = 0; i < vm->cfg.nr_disks; i++) {
		struct virtio_blk *blk = &vm->disks[i];
		const struct disk_config *d = &vm->cfg.disks[i];
		if ((r = vm_device_loops(vm, d->iothread, d->nr_iothreads, loops, &nr_loops, err)))
			return r;
		r = virtio_blk_init(blk, d, &vm->disk_images[i], vm->cfg.cpus, i, &vm->mem,
				    loops, nr_loops, vm->kvm.vm_fd, err);
		vm->nr_disks = i + 1;     /* even half-built: destroy closes what it opened */
		if (r)
			return r;
		if ((r = vm_attach_virtio(vm, &blk->vdev, err)))
			return r;
	}
	if (vm->cfg.nr_nets) {
		vm->nets = calloc(vm->cfg.nr_nets, sizeof(*vm->nets));
		if (!vm->nets)
			return error_set(err, ENOMEM, "out of memory for %u network devices", vm->cfg.nr_nets);
	}
	for (unsigned i = 0; i < vm->cfg.nr_nets; i++) {
		struct virtio_net *net = &vm->nets[i];
		/* Its queues share the device's state: one loop for all (cli refuses a range). */
		if ((r = vm_iothread_loop(vm, vm->cfg.nets[i].iothread, &loops[0], err)))
			return r;
		r = virtio_net_init(net, &vm->cfg.nets[i], &vm->taps[i], i, &vm->mem,
				    loops[0], vm->kvm.vm_fd, err);
		vm->nr_nets = i + 1;
		if (r)
			return r;
		if ((r = vm_attach_virtio(vm, &net->vdev, err)))
			return r;
	}
	if (vm->cfg.rng) {
		vm->rng = calloc(1, sizeof(*vm->rng));
		if (!vm->rng)
			return error_set(err, ENOMEM, "out of memory for virtio-rng");
		if ((r = virtio_rng_init(vm->rng, &vm->mem, &vm->loop, vm->kvm.vm_fd, err)))
			return r;
		if ((r = vm_attach_virtio(vm, &vm->rng->vdev, err)))
			return r;
	}
	if (vm->cfg.vsock.enabled) {
		vm->vsock = calloc(1, sizeof(*vm->vsock));
		if (!vm->vsock)
			return error_set(err, ENOMEM, "out of memory for virtio-vsock");
		r = virtio_vsock_init(vm->vsock, &vm->cfg.vsock, &vm->vsock_listener, &vm->mem,
				      &vm->loop, vm->kvm.vm_fd, err);
		if (r)
			return r;
		if ((r = vm_attach_virtio(vm, &vm->vsock->vdev, err)))
			return r;
	}
	return 0;
}

static int vm_add_devices(struct vm *vm, struct error *err)
{
	struct {
		struct bus *bus;
		uint64_t base, len;
		bus_access_fn fn;
		void *opaque;
		const char *name;
	} regions[] = {
		{ &vm->pio, AM_PORT_COM1, AM_COM1_PORTS, uart_access, &vm->com1, "com1" },
		{ &vm->pio, AM_PORT_DEBUG_EXIT, AM_DEBUG_EXIT_PORTS, debug_exit_access, &vm->debug_exit,
		  "debug-exit" },
		{ &vm->pio, AM_PORT_I8042_DATA, 1, i8042_data_access, &vm->i8042, "i8042-data" },
		{ &vm->pio, AM_PORT_I8042_COMMAND, 1, i8042_command_access, &vm->i8042, "i8042-command" },
		{ &vm->pio, AM_PORT_ACPI_SLEEP, AM_ACPI_SLEEP_PORTS, acpi_sleep_access, &vm->sleep,
		  "acpi-sleep" },
		/* The reset control register is inside the PCI host's ports. */
		{ &vm->pio, AM_PORT_PCI_CONF1, AM_PCI_CONF1_PORTS, pci_conf1_access, &vm->pci, "pci-conf1" },
		{ &vm->mmio, AM_ECAM_BASE, AM_ECAM_SIZE, pci_ecam_access, &vm->pci, "pci-ecam" },
		{ &vm->mmio, AM_IOAPIC_BASE, AM_IOAPIC_SIZE, ioapic_access, &vm->irq.ioapic, "ioapic" },
	};
	/* The IOAPIC is ours to emulate only with the split irqchip. */
	size_t nr_regions = sizeof(regions) / sizeof(regions[0]) - (vm->irq.mode == IRQCHIP_KERNEL);

	vm->irq.failed = vm_irq_failed;
	vm->irq.failed_ctx = vm;
	int r = irq_source_init_pin(&vm->com1_irq, &vm->irq, AM_COM1_IRQ, false,
				    irq_chip_pin_path(&vm->irq), -1, &vm->loop, err);
	if (r)
		return r;
	uart_init(&vm->com1, &vm->com1_irq, &console_uart_ops, &vm->console);
	r = irq_source_init_pin(&vm->i8042_irq, &vm->irq, AM_I8042_IRQ, false,
				irq_chip_pin_path(&vm->irq), -1, &vm->loop, err);
	if (r)
		return r;
	i8042_init(&vm->i8042, &vm->i8042_irq, vm_guest_reset, vm);
	vm->debug_exit = (struct debug_exit){ .on_exit = vm_guest_exit, .ctx = vm };
	vm->reset = (struct reset_ports){ .on_reset = vm_guest_reset, .ctx = vm };
	vm->sleep = (struct acpi_sleep){ .on_poweroff = vm_guest_poweroff, .ctx = vm,
					 .s5_type = ACPI_S5_TYPE };
	pci_bus_init(&vm->pci, &vm->pio, &vm->mmio, reset_control_access, &vm->reset);
	console_init(&vm->console, &vm->loop, &vm->com1, STDIN_FILENO, STDOUT_FILENO,
		     isatty(STDIN_FILENO), vm_user_quit, vm);
	for (size_t i = 0; i < nr_regions; i++) {
		r = bus_register(regions[i].bus, regions[i].base, regions[i].len, regions[i].fn,
				 regions[i].opaque, regions[i].name);
		if (r)
			return error_sys(err, -r, "cannot place %s at 0x%llx", regions[i].name,
					 (unsigned long long)regions[i].base);
	}
	if ((r = vm_add_virtio(vm, err)))
		return r;
	return vm->cfg.kernel ? 0 : vm_add_irq_test(vm, err);
}

/*
 * Reads the kernel and initrd and checks them against the RAM the guest will have,
 * which need not exist yet: a bad file is reported before any KVM resource is taken.
 */
static int vm_check_kernel(struct vm *vm, struct error *err)
{
	struct guest_memory layout;

	vm->image = (struct boot_image){
		.data = builtin_guest_elf, .size = builtin_guest_elf_size, .name = "built-in guest",
	};
	int r = 0;
	if (vm->cfg.kernel)
		r = boot_image_read(vm->cfg.kernel, "kernel", vm->cfg.memory, &vm->image, err);
	if (!r && vm->cfg.initrd)
		r = boot_image_read(vm->cfg.initrd, "initrd", vm->cfg.memory, &vm->initrd, err);
	if (r)
		return r;
	guest_memory_layout(&layout, vm->cfg.memory);
	if ((r = boot_parse_kernel(&vm->image, &layout, &vm->boot, err)) ||
	    (vm->initrd.data && (r = boot_place_initrd(&vm->initrd, &layout, &vm->boot, err))))
		return r;
	if (!(vm->cmdline = cmdline_build(&vm->cfg)))
		return error_set(err, ENOMEM, "out of memory for the kernel command line");
	return boot_check_cmdline(&vm->boot, vm->cmdline, err);
}

/* --dump-dtb: a file that could be written, checked without creating or truncating it. */
static int vm_check_dump_dtb(const char *path, struct error *err)
{
	struct stat st;

	if (!stat(path, &st)) {
		if (S_ISDIR(st.st_mode))
			return error_sys(err, EISDIR, "cannot write the device tree to '%s'", path);
		if (access(path, W_OK))
			return error_sys(err, errno, "cannot write the device tree to '%s'", path);
		return 0;
	}
	if (errno != ENOENT)
		return error_sys(err, errno, "cannot write the device tree to '%s'", path);
	char *copy = strdup(path);
	if (!copy)
		return error_set(err, ENOMEM, "out of memory");
	/* A missing file is made in its directory, which must exist and take new files. */
	const char *dir = dirname(copy);
	int e = stat(dir, &st) ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR
		: access(dir, W_OK | X_OK) ? errno : 0;
	free(copy);
	return e ? error_sys(err, e, "cannot write the device tree to '%s'", path) : 0;
}

/*
 * Everything that depends only on what the user asked for, checked before /dev/kvm
 * is opened: on a host without KVM, a mistake is still reported as that mistake.
 * Disk images are opened (and locked) and taps attached here, kept for the devices.
 */
static int vm_check_input(struct vm *vm, struct error *err)
{
	const struct vm_config *cfg = &vm->cfg;
	int r;

	if ((r = memory_check_host(cfg->memory, err)) || (r = vm_check_kernel(vm, err)))
		return r;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if ((r = virtio_blk_open(&vm->disk_images[i], &cfg->disks[i], err)))
			return r;
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if ((r = virtio_net_open(&vm->taps[i], &cfg->nets[i], err)))
			return r;
	if (cfg->vsock.enabled && (r = virtio_vsock_open(&vm->vsock_listener, &cfg->vsock, err)))
		return r;
	for (int i = 0; !cfg->kernel && i < 2; i++) {
		int fd = cfg->irq_test_fds[i];
		if (fd >= 0 && fcntl(fd, F_GETFD) < 0)
			return error_set(err, EBADF, "--irq-test-fds: fd %d is not open", fd);
	}
	return cfg->dump_dtb ? vm_check_dump_dtb(cfg->dump_dtb, err) : 0;
}

static int vm_load_kernel(struct vm *vm, struct error *err)
{
	/* First, so that a kernel that asks to load over it wins. */
	int r = reset_vector_install(&vm->mem, err);
	if (!r)
		r = boot_load_kernel(&vm->image, &vm->mem, &vm->boot, err);
	if (!r && vm->initrd.data)
		r = boot_load_initrd(&vm->initrd, &vm->mem, &vm->boot, err);
	boot_image_free(&vm->image);
	boot_image_free(&vm->initrd);
	if (r)
		return r;
	vm->fdt = malloc(FDT_MAX_SIZE);
	if (!vm->fdt)
		return error_set(err, ENOMEM, "out of memory for the boot data");
	/* The machine description first: the ACPI tables and the memory map are read from it. */
	struct machine_facts facts = {
		.mem = &vm->mem, .cpus = vm->cfg.cpus, .cmdline = vm->cmdline,
		.initrd_addr = vm->boot.initrd_addr, .initrd_size = vm->boot.initrd_size,
		.virtio_mmio = vm->cfg.transport == VIRTIO_TRANSPORT_MMIO ? cmdline_virtio_count(&vm->cfg) : 0,
	};
	if (!(r = fdt_build(&facts, vm->fdt, err)) &&
	    !(r = acpi_build(vm->fdt, &vm->mem, vm->irq.mode == IRQCHIP_SPLIT, err)) &&
	    !(r = mptable_build(vm->fdt, &vm->mem, err)))
		r = boot_write_info(&vm->boot, &vm->mem, vm->fdt, ACPI_RSDP, vm->cmdline, err);
	return r;
}

void vm_init(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->inited = true;
	vm->kvm.dev_fd = vm->kvm.vm_fd = -1;
	vm->signal_fd = -1;
	vm->com1_irq.irqfd = vm->com1_irq.resamplefd = -1;
	vm->i8042_irq.irqfd = vm->i8042_irq.resamplefd = -1;
	pthread_mutex_init(&vm->stop.lock, NULL);
	pthread_mutex_init(&vm->pause.lock, NULL);
	pthread_cond_init(&vm->pause.resume, NULL);
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->signal_op.complete = vm_signal_done;
	for (unsigned i = 0; i < CONFIG_MAX_DISKS; i++)
		vm->disk_images[i].fd = -1;
	for (unsigned i = 0; i < CONFIG_MAX_NETS; i++)
		for (unsigned j = 0; j < NET_MAX_PAIRS; j++)
			vm->taps[i].fds[j] = -1;
	vm->vsock_listener.fd = -1;
}

int vm_open_loop(struct vm *vm, struct error *err)
{
	int r;

	if (!vm->inited)
		vm_init(vm);
	if ((r = vm_block_signals(vm, err)) || (r = loop_init(&vm->loop, LOOP_ENTRIES, err)))
		return r;
	loop_start(&vm->loop);
	vm_arm_signal(vm);
	vm->loop_started = true;
	return 0;
}

/*
 * What vm_check_input read and opened: the images, the command line, and the files
 * and sockets of devices not built yet (each close leaves its fd at -1, so it may run
 * again).
 */
static void vm_release_input(struct vm *vm)
{
	boot_image_free(&vm->image);
	boot_image_free(&vm->initrd);
	free(vm->cmdline);
	vm->cmdline = NULL;
	for (unsigned i = 0; i < CONFIG_MAX_DISKS; i++)
		virtio_blk_close(&vm->disk_images[i]);
	for (unsigned i = 0; i < CONFIG_MAX_NETS; i++)
		virtio_net_close(&vm->taps[i]);
	virtio_vsock_close(&vm->vsock_listener);
}

int vm_abandon(struct vm *vm)
{
	if (vm->building)
		return -EBUSY;
	vm_release_input(vm);
	kvm_close(&vm->kvm);
	vm->kvm.dev_fd = vm->kvm.vm_fd = -1;
	guest_memory_destroy(&vm->mem);
	memset(&vm->mem, 0, sizeof(vm->mem));
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, struct error *err)
{
	int r;

	if (!vm->inited)
		vm_init(vm);
	vm->cfg = *cfg;
	if ((r = vm_check_input(vm, err)) ||
	    (!vm->signals_blocked && (r = vm_block_signals(vm, err))) ||
	    (r = kvm_open(&vm->kvm, err)))
		return r;
	if ((r = kvm_create_vm(&vm->kvm, err)))
		return r;
	if (cfg->cpus > vm->kvm.max_vcpus)
		return error_set(err, EINVAL, "--cpus %u: KVM on this host allows at most %u",
				 cfg->cpus, vm->kvm.max_vcpus);
	if ((r = guest_memory_create(&vm->mem, cfg->memory, err)) ||
	    (r = kvm_map_memory(&vm->kvm, &vm->mem, err)))
		return r;
	/* From here on devices arm work on the loop: a failure is the end of this VM. */
	vm->building = true;
	if ((r = irq_chip_init(&vm->irq, vm->kvm.vm_fd, cfg->irqchip, cfg->irq, err)) ||
	    (!vm->loop.initialized && (r = loop_init(&vm->loop, LOOP_ENTRIES, err))) ||
	    (r = vm_add_devices(vm, err)) ||
	    (r = vm_load_kernel(vm, err)))
		return r;

	vm->vcpus = calloc(cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return error_set(err, ENOMEM, "out of memory for %u vCPUs", cfg->cpus);
	vm->nr_vcpus = cfg->cpus;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = vm->vcpus[i].stats_fd = -1;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if ((r = vcpu_create(&vm->vcpus[i], vm, i, err)))
			return r;
	return vcpu_set_boot_state(&vm->vcpus[0], &vm->boot, err);
}

int vm_run(struct vm *vm)
{
	struct error err = { 0 };

	terminal_make_raw(&vm->term, STDIN_FILENO);
	if (!vm->loop_started) {
		loop_start(&vm->loop);
		vm_arm_signal(vm);
	}
	console_start(&vm->console);
	for (unsigned i = 0; i < CONFIG_MAX_IOTHREADS && !err.code; i++) {
		if (vm->iothreads[i].loop.initialized && iothread_start(&vm->iothreads[i], &err))
			vm_fail(vm, err.code, "%s", err.msg);
	}
	for (unsigned i = 0; i < vm->nr_vcpus && !err.code; i++) {
		if (vcpu_start(&vm->vcpus[i], &err))
			vm_fail(vm, err.code, "%s", err.msg);
	}
	/*
	 * Last, the main thread's own filter: everything it opens and creates exists by
	 * now, and the threads above were not born under it (filters are inherited).
	 */
	if (!err.code && sandbox_apply(SANDBOX_MAIN, vm->cfg.seccomp, &err))
		vm_fail(vm, err.code, "%s", err.msg);
	int r = loop_run(&vm->loop);
	if (r)
		vm_fail(vm, -r, "the I/O loop failed: %s", strerror(-r));
	/* Every vCPU was kicked by the stop request; each leaves at its next check. */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	/* Each thread cancels what it has in flight before it ends: its ring, its business. */
	for (unsigned i = 0; i < CONFIG_MAX_IOTHREADS; i++)
		iothread_destroy(&vm->iothreads[i]);
	console_flush(&vm->console, FLUSH_TIMEOUT_MS);
	loop_cancel_all(&vm->loop, CANCEL_TIMEOUT_MS);
	terminal_restore(&vm->term);
	return vm->stop.status;
}

int vm_write_dtb(struct vm *vm, const char *path, struct error *err)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return error_sys(err, errno, "cannot write the device tree to '%s'", path);
	size_t size = fdt_blob_size(vm->fdt);
	bool ok = fwrite(vm->fdt, 1, size, f) == size;
	if (fclose(f) || !ok)
		return error_sys(err, errno ? errno : EIO, "cannot write the device tree to '%s'", path);
	return 0;
}

void vm_format_stats(struct vm *vm, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < vm->nr_vcpus && used + 1 < len; i++) {
		stats_format_pi(vm->vcpus[i].stats_fd, i, buf + used, len - used - 1);
		used += strlen(buf + used);
		buf[used++] = '\n';
		buf[used] = '\0';
	}
	/* MSI-X is PCI's: virtio-mmio's pins count in the irq layer's total only. */
	struct stats_device_errors devs[AM_VIRTIO_MMIO_SLOTS];
	unsigned n = 0;
	for (unsigned i = 0; vm->cfg.transport == VIRTIO_TRANSPORT_PCI && i < vm->nr_transports &&
			     n < AM_VIRTIO_MMIO_SLOTS; i++)
		devs[n++] = (struct stats_device_errors){ vm->transports[i].pci.pci.name,
							  vm->transports[i].pci.msix.delivery_errors };
	if (used + 1 < len) {
		stats_format_irq(irq_chip_delivery_errors(&vm->irq), devs, n, buf + used, len - used - 1);
		used += strlen(buf + used);
		buf[used++] = '\n';
		buf[used] = '\0';
	}
}

void vm_destroy(struct vm *vm)
{
	/* vm_run joined every thread; after a failed vm_create none was started. */
	vm_release_input(vm);
	free(vm->fdt);
	vm->fdt = NULL;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	loop_cancel_all(&vm->loop, CANCEL_TIMEOUT_MS);
	for (unsigned i = 0; i < CONFIG_MAX_IOTHREADS; i++)
		iothread_destroy(&vm->iothreads[i]);
	if (vm->with_irq_test)
		irq_test_destroy(&vm->irq_test);
	/* The bus reads the devices' BARs to unmap them: before the devices go. */
	pci_bus_destroy(&vm->pci);
	for (unsigned i = 0; i < vm->nr_transports; i++) {
		if (vm->cfg.transport == VIRTIO_TRANSPORT_MMIO)
			virtio_mmio_destroy(&vm->transports[i].mmio);
		else
			virtio_pci_destroy(&vm->transports[i].pci);
	}
	free(vm->transports);
	vm->transports = NULL;
	vm->nr_transports = 0;
	for (unsigned i = 0; i < vm->nr_disks; i++)
		virtio_blk_destroy(&vm->disks[i]);
	free(vm->disks);
	vm->disks = NULL;
	vm->nr_disks = 0;
	for (unsigned i = 0; i < vm->nr_nets; i++)
		virtio_net_destroy(&vm->nets[i]);
	free(vm->nets);
	vm->nets = NULL;
	vm->nr_nets = 0;
	if (vm->rng)
		virtio_rng_destroy(vm->rng);
	free(vm->rng);
	vm->rng = NULL;
	if (vm->vsock)
		virtio_vsock_destroy(vm->vsock);
	free(vm->vsock);
	vm->vsock = NULL;
	loop_destroy(&vm->loop);
	console_destroy(&vm->console);
	uart_destroy(&vm->com1);
	irq_source_destroy(&vm->com1_irq);
	i8042_destroy(&vm->i8042);
	irq_source_destroy(&vm->i8042_irq);
	if (vm->irq.vm_fd > 0)
		irq_chip_destroy(&vm->irq);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	vm->signal_fd = -1;
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	kvm_close(&vm->kvm);
	guest_memory_destroy(&vm->mem);
	terminal_restore(&vm->term);
	if (vm->signals_blocked)
		pthread_sigmask(SIG_SETMASK, &vm->saved_sigmask, NULL);
	pthread_mutex_destroy(&vm->stop.lock);
	pthread_mutex_destroy(&vm->pause.lock);
	pthread_cond_destroy(&vm->pause.resume);
}

static void vm_all_parked(struct loop_work *work)
{
	struct vm *vm = container_of(work, struct vm, pause.all_parked);

	/* Posted by an earlier pause that a resume overtook: only a pause that holds counts. */
	pthread_mutex_lock(&vm->pause.lock);
	bool holds = vm->pause.paused && vm->pause.parked == vm->nr_vcpus;
	void (*fn)(void *) = holds ? vm->pause.on_parked : NULL;
	if (holds)
		vm->pause.on_parked = NULL;
	pthread_mutex_unlock(&vm->pause.lock);
	if (fn)
		fn(vm->pause.ctx);
}

void vm_pause(struct vm *vm, void (*on_parked)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&vm->pause.lock);
	vm->pause.paused = true;
	vm->pause.on_parked = on_parked;
	vm->pause.ctx = ctx;
	vm->pause.all_parked.run = vm_all_parked;
	bool done = vm->pause.parked == vm->nr_vcpus;
	pthread_mutex_unlock(&vm->pause.lock);
	if (done) {
		loop_post(&vm->loop, &vm->pause.all_parked);
		return;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_make_request(&vm->vcpus[i].requests, VCPU_REQ_PAUSE);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i].requests);
}

void vm_resume(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause.lock);
	vm->pause.paused = false;
	vm->pause.on_parked = NULL;
	pthread_cond_broadcast(&vm->pause.resume);
	pthread_mutex_unlock(&vm->pause.lock);
}

void vm_park_vcpu(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause.lock);
	if (vm->pause.paused && !vm->pause.stopping) {
		/* The last to park tells the loop, which answers the PATCH. */
		if (++vm->pause.parked == vm->nr_vcpus)
			loop_post(&vm->loop, &vm->pause.all_parked);
		while (vm->pause.paused && !vm->pause.stopping)
			pthread_cond_wait(&vm->pause.resume, &vm->pause.lock);
		vm->pause.parked--;
	}
	pthread_mutex_unlock(&vm->pause.lock);
}

int vm_send_ctrl_alt_del(struct vm *vm)
{
	return i8042_send_ctrl_alt_del(&vm->i8042);
}

int vm_update_drive(struct vm *vm, unsigned index, int fd, uint64_t size)
{
	if (index >= vm->nr_disks) {
		close(fd);
		return -ENODEV;
	}
	int r = virtio_blk_replace_image(&vm->disks[index], fd, size);
	if (!r)
		virtio_config_changed(&vm->disks[index].vdev);
	return r;
}
