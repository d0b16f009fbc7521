/*
 * A vCPU's requests, in KVM's three operations: make a request (set its bit),
 * check it (test and clear, on the vCPU's thread before it enters the guest),
 * kick the vCPU (make it look). The rules:
 *   local  (the caller is the vCPU's own thread): the bit is set only if not pending and
 *          the kick is nothing: the thread checks its requests before it re-enters.
 *   remote (another thread): the bit is always set; the kick always signals a target in
 *          the guest, never deciding by what the bit looked like.
 *   the kick signal is one real-time signal used for nothing else, unblocked only in KVM_RUN.
 */
#ifndef RINGVM_REQUESTS_H
#define RINGVM_REQUESTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum vcpu_request {
	VCPU_REQ_STOP = 1u << 0,    /* leave the run loop for good */
	VCPU_REQ_PAUSE = 1u << 1,   /* park until the VM is resumed (PATCH /vm) */
};

enum vcpu_mode {
	VCPU_OUTSIDE_GUEST,   /* in userspace: checks its requests before entering */
	VCPU_IN_GUEST,        /* in KVM_RUN, or committed to entering it */
};

struct vcpu_requests {
	_Atomic uint32_t bits;
	_Atomic int mode;           /* enum vcpu_mode */
	pthread_t thread;           /* valid once thread_set */
	_Atomic bool thread_set;    /* set by the vCPU thread itself, before it first enters */
};

/* Any thread: sets req's bit (the vCPU's own thread: only if it is not pending). */
void vcpu_make_request(struct vcpu_requests *r, uint32_t req);

/* The vCPU's thread, before entering the guest: true (and the bit cleared) if req was pending. */
bool vcpu_check_request(struct vcpu_requests *r, uint32_t req);

/* Any thread, after vcpu_make_request: a remote target in the guest gets the kick signal. */
void vcpu_kick(struct vcpu_requests *r);

/* Whether a kick sends the signal; the pending bits are deliberately not an argument. */
bool vcpu_kick_needs_signal(bool local, enum vcpu_mode mode);

/* On the vCPU's thread, first thing: makes it the target's own thread. */
void vcpu_requests_bind(struct vcpu_requests *self);

/* On the vCPU's thread: publishes IN_GUEST; returns the pending requests (0: go ahead and enter). */
uint32_t vcpu_requests_enter_guest(struct vcpu_requests *self);

/* On the vCPU's thread, after KVM_RUN returns. */
void vcpu_requests_exit_guest(struct vcpu_requests *self);

/* The dedicated kick signal (a real-time signal). */
int kick_signal(void);

/* Installs the kick signal's no-op handler; call once before any vCPU thread exists. */
int kick_signal_init(void);

/* On the vCPU's thread after KVM_RUN failed with EINTR: consumes a pending kick signal. */
void kick_signal_consume(void);

#endif
