/*
 * ringvm's vCPU kick protocol (machine/kick.c, and the run loop vcpu_thread() /
 * vcpu_process_requests() in machine/vcpu.c), checked with spin.  Run by
 * tests/model/check; README.md next to this file says what is proved.
 *
 * Processes:
 *   vcpu        the vCPU thread: binds itself, processes requests, enters
 *               and leaves KVM_RUN, blocks while paused, and may kick itself
 *               (a local kick, as vm_request_stop() does from a guest
 *               poweroff/reset exit).
 *   kicker[2]   two other threads (the main loop, a device, another vCPU),
 *               each posting POSTS requests of any kind, any bit, with the
 *               remote rule of kick_vcpu().
 *
 * Every shared access of the C code (all are sequentially consistent
 * atomics, or a syscall that is atomic with respect to them) is one
 * Promela step, so spin interleaves the threads at every point where the
 * real ones can interleave.  Purely thread-local work is folded into the
 * neighbouring step.
 *
 * What is checked:
 *   (1)+(2) no lost request, no vCPU asleep with work pending.  Every run
 *       of this model is finite (the kickers post a bounded number of
 *       requests and the guest exits by itself a bounded number of times;
 *       check proves there is no cycle at all, with pan -l), so "every
 *       request is eventually handled" is a property of the final state of
 *       every run.  A final state is one where no thread can move: spin's
 *       `timeout` is exactly that predicate.  The vCPU has exactly two places
 *       where it can wait forever, and in both it asserts, when `timeout`
 *       becomes true, that it waits legitimately:
 *         - in KVM_RUN with a halted guest: no request may be pending at all
 *           (a pending bit is a request posted and never handled, and the
 *           vCPU will never look at it again);             -> hung_in_kvm_run
 *         - in futex_wait while paused: neither RESUME nor STOP may be pending
 *           (the other bits wait for the resume, by design). -> hung_in_futex
 *       After the assertion the vCPU ends, so the final state is a valid end
 *       state; anything else stuck (a thread blocked anywhere else) is
 *       reported by spin as an invalid end state.  `timeout` is true only in
 *       states with no other move; partial-order reduction keeps those, and
 *       check also runs the good model without reduction, so as not to
 *       depend on it.
 *   (3) a local kick never sends the signal: asserted where the signal is
 *       sent (sender_is_vcpu).  That local kicks need no signal is covered
 *       by (1)+(2), since the vCPU's own posts are among the requests.
 *
 * Why a pending bit means an unhandled request: only request processing
 * (kick_test_and_clear() in vcpu_process_requests()) clears bits, and a post
 * sets its bit in the same atomic step as it becomes visible.  Two posts of
 * the same bit before one test-and-clear are one request (the bits are level
 * flags, not counters), and that clear happens after both, so both are
 * handled.
 *
 * Variants, selected with -D (each must fail; check asserts which assertion):
 *   STALE_FLAG            the remote kicker sends the signal only if the bit
 *                         was not pending before its OR (the stale pending
 *                         flag of Xen's old vcpu_kick): kick_decide() using
 *                         request_pending for a remote target.  -> hung_in_kvm_run
 *   LOAD_BEFORE_IN_GUEST  kick_enter_guest() loads requests before it stores
 *                         IN_GUEST.                           -> hung_in_kvm_run
 *   MODE_BEFORE_OR        kick_vcpu() reads the target's mode before it
 *                         publishes the bit.  -> hung_in_kvm_run or hung_in_futex
 *                         (it misses the vCPU entering the guest or going to
 *                         sleep, whichever spin finds first)
 *   FUTEX_NO_COMPARE      the blocked vCPU sleeps without futex's "only while
 *                         the word still equals seen" check.  -> hung_in_futex
 * Sanity (each must be reached, so that the proof is not vacuous):
 *   REACH_KICKED   a halted KVM_RUN is left through the kick signal
 *   REACH_WOKEN    a paused vCPU asleep in futex_wait is woken and resumes
 *   REACH_IDLE     a run ends with the vCPU idle in a halted KVM_RUN after
 *                  requests were posted and handled
 *   REACH_STOPPED  a run ends with the vCPU thread gone after a STOP
 * Bounds (defaults below): -DPOSTS=n requests per kicker, -DEXITS=n guest
 * exits of its own.
 */

#ifndef POSTS
#define POSTS	2
#endif
#ifndef EXITS
#define EXITS	2
#endif

/* enum kick_request (machine/kick.h) */
#define STOP	1
#define PAUSE	2
#define RESUME	4
#define EVENT	8
/* vcpu_process_requests(): kick_block(k, KICK_REQ_RESUME | KICK_REQ_STOP) */
#define WAKE_MASK	(RESUME | STOP)

#define VCPU	0	/* _pid of the vCPU thread: the first active proctype */

/* enum vcpu_mode (machine/kick.h) */
mtype = { OUTSIDE_GUEST, IN_GUEST, BLOCKED };

/* struct kick_target */
byte requests = 0;
mtype mode = OUTSIDE_GUEST;
bool thread_set = false;

/*
 * The kick signal pending on the vCPU thread.  It is blocked in userspace
 * and unblocked only inside KVM_RUN (KVM_SET_SIGNAL_MASK), so once sent it
 * stays pending until KVM_RUN returns EINTR because of it and
 * kick_consume_signal() takes it.  A real-time signal queues; a flag is
 * enough because KVM_RUN only asks "is one pending" and the consume loop
 * drains them all.
 */
bool sig = false;

/* The vCPU thread is queued on the requests futex (futex_wait); cleared by futex_wake. */
bool futex_queued = false;

/* Ghost variables, assigned right before the assertion that reads them. */
bool hung_in_kvm_run = false;
bool hung_in_futex = false;
bool sender_is_vcpu = false;
#ifdef REACH_KICKED
bool kicked_out = false;
#endif
#ifdef REACH_WOKEN
bool slept = false;
bool woken_and_resumed = false;
#endif
#ifdef REACH_IDLE
bool idle_after_work = false;
byte handled = 0;
#endif
#ifdef REACH_STOPPED
bool vcpu_gone = false;
#endif

/*
 * kick_vcpu(target, req).  The caller declares bool pending and mtype m
 * (used only by the broken variants).
 *
 * A load whose value only selects what to do next is modelled as the guard
 * of an if option: the guard is the load (one step), the option's body is
 * what the thread does afterwards, in later steps.
 */
inline kick_vcpu(req)
{
	/*
	 * local = target->thread_set && pthread_equal(pthread_self(), target->thread):
	 * the vCPU thread binds itself before anything else, so for the vCPU
	 * thread thread_set is already true, and for any other thread local
	 * is false whatever thread_set is.
	 */
	if
	:: _pid == VCPU ->
		/*
		 * kick_decide(true, ...): set the bit only if it is not pending
		 * (the relaxed load, as the guard), no notification at all.
		 */
		if
		:: (requests & req) == 0 ->
			requests = requests | req	/* atomic_fetch_or */
		:: else
		fi
	:: else ->
#ifdef STALE_FLAG
		pending = ((requests & req) != 0);	/* the relaxed load */
#endif
#ifdef MODE_BEFORE_OR
		m = mode;			/* BROKEN: mode read first, */
		requests = requests | req;	/* bit published after */
#define MODE_READ	m
#else
		requests = requests | req;	/* atomic_fetch_or: publish first, */
#define MODE_READ	mode			/* then atomic_load(&target->mode) */
#endif
		/* kick_decide(false, mode, pending).notify, mode read in the guard */
		if
#ifndef STALE_FLAG
		:: MODE_READ == IN_GUEST ->
#else
		:: (MODE_READ == IN_GUEST && !pending) ->	/* BROKEN: "already pending, it will see it" */
#endif
			/* KICK_NOTIFY_SIGNAL: if (target->thread_set) pthread_kill() */
			d_step {
				assert(thread_set);	/* IN_GUEST implies bound: never skipped */
				sender_is_vcpu = (_pid == VCPU);
				assert(!sender_is_vcpu);	/* (3) */
				sig = true;
				m = OUTSIDE_GUEST; pending = false
			}
		:: MODE_READ == BLOCKED ->
			d_step {	/* KICK_NOTIFY_WAKE: futex_wake_all() */
				futex_queued = false;
				m = OUTSIDE_GUEST; pending = false
			}
		:: else ->	/* KICK_NOTIFY_NONE */
			d_step { m = OUTSIDE_GUEST; pending = false }
		fi
	fi
}

/*
 * kick_test_and_clear(self, mask), as the guard of an if option: the relaxed
 * load that finds a bit of mask pending.  The atomic_fetch_and that follows
 * is clear_bits(mask).  Only this thread clears bits, so the fetch_and
 * always finds the bits the load saw.
 */
#define pending_any(mask)	((requests & (mask)) != 0)

inline clear_bits(mask)
{
	d_step {
#ifdef REACH_IDLE
		handled++;
#endif
		requests = requests & ~(mask)	/* atomic_fetch_and(&requests, ~mask) */
	}
}

active proctype vcpu()
{
	bool pending;			/* kick_vcpu()'s locals, for the local kick */
	mtype m = OUTSIDE_GUEST;
	byte seen = 0;
	byte exits = 0;			/* guest exits of its own so far */
	bool local_kick_done = false;

	/* kick_bind_thread() */
	thread_set = true;

loop:	/* for (;;) in vcpu_thread() */

	/* ---- vcpu_process_requests() ---- */
	if
	:: pending_any(STOP) -> goto stopped	/* atomic_load(&requests) & KICK_REQ_STOP */
	:: else -> skip
	fi;
	if
	:: pending_any(PAUSE) ->		/* kick_test_and_clear(k, KICK_REQ_PAUSE) */
		clear_bits(PAUSE);
		/* ---- kick_block(k, RESUME | STOP) ---- */
		mode = BLOCKED;
		do
		:: seen = requests;		/* seen = atomic_load(&requests) */
			if
			:: (seen & WAKE_MASK) != 0 -> break
			:: else -> skip
			fi;
			/*
			 * futex_wait(&requests, seen): the kernel compares the word
			 * and queues the thread atomically with respect to
			 * futex_wake, and the kick signal is blocked here, so no
			 * EINTR.
			 */
#ifndef FUTEX_NO_COMPARE
			d_step {
				if
				:: requests == seen -> futex_queued = true
#ifdef REACH_WOKEN
					; slept = true
#endif
				:: else -> skip		/* EAGAIN: look again */
				fi;
				seen = 0
			};
#else
			futex_queued = true;	/* BROKEN: sleeps whatever the word is now */
			seen = 0;
#endif
			if
			:: !futex_queued -> skip	/* woken (or never slept) */
			:: timeout ->
				/*
				 * Nothing else can move: asleep forever.  Only
				 * legitimate if what it waits for never came.
				 */
				hung_in_futex = pending_any(WAKE_MASK);
				assert(!hung_in_futex);		/* (1)+(2) */
				goto idle
			fi
		od;
		seen = 0;
		mode = OUTSIDE_GUEST;
		/* back in vcpu_process_requests() */
		if
		:: pending_any(RESUME) ->	/* kick_test_and_clear(k, KICK_REQ_RESUME) */
			clear_bits(RESUME)
#ifdef REACH_WOKEN
			; woken_and_resumed = slept; assert(!woken_and_resumed)
#endif
		:: else -> skip
		fi;
		if
		:: pending_any(STOP) -> goto stopped	/* return !(load & KICK_REQ_STOP) */
		:: else -> goto enter			/* returns true: on to kick_enter_guest() */
		fi
	:: else -> skip
	fi;
	if
	:: pending_any(EVENT | RESUME) -> clear_bits(EVENT | RESUME)	/* kick_test_and_clear */
	:: else -> skip
	fi;

	/* ---- kick_enter_guest() ---- */
enter:
#ifndef LOAD_BEFORE_IN_GUEST
	mode = IN_GUEST;		/* atomic_store(&mode, IN_GUEST) */
	if
	:: requests != 0 ->		/* pending = atomic_load(&requests) */
#else
	if
	:: requests != 0 ->		/* BROKEN: requests read first, */
		mode = IN_GUEST;	/* IN_GUEST published after */
#endif
		mode = OUTSIDE_GUEST;	/* a request arrived: handle it before entering */
		goto loop		/* continue */
	:: else ->
#ifdef LOAD_BEFORE_IN_GUEST
		mode = IN_GUEST
#else
		skip
#endif
	fi;

	/*
	 * ---- ioctl(KVM_RUN) ----
	 * The guest either exits by itself at some point (at most EXITS times
	 * in a run), or it never does (halted: KVM_RUN would block forever).
	 * Either way a pending kick signal makes KVM_RUN return EINTR: at once
	 * if it was pending at entry, else when it arrives.  A guest exit can
	 * also beat a signal sent meanwhile; the signal then stays pending
	 * (blocked again outside KVM_RUN) and the next KVM_RUN returns EINTR
	 * at once.
	 */
	if
	:: exits < EXITS ->		/* this time the guest will exit by itself */
		exits++;
		if
		:: sig -> goto eintr
		:: true -> goto guest_exit
		fi
	:: true ->			/* this time the guest halts: only a signal helps */
		if
		:: sig ->
#ifdef REACH_KICKED
			kicked_out = true; assert(!kicked_out);
#endif
			goto eintr
		:: timeout ->
			/*
			 * Nothing else can move: the guest is halted and no
			 * signal will come.  Legitimate only if nothing is
			 * pending.
			 */
			hung_in_kvm_run = (requests != 0);
			assert(!hung_in_kvm_run);	/* (1)+(2) */
#ifdef REACH_IDLE
			idle_after_work = (handled >= 2);
			assert(!idle_after_work);
#endif
			goto idle
		fi
	fi;

eintr:	/* KVM_RUN returned -1, errno EINTR */
	mode = OUTSIDE_GUEST;		/* kick_exit_guest() */
	/* ---- kick_consume_signal(): sigtimedwait() until none is pending ---- */
	do
	:: sig -> sig = false
	:: else -> break
	od;
	goto loop;

guest_exit:	/* KVM_RUN returned 0 */
	mode = OUTSIDE_GUEST;		/* kick_exit_guest() */
	/*
	 * ---- vcpu_handle_exit() ----
	 * A guest poweroff or reset: vm_request_stop() kicks every vCPU with
	 * STOP, this one included (a local kick), and vcpu_handle_exit()
	 * returns 1: the thread leaves its loop.  The model also lets the vCPU
	 * post EVENT to itself and go on (no such self-post exists today; it
	 * exercises the local rule on a bit the loop then has to handle).
	 */
	if
	:: !local_kick_done -> local_kick_done = true; kick_vcpu(STOP); goto done
	:: !local_kick_done -> local_kick_done = true; kick_vcpu(EVENT)
	:: true -> skip		/* PIO, MMIO, HLT...: handled, on with the loop */
	fi;
	goto loop;

stopped:
	/* vcpu_process_requests() returned false: the thread returns. */
#ifdef REACH_STOPPED
	vcpu_gone = true;
	assert(!vcpu_gone);
#endif
	goto done;
idle:
	/* asserted above that waiting forever here is legitimate */
done:
	skip
}

active [2] proctype kicker()
{
	bool pending;			/* kick_vcpu()'s locals */
	mtype m = OUTSIDE_GUEST;
	byte n = 0, req;

	do
	:: n < POSTS ->
		n++;
		if
		:: req = EVENT
		:: req = PAUSE
		:: req = RESUME
		:: req = STOP
		fi;
		kick_vcpu(req);
		req = 0
	:: else -> break
	od
}
