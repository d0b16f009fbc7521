/*
 * ringvm's vCPU request protocol (machine/requests.c: vcpu_make_request,
 * vcpu_check_request, vcpu_kick, and the run loop vcpu_thread() /
 * vcpu_process_requests() in machine/vcpu.c), checked with spin.  Run by
 * tests/model/check; README.md next to this file says what is proved.
 *
 * Processes:
 *   vcpu        the vCPU thread: binds itself, checks its requests, enters
 *               and leaves KVM_RUN, and may make a request of itself (a
 *               local one, as vm_request_stop() does from a guest
 *               poweroff/reset exit).
 *   kicker[2]   two other threads (the main loop, an I/O thread, another
 *               vCPU), each making POSTS requests and kicking, with the
 *               remote rule: vcpu_make_request() then vcpu_kick().
 *
 * Every shared access of the C code (all are sequentially consistent
 * atomics, or a syscall that is atomic with respect to them) is one
 * Promela step, so spin interleaves the threads at every point where the
 * real ones can interleave.  Purely thread-local work is folded into the
 * neighbouring step.
 *
 * Requests: STOP, which the vCPU checks and leaves on, and with
 * -DPAUSE_REQUEST also PAUSE (PATCH /vm), which the vCPU checks and goes on
 * from: it parks in userspace until resumed (vm_park_vcpu(), a mutex and a
 * condition variable outside this protocol, folded into the check here) and
 * then checks its requests again before it enters.  PAUSE is what makes a
 * stale pending flag observable at all: a request after which the vCPU never
 * enters the guest again cannot be missed by a skipped signal.
 *
 * What is checked:
 *   (1)+(2) no lost request, no vCPU asleep in the guest with a request
 *       pending.  Every run of this model is finite (the kickers make a
 *       bounded number of requests and the guest exits by itself a bounded
 *       number of times; check proves there is no cycle at all, with pan -l),
 *       so "every request is eventually handled" is a property of the final
 *       state of every run.  A final state is one where no thread can move:
 *       spin's `timeout` is exactly that predicate.  The vCPU has one place
 *       where it can wait forever, KVM_RUN with a halted guest, and there it
 *       asserts, when `timeout` becomes true, that no request is pending (a
 *       pending bit is a request made and never checked, and the vCPU will
 *       never look at it again).                          -> hung_in_kvm_run
 *       After the assertion the vCPU ends, so the final state is a valid end
 *       state; anything else stuck is reported by spin as an invalid end
 *       state.  `timeout` is true only in states with no other move;
 *       partial-order reduction keeps those, and check also runs the model
 *       without reduction, so as not to depend on it.
 *   (3) a local kick never sends the signal: asserted where the signal is
 *       sent (sender_is_vcpu).  That a local request needs no signal is
 *       covered by (1)+(2), since the vCPU's own requests are among them.
 *
 * Why a pending bit means an unchecked request: only vcpu_check_request()
 * clears bits, and vcpu_make_request() sets its bit in the same atomic step
 * as it becomes visible.  Two requests of the same bit before one check are
 * one request (the bits are level flags, not counters), and that check
 * happens after both, so both are handled.
 *
 * Variants, selected with -D (each must fail; check asserts which assertion):
 *   STALE_FLAG            the remote kicker kicks only if the bit was not
 *                         pending before its OR (the stale pending flag of
 *                         Xen's old vcpu_kick).  Needs PAUSE_REQUEST.
 *                                                      -> hung_in_kvm_run
 *   LOAD_BEFORE_IN_GUEST  vcpu_requests_enter_guest() loads the bits before
 *                         it stores IN_GUEST.           -> hung_in_kvm_run
 *   MODE_BEFORE_OR        the kicker reads the target's mode before it
 *                         publishes the bit (vcpu_kick() called before
 *                         vcpu_make_request()).  Needs PAUSE_REQUEST: with
 *                         STOP alone each kicker's last kick sees the vCPU
 *                         in the guest.                 -> hung_in_kvm_run
 * Sanity (each must be reached, so that the proof is not vacuous):
 *   REACH_KICKED   a halted KVM_RUN is left through the kick signal
 *   REACH_IDLE     a run ends with the vCPU idle in a halted KVM_RUN after
 *                  requests were made and checked (needs PAUSE_REQUEST)
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

/* enum vcpu_request (machine/requests.h) */
#define STOP	1
#ifdef PAUSE_REQUEST
#define PAUSE	2	/* the vCPU parks outside the guest, then goes on */
#endif

#define VCPU	0	/* _pid of the vCPU thread: the first active proctype */

/* enum vcpu_mode (machine/requests.h) */
mtype = { OUTSIDE_GUEST, IN_GUEST };

/* struct vcpu_requests */
byte bits = 0;
mtype mode = OUTSIDE_GUEST;
bool thread_set = false;

/*
 * The kick signal pending on the vCPU thread.  It is blocked in userspace
 * and unblocked only inside KVM_RUN (KVM_SET_SIGNAL_MASK), so once sent it
 * stays pending until KVM_RUN returns EINTR because of it and
 * kick_signal_consume() takes it.  A real-time signal queues; a flag is
 * enough because KVM_RUN only asks "is one pending" and the consume loop
 * drains them all.
 */
bool sig = false;

/* Ghost variables, assigned right before the assertion that reads them. */
bool hung_in_kvm_run = false;
bool sender_is_vcpu = false;
#ifdef REACH_KICKED
bool kicked_out = false;
#endif
#ifdef REACH_IDLE
bool idle_after_work = false;
byte handled = 0;
#endif
#ifdef REACH_STOPPED
bool vcpu_gone = false;
#endif

/*
 * vcpu_make_request(r, req) then vcpu_kick(r).  The caller declares bool
 * pending and mtype m (used only by the broken variants).
 *
 * A load whose value only selects what to do next is modelled as the guard
 * of an if option: the guard is the load (one step), the option's body is
 * what the thread does afterwards, in later steps.
 */
inline request_and_kick(req)
{
	/*
	 * on_own_thread(): thread_set && pthread_equal(pthread_self(), thread).
	 * The vCPU thread binds itself before anything else, so for it the
	 * answer is yes, and for any other thread no, whatever thread_set is.
	 */
	if
	:: _pid == VCPU ->
		/*
		 * vcpu_make_request(), local: set the bit only if it is not
		 * pending (the relaxed load, as the guard).  vcpu_kick(), local:
		 * vcpu_kick_needs_signal() is false, nothing more happens.
		 */
		if
		:: (bits & req) == 0 ->
			bits = bits | req	/* atomic_fetch_or */
		:: else
		fi
	:: else ->
#ifdef STALE_FLAG
		pending = ((bits & req) != 0);	/* BROKEN: a load before the OR, */
#endif
#ifdef MODE_BEFORE_OR
		m = mode;		/* BROKEN: vcpu_kick()'s load of the mode first, */
		bits = bits | req;	/* vcpu_make_request() after */
#define MODE_READ	m
#else
		bits = bits | req;	/* vcpu_make_request(): atomic_fetch_or, then */
#define MODE_READ	mode		/* vcpu_kick(): atomic_load(&r->mode) */
#endif
		/* vcpu_kick_needs_signal(false, mode), mode read in the guard */
		if
#ifndef STALE_FLAG
		:: MODE_READ == IN_GUEST ->
#else
		:: (MODE_READ == IN_GUEST && !pending) ->	/* BROKEN: "already pending, it will see it" */
#endif
			/* if (thread_set) pthread_kill(thread, kick_signal()) */
			d_step {
				assert(thread_set);	/* IN_GUEST implies bound: never skipped */
				sender_is_vcpu = (_pid == VCPU);
				assert(!sender_is_vcpu);	/* (3) */
				sig = true;
				m = OUTSIDE_GUEST; pending = false
			}
		:: else ->	/* no signal: the target checks before it enters */
			d_step { m = OUTSIDE_GUEST; pending = false }
		fi
	fi
}

/*
 * vcpu_check_request(self, req), as the guard of an if option: the relaxed
 * load that finds req pending.  The atomic_fetch_and that follows is
 * clear_bits(req).  Only this thread clears bits, so the fetch_and always
 * finds the bits the load saw.
 */
#define pending_any(mask)	((bits & (mask)) != 0)

inline clear_bits(mask)
{
	d_step {
#ifdef REACH_IDLE
		handled++;
#endif
		bits = bits & ~(mask)	/* atomic_fetch_and(&bits, ~mask) */
	}
}

active proctype vcpu()
{
	bool pending;			/* request_and_kick()'s locals, for the local request */
	mtype m = OUTSIDE_GUEST;
	byte exits = 0;			/* guest exits of its own so far */
	bool local_request_done = false;

	/* vcpu_requests_bind() */
	thread_set = true;

loop:	/* for (;;) in vcpu_thread() */

	/* ---- vcpu_process_requests(): vcpu_check_request(STOP) ---- */
	if
	:: pending_any(STOP) -> clear_bits(STOP); goto stopped
	:: else -> skip
	fi;
#ifdef PAUSE_REQUEST
	if
	:: pending_any(PAUSE) -> clear_bits(PAUSE)	/* handled: on with the loop */
	:: else -> skip
	fi;
#endif

	/* ---- vcpu_requests_enter_guest() ---- */
#ifndef LOAD_BEFORE_IN_GUEST
	mode = IN_GUEST;		/* atomic_store(&mode, IN_GUEST) */
	if
	:: bits != 0 ->			/* pending = atomic_load(&bits) */
#else
	if
	:: bits != 0 ->			/* BROKEN: bits read first, */
		mode = IN_GUEST;	/* IN_GUEST published after */
#endif
		mode = OUTSIDE_GUEST;	/* a request arrived: check it before entering */
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
			hung_in_kvm_run = (bits != 0);
			assert(!hung_in_kvm_run);	/* (1)+(2) */
#ifdef REACH_IDLE
			idle_after_work = (handled >= 2);
			assert(!idle_after_work);
#endif
			goto idle
		fi
	fi;

eintr:	/* KVM_RUN returned -1, errno EINTR */
	mode = OUTSIDE_GUEST;		/* vcpu_requests_exit_guest() */
	/* ---- kick_signal_consume(): sigtimedwait() until none is pending ---- */
	do
	:: sig -> sig = false
	:: else -> break
	od;
	goto loop;

guest_exit:	/* KVM_RUN returned 0 */
	mode = OUTSIDE_GUEST;		/* vcpu_requests_exit_guest() */
	/*
	 * ---- vcpu_handle_exit() ----
	 * A guest poweroff or reset: vm_request_stop() makes STOP of every vCPU,
	 * this one included (a local request), kicks them, and
	 * vcpu_handle_exit() returns 1: the thread leaves its loop.  With
	 * PAUSE_REQUEST the vCPU may instead make PAUSE of itself and go on,
	 * which exercises the local rule on a bit the loop then has to check.
	 */
	if
	:: !local_request_done -> local_request_done = true; request_and_kick(STOP); goto done
#ifdef PAUSE_REQUEST
	:: !local_request_done -> local_request_done = true; request_and_kick(PAUSE)
#endif
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
	bool pending;			/* request_and_kick()'s locals */
	mtype m = OUTSIDE_GUEST;
	byte n = 0, req;

	do
	:: n < POSTS ->
		n++;
		if
		:: req = STOP
#ifdef PAUSE_REQUEST
		:: req = PAUSE
#endif
		fi;
		request_and_kick(req);
		req = 0
	:: else -> break
	od
}
