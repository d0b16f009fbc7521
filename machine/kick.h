/*
 * Kicking a vCPU: request bits checked before every KVM_RUN, and the three rules.
 *   local  (the caller is the target's own thread): set the bit if it is not pending; no syscall.
 *   remote (another thread): always set the bit; if the target is in the guest, always send
 *          the kick signal, whatever the bit looked like; if it sleeps in userspace, wake it.
 *   the kick signal is one real-time signal used for nothing else, unblocked only in KVM_RUN.
 */
#ifndef RINGVM_KICK_H
#define RINGVM_KICK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum kick_request {
	KICK_REQ_STOP  = 1u << 0,   /* leave the run loop for good */
	KICK_REQ_PAUSE = 1u << 1,   /* park until KICK_REQ_RESUME */
	KICK_REQ_RESUME = 1u << 2,
	KICK_REQ_EVENT = 1u << 3,   /* re-evaluate pending work before entering the guest */
};

enum vcpu_mode {
	VCPU_OUTSIDE_GUEST,   /* runnable in userspace: checks requests before entering */
	VCPU_IN_GUEST,        /* in KVM_RUN, or committed to entering it */
	VCPU_BLOCKED,         /* asleep in userspace until a request arrives */
};

enum kick_notify { KICK_NOTIFY_NONE, KICK_NOTIFY_SIGNAL, KICK_NOTIFY_WAKE };

struct kick_decision {
	bool set_request;
	enum kick_notify notify;
};

struct kick_target {
	_Atomic uint32_t requests;
	_Atomic int mode;           /* enum vcpu_mode */
	pthread_t thread;           /* valid once thread_set */
	_Atomic bool thread_set;    /* set by the vCPU thread itself, before it first enters */
};

/* The rules as a pure function; for a remote target, mode is read after the bit is published. */
struct kick_decision kick_decide(bool local, enum vcpu_mode mode, bool request_pending);

/* The dedicated kick signal (a real-time signal). */
int kick_signal(void);

/* Installs the kick signal's no-op handler; call once before any vCPU thread exists. */
int kick_signal_init(void);

/* Posts request to target and notifies it according to the rules. */
void kick_vcpu(struct kick_target *target, uint32_t request);

/* On the vCPU's thread, first thing: makes it the target's own thread. */
void kick_bind_thread(struct kick_target *self);

/* On the vCPU's thread: publishes IN_GUEST; returns the pending requests (0: go ahead and enter). */
uint32_t kick_enter_guest(struct kick_target *self);

/* On the vCPU's thread, after KVM_RUN returns. */
void kick_exit_guest(struct kick_target *self);

/* On the vCPU's thread: true (and the bit cleared) if request was pending. */
bool kick_test_and_clear(struct kick_target *self, uint32_t request);

/* On the vCPU's thread: sleeps until any request in mask is pending. */
void kick_block(struct kick_target *self, uint32_t mask);

/* On the vCPU's thread after KVM_RUN failed with EINTR: consumes a pending kick signal. */
void kick_consume_signal(void);

#endif
