/*
 * The irq-test device: interrupts on request, by a chosen path, for the built-in
 * guest's self-tests and bench/irqlat. Registers: abi/irq_test.h; protocol: guest/README.md.
 * `ringvm run --irq-test-fds D,I` (accepted, but left out of --help: no user
 * needs it) hands it the doorbell and irq eventfds of another process, which
 * services them: bench/irqlat/epoll_peer.c, the external path's epoll baseline.
 */
#ifndef RINGVM_IRQ_TEST_H
#define RINGVM_IRQ_TEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "abi/irq_test.h"
#include "irq/irq.h"
#include "services/loop.h"

struct irq_test;
struct irq_test_binding;

struct irq_test_channel {
	struct irq_test *dev;
	unsigned index;
	struct loop *loop;                  /* the I/O thread that services this channel */
	struct irq_test_binding *current;   /* what the last good CONFIG set up */
	_Atomic uint32_t raised;
};

struct irq_test {
	pthread_mutex_t lock;               /* CONFIG, ACK and the local doorbell: vCPU threads */
	struct irq_chip *chip;
	int vm_fd;
	uint32_t status;
	int external_doorbell_fd, external_irq_fd;   /* bench/irqlat's epoll peer, or -1 */
	struct irq_test_channel channel[IRQ_TEST_CHANNELS];
	struct irq_test_binding *bindings;  /* every binding not yet freed */
};

/* Sets the device up; channel i is serviced by loops[i]; external fds may be -1. */
void irq_test_init(struct irq_test *dev, struct irq_chip *chip, int vm_fd,
		   struct loop *loops[IRQ_TEST_CHANNELS], int external_doorbell_fd,
		   int external_irq_fd);

/* Frees everything; every loop must have stopped (nothing of ours in flight). */
void irq_test_destroy(struct irq_test *dev);

/* Bus handler for the device's ports. */
void irq_test_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
