/*
 * The interrupt layer against a recording backend: what each --irq path and
 * irqchip actually asks of KVM, in what order, and what it gives back.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "irq/irq.h"
#include "irq_recorder.h"
#include "services/loop.h"

#define MSI_A { .address = 0xfee01000, .data = 0x41 }
#define MSI_B { .address = 0xfee02000, .data = 0x52 }

static struct irq_chip chip;
static struct irq_source src;
static struct error err;

static void assert_msi(struct msi_msg got, struct msi_msg want)
{
	cr_assert_eq(got.address, want.address, "address %#llx, expected %#llx",
		     (unsigned long long)got.address, (unsigned long long)want.address);
	cr_assert_eq(got.data, want.data, "data %#x, expected %#x", got.data, want.data);
}

static void assert_route(struct irq_recorder *rec, uint32_t gsi, struct msi_msg want)
{
	struct kvm_irq_routing_entry e;

	cr_assert_eq(rec_routes(rec, gsi, &e), 1, "KVM holds one route for GSI %u", gsi);
	cr_assert_eq(e.type, KVM_IRQ_ROUTING_MSI);
	assert_msi((struct msi_msg){ .address = (uint64_t)e.u.msi.address_hi << 32 | e.u.msi.address_lo,
				     .data = e.u.msi.data }, want);
}

/* --- chips ------------------------------------------------------------------ */

Test(irq, kernel_chip_is_created_with_the_pc_routes)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_IRQFD);
	cr_assert_eq(rec_count(rec, REC_CREATE), 1);
	cr_assert_eq(rec_count(rec, REC_ROUTING), 1, "the table goes to KVM once");
	cr_assert_eq(rec->table_nr, 15 + 23, "PIC and IOAPIC pins, no GSI 2");
	cr_assert_eq(rec_routes(rec, 4, NULL), 2);
	rec_chip_destroy(&chip, rec);
}

Test(irq, split_chip_starts_with_no_routes)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_SPLIT, IRQ_PATH_IRQFD);
	cr_assert_eq(rec_count(rec, REC_CREATE), 1);
	cr_assert_eq(rec->table_nr, 0, "the IOAPIC's pins are routed as the guest programs them");
	rec_chip_destroy(&chip, rec);
}

Test(irq, a_failed_create_fails_init)
{
	struct irq_recorder rec = { .lock = PTHREAD_MUTEX_INITIALIZER };
	rec_fail(&rec, REC_CREATE, ENOTSUP, 0);
	cr_assert_eq(irq_chip_init_ops(&chip, &rec_ops, &rec, IRQCHIP_SPLIT, IRQ_PATH_MSI, &err), -ENOTSUP);
	cr_assert_eq(rec_count(&rec, REC_ROUTING), 0, "no table without a chip");
}

/* --- pins on the in-kernel irqchip --------------------------------------------- */

Test(irq, line_edge_pin_pulses)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_LINE, -1, NULL, &err), 0);
	rec_clear(rec);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec->n, 2);
	cr_assert_eq(rec_nth(rec, REC_LINE, 0).gsi, 4);
	cr_assert(rec_nth(rec, REC_LINE, 0).level, "up first");
	cr_assert_not(rec_nth(rec, REC_LINE, 1).level, "then down");
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

Test(irq, line_level_pin_sends_only_changes)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 10, true, IRQ_PATH_LINE, -1, NULL, &err), 0);
	rec_clear(rec);
	irq_set_level(&src, true);
	irq_set_level(&src, true);
	irq_set_level(&src, false);
	irq_set_level(&src, false);
	cr_assert_eq(rec->n, 2);
	cr_assert(rec->ev[0].kind == REC_LINE && rec->ev[0].gsi == 10 && rec->ev[0].level);
	cr_assert(rec->ev[1].kind == REC_LINE && rec->ev[1].gsi == 10 && !rec->ev[1].level);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

Test(irq, kernel_pin_refuses_the_msi_path_without_leaving_anything)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_MSI);
	cr_assert_eq(irq_chip_pin_path(&chip), IRQ_PATH_LINE, "--irq msi: pins take the line");
	rec_clear(rec);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_MSI, -1, NULL, &err), -ENOTSUP);
	irq_source_destroy(&src);
	cr_assert_eq(rec->n, 0);
	rec_chip_destroy(&chip, rec);
}

Test(irq, irqfd_edge_pin_signals_its_eventfd_and_gives_it_back)
{
	unsigned fds = open_fds();
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_IRQFD);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_IRQFD, -1, NULL, &err), 0);
	struct rec_event a = rec_nth(rec, REC_IRQFD_ASSIGN, 0);
	cr_assert_eq(a.gsi, 4);
	cr_assert_eq(a.resamplefd, -1, "an edge pin needs no resampling");
	cr_assert_eq(a.fd, irq_source_eventfd(&src));
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec_count(rec, REC_SIGNAL), 1);
	cr_assert_eq(rec_nth(rec, REC_SIGNAL, 0).fd, a.fd);
	cr_assert_eq(rec_count(rec, REC_LINE), 0);
	irq_source_destroy(&src);
	cr_assert_eq(rec_nth(rec, REC_IRQFD_DEASSIGN, 0).fd, a.fd);
	cr_assert_eq(rec->assigned, 0);
	cr_assert_not(fd_is_open(a.fd), "the eventfd made for it is closed");
	rec_chip_destroy(&chip, rec);
	cr_assert_eq(open_fds(), fds);
}

Test(irq, irqfd_handed_in_is_used_and_left_open)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_IRQFD);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 5, false, IRQ_PATH_IRQFD, fd, NULL, &err), 0);
	cr_assert_eq(rec_nth(rec, REC_IRQFD_ASSIGN, 0).fd, fd);
	irq_source_destroy(&src);
	cr_assert_eq(rec_nth(rec, REC_IRQFD_DEASSIGN, 0).fd, fd);
	cr_assert(fd_is_open(fd), "the caller's to close");
	close(fd);
	rec_chip_destroy(&chip, rec);
}

/* A level irqfd holds the line until the guest's EOI (KVM writes the resample fd). */
Test(irq, irqfd_level_pin_reasserts_after_eoi_only_while_up, .timeout = 10)
{
	struct loop loop;
	unsigned fds = open_fds();
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_IRQFD);
	cr_assert_eq(loop_init(&loop, 8, &err), 0, "%s", err.msg);
	loop_start(&loop);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 11, true, IRQ_PATH_IRQFD, -1, &loop, &err), 0);
	struct rec_event a = rec_nth(rec, REC_IRQFD_ASSIGN, 0);
	cr_assert_geq(a.resamplefd, 0, "a level pin resamples");
	irq_source_start(&src);
	cr_assert(irq_source_busy(&src));

	cr_assert_eq(irq_set_level(&src, true), 0);
	cr_assert_eq(rec_count(rec, REC_SIGNAL), 1);
	cr_assert_eq(rec_nth(rec, REC_SIGNAL, 0).via, &loop, "on its loop: through the ring");
	uint64_t one = 1;
	cr_assert_eq(write(a.resamplefd, &one, 8), 8);          /* EOI while still up */
	cr_assert_geq(loop_poll(&loop, 2000), 1);
	cr_assert_eq(rec_count(rec, REC_SIGNAL), 2, "raised again");

	cr_assert_eq(irq_set_level(&src, false), 0);
	cr_assert_eq(rec_count(rec, REC_SIGNAL), 2, "lowering is KVM's, on the EOI");
	cr_assert_eq(write(a.resamplefd, &one, 8), 8);          /* EOI after it went down */
	cr_assert_geq(loop_poll(&loop, 2000), 1);
	cr_assert_eq(rec_count(rec, REC_SIGNAL), 2, "not raised again");

	irq_source_cancel(&src);
	for (int i = 0; i < 10 && irq_source_busy(&src); i++)
		loop_poll(&loop, 1000);
	cr_assert_not(irq_source_busy(&src));
	irq_source_destroy(&src);
	cr_assert_not(fd_is_open(a.resamplefd));
	cr_assert_eq(rec->assigned, 0);
	loop_destroy(&loop);
	rec_chip_destroy(&chip, rec);
	cr_assert_eq(open_fds(), fds);
}

/* --- MSI sources --------------------------------------------------------------- */

Test(irq, msi_path_signals_and_follows_repointing)
{
	struct msi_msg a = MSI_A, b = MSI_B;
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_MSI);
	rec_clear(rec);
	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_MSI, -1, &err), 0);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(irq_source_set_msi(&src, &b), 0);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec->n, 2, "two KVM_SIGNAL_MSI, no route");
	assert_msi(rec_nth(rec, REC_MSI, 0).msi, a);
	assert_msi(rec_nth(rec, REC_MSI, 1).msi, b);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

Test(irq, line_path_msi_routes_repoints_and_removes)
{
	struct msi_msg a = MSI_A, b = MSI_B;
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_LINE, -1, &err), 0);
	uint32_t gsi = src.gsi;
	cr_assert_geq(gsi, IRQ_FIRST_MSI_GSI);
	assert_route(rec, gsi, a);
	rec_clear(rec);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec->n, 1);
	cr_assert(rec->ev[0].kind == REC_LINE && rec->ev[0].gsi == gsi && rec->ev[0].level,
		  "an MSI route fires on 1");
	cr_assert_eq(irq_source_set_msi(&src, &b), 0);
	assert_route(rec, gsi, b);
	cr_assert_eq(rec->table_nr, 38 + 1, "replaced, not added");
	irq_source_destroy(&src);
	cr_assert_eq(rec_routes(rec, gsi, NULL), 0, "KVM forgets the route");
	cr_assert_eq(rec->table_nr, 38);
	rec_chip_destroy(&chip, rec);
}

Test(irq, irqfd_path_msi_attaches_to_its_route)
{
	struct msi_msg a = MSI_A, b = MSI_B;
	unsigned fds = open_fds();
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_SPLIT, IRQ_PATH_IRQFD);
	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_IRQFD, -1, &err), 0);
	assert_route(rec, src.gsi, a);
	struct rec_event as = rec_nth(rec, REC_IRQFD_ASSIGN, 0);
	cr_assert_eq(as.gsi, src.gsi);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec_nth(rec, REC_SIGNAL, 0).fd, as.fd);
	cr_assert_eq(irq_source_set_msi(&src, &b), 0);
	assert_route(rec, src.gsi, b);
	cr_assert_eq(rec_count(rec, REC_IRQFD_ASSIGN), 1, "re-pointing keeps the irqfd");
	irq_source_destroy(&src);
	cr_assert_eq(rec->table_nr, 0);
	cr_assert_eq(rec->assigned, 0);
	rec_chip_destroy(&chip, rec);
	cr_assert_eq(open_fds(), fds);
}

/* A source whose irqfd KVM refused, retried: nothing piles up, destroyed or not. */
Test(irq, failed_irqfd_leaves_no_route_or_eventfd)
{
	struct msi_msg a = MSI_A;
	unsigned fds = open_fds();
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_IRQFD);
	rec_fail(rec, REC_IRQFD_ASSIGN, ENOMEM, 5);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_IRQFD, -1, &err), -ENOMEM);
		/* Before any irq_source_destroy: the failed init itself gave everything back. */
		cr_assert_eq(open_fds(), fds, "try %d: the eventfd was closed", i);
		cr_assert_eq(rec->table_nr, 38, "try %d: the route was taken back", i);
		cr_assert_eq(irq_routing_count(&chip.routing, IRQ_FIRST_MSI_GSI), 0);
		irq_source_destroy(&src);
	}
	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_IRQFD, -1, &err), 0);
	cr_assert_eq(src.gsi, IRQ_FIRST_MSI_GSI, "no GSI was lost to the failures");
	cr_assert_eq(rec->table_nr, 39);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
	cr_assert_eq(open_fds(), fds);
}

Test(irq, failed_level_irqfd_closes_both_eventfds)
{
	struct loop loop;
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_IRQFD);
	cr_assert_eq(loop_init(&loop, 8, &err), 0, "%s", err.msg);
	unsigned fds = open_fds();
	rec_fail(rec, REC_IRQFD_ASSIGN, EBUSY, 1);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 11, true, IRQ_PATH_IRQFD, -1, &loop, &err), -EBUSY);
	cr_assert_eq(open_fds(), fds, "irqfd and resample fd closed");
	irq_source_destroy(&src);
	loop_destroy(&loop);
	rec_chip_destroy(&chip, rec);
}

Test(irq, failed_route_commit_loses_no_gsi)
{
	struct msi_msg a = MSI_A;
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
	rec_fail(rec, REC_ROUTING, ENOSPC, 1);
	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_LINE, -1, &err), -ENOSPC);
	irq_source_destroy(&src);
	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_LINE, -1, &err), 0);
	cr_assert_eq(src.gsi, IRQ_FIRST_MSI_GSI);
	assert_route(rec, src.gsi, a);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

/* --- pins on the split irqchip (our IOAPIC) ------------------------------------ */

static void ioapic_write(uint32_t reg, uint32_t value)
{
	ioapic_access(&chip.ioapic, 0x00, (uint8_t *)&reg, 4, true);
	ioapic_access(&chip.ioapic, 0x10, (uint8_t *)&value, 4, true);
}

/* Pin 4 to vector 0x31 on APIC 1, edge, unmasked: MSI 0xfee01000/0x31. */
static const struct msi_msg pin4_msi = { .address = 0xfee01000, .data = 0x31 };

static void program_pin4(void)
{
	ioapic_write(0x10 + 2 * 4 + 1, 1u << 24);
	ioapic_write(0x10 + 2 * 4, 0x31);
}

Test(irq, split_pin_is_routed_as_programmed_and_raised_on_the_line)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_SPLIT, IRQ_PATH_LINE);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_LINE, -1, NULL, &err), 0);
	program_pin4();
	assert_route(rec, 4, pin4_msi);
	rec_clear(rec);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec->n, 1, "one edge, one KVM_IRQ_LINE");
	cr_assert(rec->ev[0].kind == REC_LINE && rec->ev[0].gsi == 4 && rec->ev[0].level);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

Test(irq, split_pin_msi_path_sends_the_entry)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_SPLIT, IRQ_PATH_MSI);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_MSI, -1, NULL, &err), 0);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec_count(rec, REC_MSI), 0, "masked at reset: nothing");
	program_pin4();
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec_count(rec, REC_MSI), 1);
	assert_msi(rec_nth(rec, REC_MSI, 0).msi, pin4_msi);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

Test(irq, split_pin_irqfd_is_made_once_and_given_back)
{
	unsigned fds = open_fds();
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_SPLIT, IRQ_PATH_IRQFD);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_IRQFD, -1, NULL, &err), 0);
	cr_assert_eq(rec_count(rec, REC_IRQFD_ASSIGN), 0, "made on first use");
	program_pin4();
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec_count(rec, REC_IRQFD_ASSIGN), 1);
	struct rec_event a = rec_nth(rec, REC_IRQFD_ASSIGN, 0);
	cr_assert_eq(a.gsi, 4, "on the pin's own (MSI) route");
	cr_assert_eq(rec_count(rec, REC_SIGNAL), 2);
	cr_assert_eq(rec_nth(rec, REC_SIGNAL, 1).fd, a.fd);
	irq_source_destroy(&src);
	irq_chip_destroy(&chip);
	cr_assert_eq(rec->assigned, 0, "detached with the chip");
	cr_assert_eq(open_fds(), fds);
	rec_free(rec);
}

Test(irq, split_pin_falls_back_to_msi_when_kvm_refuses_the_irqfd)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_SPLIT, IRQ_PATH_IRQFD);
	unsigned fds = open_fds();
	cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_IRQFD, -1, NULL, &err), 0);
	program_pin4();
	rec_fail(rec, REC_IRQFD_ASSIGN, EINVAL, 0);
	cr_assert_eq(irq_trigger(&src, NULL), 0);
	cr_assert_eq(rec_count(rec, REC_MSI), 1, "delivered anyway");
	assert_msi(rec_nth(rec, REC_MSI, 0).msi, pin4_msi);
	cr_assert_eq(open_fds(), fds, "the refused eventfd was closed");
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

/* --- the level lock ------------------------------------------------------------ */

static struct {
	sem_t in_raise;
	bool stalled;
} race;

/* The first KVM_IRQ_LINE (the raise) stalls inside the call, with the lower on its way. */
static void stall_first_line(struct irq_recorder *rec, enum rec_kind kind)
{
	(void)rec;
	if (kind != REC_LINE || race.stalled)
		return;
	race.stalled = true;
	sem_post(&race.in_raise);
	usleep(200 * 1000);
}

static void *raise_thread(void *arg)
{
	(void)arg;
	irq_set_level(&src, true);
	return NULL;
}

/*
 * An I/O thread raises while a vCPU lowers: KVM must see them in the order the
 * device's level changed, or it holds a line the device dropped.
 */
Test(irq, level_changes_reach_kvm_in_their_order, .timeout = 10)
{
	pthread_t t;
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 10, true, IRQ_PATH_LINE, -1, NULL, &err), 0);
	sem_init(&race.in_raise, 0, 0);
	rec->hook = stall_first_line;
	pthread_create(&t, NULL, raise_thread, NULL);
	sem_wait(&race.in_raise);            /* the raise is inside KVM_IRQ_LINE */
	irq_set_level(&src, false);          /* ... so this lower must wait for it */
	pthread_join(t, NULL);
	cr_assert_eq(rec_count(rec, REC_LINE), 2);
	cr_assert(rec_nth(rec, REC_LINE, 0).level, "the raise first");
	cr_assert_not(rec_nth(rec, REC_LINE, 1).level, "the lower last: KVM's line is down as the device's");
	sem_destroy(&race.in_raise);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

static int lock_probe = -1;

static void probe_level_lock(struct irq_recorder *rec, enum rec_kind kind)
{
	(void)rec, (void)kind;
	int r = pthread_mutex_trylock(&src.level_lock);
	if (!r)
		pthread_mutex_unlock(&src.level_lock);
	lock_probe = r;
}

Test(irq, level_reaches_kvm_with_the_lock_held)
{
	static const enum irq_path paths[] = { IRQ_PATH_LINE, IRQ_PATH_IRQFD };
	for (unsigned i = 0; i < 2; i++) {
		struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, paths[i]);
		cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, paths[i], -1, NULL, &err), 0);
		rec->hook = probe_level_lock;
		lock_probe = -1;
		irq_set_level(&src, true);
		cr_assert_eq(lock_probe, EBUSY, "%s: the level lock was not held", irq_path_name(paths[i]));
		rec->hook = NULL;
		irq_source_destroy(&src);
		rec_chip_destroy(&chip, rec);
	}
}

/* --- delivery failures ------------------------------------------------------------ */

static int saved_stderr = -1;
static FILE *captured;

/* From here to captured_lines, stderr goes to a temporary file. */
static void capture_stderr(void)
{
	fflush(stderr);
	captured = tmpfile();
	cr_assert_not_null(captured);
	saved_stderr = dup(STDERR_FILENO);
	cr_assert_geq(dup2(fileno(captured), STDERR_FILENO), 0);
}

/* Puts stderr back and returns the lines written meanwhile (the text in buf). */
static unsigned captured_lines(char *buf, size_t len)
{
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(captured);
	size_t n = fread(buf, 1, len - 1, captured);
	buf[n] = '\0';
	fclose(captured);
	unsigned lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

static const int host_errnos[] = { EBADF, EFAULT, ENOMEM, EIO, ENOSPC, ENXIO, ENOTTY, ENOSYS, EAGAIN };

Test(irq, host_failure_calls_failed_once_and_counts)
{
	for (unsigned i = 0; i < sizeof(host_errnos) / sizeof(host_errnos[0]); i++) {
		int e = host_errnos[i];
		char log[512];
		struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
		cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_LINE, -1, NULL, &err), 0);
		capture_stderr();
		rec_fail(rec, REC_LINE, e, 2);
		cr_assert_eq(irq_trigger(&src, NULL), -e, "the caller still hears of it");
		cr_assert_eq(rec->failed_calls, 1, "%s: failed called once", strerror(e));
		cr_assert_eq(rec->failed_err, -e);
		cr_assert_str_eq(rec->failed_what, "KVM_IRQ_LINE (GSI 4)");
		cr_assert_eq(irq_chip_delivery_errors(&chip), 1);
		cr_assert_eq(irq_trigger(&src, NULL), -e);
		cr_assert_eq(rec->failed_calls, 2, "%s: once per failure", strerror(e));
		cr_assert_eq(irq_trigger(&src, NULL), 0);
		cr_assert_eq(rec->failed_calls, 2, "a success calls nothing");
		cr_assert_eq(irq_chip_delivery_errors(&chip), 2);
		cr_assert_eq(captured_lines(log, sizeof(log)), 0, "the owner speaks for the host: %s", log);
		irq_source_destroy(&src);
		rec_chip_destroy(&chip, rec);
	}
}

/* Each KVM call a delivery makes, failing through the host's fault, reaches failed. */
Test(irq, host_failure_on_every_delivery_path_reaches_failed)
{
	struct msi_msg a = MSI_A, b = MSI_B;
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_MSI);

	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_MSI, -1, &err), 0);
	rec_fail(rec, REC_MSI, EFAULT, 1);
	cr_assert_eq(irq_trigger(&src, NULL), -EFAULT);
	cr_assert_eq(rec->failed_calls, 1);
	cr_assert_str_eq(rec->failed_what, "KVM_SIGNAL_MSI", "an MSI names no GSI");
	irq_source_destroy(&src);

	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_IRQFD, -1, &err), 0);
	rec_fail(rec, REC_SIGNAL, EBADF, 1);
	cr_assert_eq(irq_trigger(&src, NULL), -EBADF);
	cr_assert_eq(rec->failed_calls, 2);
	cr_assert_eq(rec->failed_err, -EBADF);
	cr_assert(strstr(rec->failed_what, "irqfd write (GSI "), "%s", rec->failed_what);
	rec_fail(rec, REC_ROUTING, ENOMEM, 1);
	cr_assert_eq(irq_source_set_msi(&src, &b), -ENOMEM);
	cr_assert_eq(rec->failed_calls, 3);
	cr_assert(strstr(rec->failed_what, "route update (GSI "), "%s", rec->failed_what);
	cr_assert_eq(irq_chip_delivery_errors(&chip), 3);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

/* Our IOAPIC's deliveries and route updates have no caller to return to: failed must hear. */
Test(irq, host_failure_in_the_split_ioapic_reaches_failed)
{
	static const enum irq_path paths[] = { IRQ_PATH_MSI, IRQ_PATH_LINE, IRQ_PATH_IRQFD };
	static const enum rec_kind kinds[] = { REC_MSI, REC_LINE, REC_SIGNAL };
	static const char *const whats[] = { "KVM_SIGNAL_MSI (GSI 4)", "KVM_IRQ_LINE (GSI 4)",
					     "irqfd write (GSI 4)" };
	for (unsigned i = 0; i < 3; i++) {
		struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_SPLIT, paths[i]);
		cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, paths[i], -1, NULL, &err), 0);
		rec_fail(rec, REC_ROUTING, ENOMEM, 1);
		program_pin4();
		cr_assert_geq(rec->failed_calls, 1, "the route update's failure");
		cr_assert_str_eq(rec->failed_what, "route update (GSI 4)");
		unsigned before = rec->failed_calls;
		rec_fail(rec, kinds[i], EIO, 1);
		cr_assert_eq(irq_trigger(&src, NULL), 0, "the IOAPIC took the edge");
		cr_assert_eq(rec->failed_calls, before + 1, "%s", irq_path_name(paths[i]));
		cr_assert_eq(rec->failed_err, -EIO);
		cr_assert_str_eq(rec->failed_what, whats[i]);
		cr_assert_eq(irq_chip_delivery_errors(&chip), before + 1);
		irq_source_destroy(&src);
		rec_chip_destroy(&chip, rec);
	}
}

Test(irq, host_failure_of_the_resample_resignal_reaches_failed, .timeout = 10)
{
	struct loop loop;
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_IRQFD);
	cr_assert_eq(loop_init(&loop, 8, &err), 0, "%s", err.msg);
	loop_start(&loop);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 11, true, IRQ_PATH_IRQFD, -1, &loop, &err), 0);
	struct rec_event a = rec_nth(rec, REC_IRQFD_ASSIGN, 0);
	irq_source_start(&src);
	cr_assert_eq(irq_set_level(&src, true), 0);
	rec_fail(rec, REC_SIGNAL, EBADF, 1);
	uint64_t one = 1;
	cr_assert_eq(write(a.resamplefd, &one, 8), 8);          /* EOI while still up */
	cr_assert_geq(loop_poll(&loop, 2000), 1);
	cr_assert_eq(rec->failed_calls, 1);
	cr_assert_eq(rec->failed_err, -EBADF);
	cr_assert_str_eq(rec->failed_what, "irqfd re-signal after resample (GSI 11)");
	cr_assert_eq(irq_chip_delivery_errors(&chip), 1);
	irq_source_cancel(&src);
	for (int i = 0; i < 10 && irq_source_busy(&src); i++)
		loop_poll(&loop, 1000);
	irq_source_destroy(&src);
	loop_destroy(&loop);
	rec_chip_destroy(&chip, rec);
}

/* A bogus MSI is the guest's business: counted, a few lines, and the VM goes on. */
Test(irq, guest_failure_counts_and_logs_within_the_budget)
{
	struct msi_msg a = MSI_A;
	char log[2048];
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_MSI);
	cr_assert_eq(irq_source_init_msi(&src, &chip, &a, IRQ_PATH_MSI, -1, &err), 0);
	capture_stderr();
	rec_fail(rec, REC_MSI, EINVAL, 0);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(irq_trigger(&src, NULL), -EINVAL);
	unsigned lines = captured_lines(log, sizeof(log));
	cr_assert_eq(rec->failed_calls, 0, "not the host's fault: the VM goes on");
	cr_assert_eq(irq_chip_delivery_errors(&chip), 20, "every one counted");
	cr_assert(lines >= 1 && lines <= 4, "%u lines: %s", lines, log);
	cr_assert(strstr(log, "ringvm: warning: interrupt not delivered: KVM_SIGNAL_MSI: "), "%s", log);
	cr_assert(strstr(log, "suppressed"), "the last line says so: %s", log);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

/* KVM_SIGNAL_MSI's -1 (EPERM): no LAPIC matches the destination the guest programmed. */
Test(irq, guest_failure_in_the_split_ioapic_does_not_stop_the_vm)
{
	char log[1024];
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_SPLIT, IRQ_PATH_MSI);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, IRQ_PATH_MSI, -1, NULL, &err), 0);
	capture_stderr();
	rec_fail(rec, REC_ROUTING, EINVAL, 1);
	program_pin4();
	rec_fail(rec, REC_MSI, EPERM, 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(irq_trigger(&src, NULL), 0);
	unsigned lines = captured_lines(log, sizeof(log));
	cr_assert_eq(rec->failed_calls, 0);
	cr_assert_eq(irq_chip_delivery_errors(&chip), 11, "the route and ten edges");
	cr_assert(lines >= 1 && lines <= 4, "%u lines: %s", lines, log);
	cr_assert(strstr(log, "route update (GSI 4)"), "%s", log);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

Test(irq, successful_deliveries_count_nothing, .timeout = 10)
{
	struct msi_msg a = MSI_A, b = MSI_B;
	char log[512];
	capture_stderr();
	for (unsigned mode = 0; mode < 2; mode++) {
		static const enum irq_path paths[] = { IRQ_PATH_IRQFD, IRQ_PATH_MSI, IRQ_PATH_LINE };
		for (unsigned p = 0; p < 3; p++) {
			struct irq_recorder *rec = rec_chip_init(&chip, mode ? IRQCHIP_SPLIT : IRQCHIP_KERNEL,
								 paths[p]);
			if (mode || paths[p] != IRQ_PATH_MSI) {
				cr_assert_eq(irq_source_init_pin(&src, &chip, 4, false, paths[p], -1, NULL,
								 &err), 0, "%s", err.msg);
				if (mode)
					program_pin4();
				for (int i = 0; i < 3; i++) {
					cr_assert_eq(irq_trigger(&src, NULL), 0);
					cr_assert_eq(irq_set_level(&src, true), 0);
					cr_assert_eq(irq_set_level(&src, false), 0);
				}
				irq_source_destroy(&src);
			}
			cr_assert_eq(irq_source_init_msi(&src, &chip, &a, paths[p], -1, &err), 0);
			cr_assert_eq(irq_trigger(&src, NULL), 0);
			cr_assert_eq(irq_source_set_msi(&src, &b), 0);
			cr_assert_eq(irq_trigger(&src, NULL), 0);
			irq_source_destroy(&src);
			cr_assert_eq(irq_chip_delivery_errors(&chip), 0);
			cr_assert_eq(rec->failed_calls, 0);
			rec_chip_destroy(&chip, rec);
		}
	}
	cr_assert_eq(captured_lines(log, sizeof(log)), 0, "%s", log);
}

/* A raise KVM refused leaves the line down: the device's next update tries again. */
Test(irq, a_failed_level_change_is_tried_again)
{
	struct irq_recorder *rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
	cr_assert_eq(irq_source_init_pin(&src, &chip, 10, true, IRQ_PATH_LINE, -1, NULL, &err), 0);
	rec_clear(rec);
	rec_fail(rec, REC_LINE, EIO, 1);
	cr_assert_eq(irq_set_level(&src, true), -EIO);
	cr_assert_eq(rec_count(rec, REC_LINE), 0);
	cr_assert_eq(irq_set_level(&src, true), 0);
	cr_assert_eq(rec_count(rec, REC_LINE), 1, "the same level again reaches KVM");
	cr_assert(rec_nth(rec, REC_LINE, 0).level);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}
