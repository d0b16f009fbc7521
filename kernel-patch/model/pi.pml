/*
 * Posted-interrupt delivery to one vCPU, as done by KVM's VMX code with the
 * kernel-patch series applied (kernel-patch/6.1/ and kernel-patch/6.12/),
 * checked with spin.
 *
 * Processes:
 *   vcpu        the target vCPU task and its pCPU: enters the guest, runs it,
 *               exits (normally or through the fastpath re-entry loop),
 *               blocks and is woken.
 *   remote(v)   a sender on another pCPU posting vector v.
 *   local_irq   a sender in hard-IRQ context on the vCPU's own pCPU
 *               (an irqfd, a timer) posting vector V_IRQ.
 *   The fastpath handler itself posts V_FAST (a self-IPI or an expired TSC
 *   deadline handled without leaving the fastpath), then either re-enters
 *   the guest through the fastpath loop (EXIT_FASTPATH_REENTER_GUEST: 6.1's
 *   TSC deadline and preemption timer; 6.12's x2APIC ICR write as well) or
 *   leaves the loop for the full path (EXIT_FASTPATH_EXIT_HANDLED: 6.1's
 *   x2APIC ICR write).  Both are possible at every fastpath exit, so the
 *   model covers both kernels.
 *
 * Shared state: the PI descriptor (pir[], on), the vIRR, vcpu->mode
 * (in_guest_mode), the request bit, notification IPIs in flight, the task's
 * wake-up, and the number of senders between posting a vector and their
 * notification action.  Promela is sequentially consistent, which is what the
 * barriers in the real code (pi_test_and_set_on(), smp_mb after setting
 * vcpu->mode, set_current_state()) provide for the accesses modelled here.
 *
 * Properties:
 *   (monitor) whenever no sender is in the middle of a delivery and no
 *   notification or wake-up is in flight,
 *     - a vCPU running guest code has no vector left in PIR, and
 *     - a sleeping vCPU has no vector left in PIR or vIRR.
 *   Either would mean an interrupt that nothing will ever deliver.
 *   (fast_synced) the vector posted by the fastpath handler has left PIR
 *   (reached the vIRR) whenever the vCPU starts running guest code again,
 *   by whichever path it re-enters; nothing else can post V_FAST.
 *
 * Variants, selected with -D:
 *   XEN_STALE_FLAG     remote IPI gated by a software flag that is cleared
 *                      only when the pCPU goes through root mode, not when the
 *                      CPU consumes the notification (Xen before b151125b4d89).
 *                      Must fail.
 *   NO_LOCAL_REQUEST   the local rule makes no request (pi_local_request=N,
 *                      i.e. unpatched KVM).
 *   NO_FASTPATH_SYNC   the fastpath re-entry loop does not sync PIR to vIRR.
 *                      Both together must fail; each alone must pass.
 *   BROAD_LOCAL_REQUEST the rule before it was narrowed: the request is made
 *                      for every local delivery, also outside guest mode.
 *                      Must pass (it is correct, only slower).
 *   LOCAL_REQUEST_NO_WAKE a local target outside guest mode gets the request
 *                      instead of the wake-up.  Must fail: a request does
 *                      not wake a vCPU that is about to block.
 *   NO_FAST_ASSERT     leave out the fast_synced assertion, so that the
 *                      monitor alone has to catch a broken variant.
 *   REACH              sanity: asserts that the guest never receives all
 *                      vectors, so spin must find a run where it does (the
 *                      good model is not vacuous).
 */

#define V_R0	0	/* posted by remote sender 0 */
#define V_R1	1	/* posted by remote sender 1 */
#define V_FAST	2	/* posted by the fastpath handler */
#define V_IRQ	3	/* posted from hard-IRQ context on the vCPU's pCPU */
#define NV	4

/* What the vCPU's pCPU is doing. */
mtype = { ROOT, ENTRY, GUEST, EXITING, FASTPATH, BLOCKING, BLOCKED };

mtype st = ROOT;
bool in_guest_mode = false;	/* vcpu->mode == IN_GUEST_MODE */
bool pir[NV];
bool on = false;
bool virr[NV];
bool got[NV];			/* the guest took the interrupt */
bool req = false;		/* some request pending in vcpu->requests */
byte ipi = 0;			/* notification IPIs in flight to the pCPU */
bool woken = false;		/* task state set back to TASK_RUNNING */
byte busy = 0;			/* senders between posting and notifying */
bool fast_done = false;
bool xen_flag = false;		/* XEN_STALE_FLAG: softirq bit */
bool lost = false;		/* set by the monitor, see below */
bool all_got = false;		/* set by the REACH sanity check */
bool fast_synced = true;	/* see enter_guest() */

#define PIR_ANY	(pir[0] || pir[1] || pir[2] || pir[3])
#define VIRR_ANY	(virr[0] || virr[1] || virr[2] || virr[3])
#define QUIET	(busy == 0 && ipi == 0 && !woken)

/* vmx_sync_pir_to_irr(): take ON, move PIR to the vIRR. */
inline sync_pir()
{
	if
	:: on ->
		on = false;
		virr[0] = virr[0] || pir[0]; pir[0] = false;
		virr[1] = virr[1] || pir[1]; pir[1] = false;
		virr[2] = virr[2] || pir[2]; pir[2] = false;
		virr[3] = virr[3] || pir[3]; pir[3] = false
	:: else -> skip
	fi
}

/* kvm_vcpu_wake_up(): only has an effect on a task that waits. */
inline wake_up()
{
	if
	:: st == BLOCKING || st == BLOCKED -> woken = true
	:: else -> skip
	fi
}

/* KVM_REQ_EVENT unless a request is pending (pi_local_request=Y). */
inline local_request()
{
	if
	:: !req -> req = true
	:: else -> skip
	fi
}

/*
 * Local rule (patch 4): the target is the vCPU running on this pCPU.  No IPI.
 * In guest mode (only from a fastpath handler: everywhere else on this pCPU
 * IRQs are off while vcpu->mode is IN_GUEST_MODE) make KVM_REQ_EVENT pending
 * unless a request is; outside guest mode only wake the vCPU.
 */
inline notify_local()
{
	if
	:: in_guest_mode ->
#ifndef NO_LOCAL_REQUEST
		local_request()
#else
		skip
#endif
	:: else ->
#if defined(BROAD_LOCAL_REQUEST) || defined(LOCAL_REQUEST_NO_WAKE)
		local_request();
#endif
#ifndef LOCAL_REQUEST_NO_WAKE
		wake_up()
#else
		skip
#endif
	fi
}

/* The vCPU is about to run guest code: V_FAST must not be left in PIR. */
inline enter_guest()
{
	fast_synced = !pir[V_FAST];
#ifndef NO_FAST_ASSERT
	assert(fast_synced);
#endif
	st = GUEST
}

/*
 * Post vector v and notify; the caller has already done busy++ and declares
 * was_on and was_flag.
 */
inline post(v, is_local)
{
	atomic { pir[v] = true; was_on = on; on = true };
	if
	:: was_on -> busy--		/* coalesced: ON already set */
	:: else ->
		if
		:: is_local -> atomic { notify_local(); busy-- }
		:: else ->
#ifdef XEN_STALE_FLAG
			atomic { was_flag = xen_flag; xen_flag = true };
			atomic {
				wake_up();
				if
				:: in_guest_mode && !was_flag -> ipi++
				:: else -> skip
				fi;
				busy--
			}
#else
			/* Remote rule: in guest mode always IPI, else wake. */
			atomic {
				if
				:: in_guest_mode -> ipi++
				:: else -> wake_up()
				fi;
				busy--
			}
#endif
		fi
	fi
}

proctype remote(byte v)
{
	bool was_on, was_flag;

	busy++;
	post(v, false)
}

/*
 * Hard IRQ on the vCPU's pCPU: only while that pCPU has IRQs enabled, and it
 * runs to completion before the interrupted vCPU task takes another step,
 * hence one atomic sequence.
 */
proctype local_irq()
{
	bool was_on, was_flag;

	atomic {
		(st == ROOT || st == BLOCKING || st == BLOCKED) ->
		busy++;
		if
		:: st == BLOCKED -> post(V_IRQ, false)	/* task not loaded */
		:: else -> post(V_IRQ, true)
		fi
	}
}

proctype vcpu()
{
	bool was_on, was_flag;

root:
	/* In root mode, IRQs on, runnable (vcpu->mode == OUTSIDE_GUEST_MODE). */
	atomic { st = ROOT; xen_flag = false };	/* softirqs processed here */
	if
	:: true ->
		/* vcpu_enter_guest(): requests, IRQs off, mode, sync, check. */
		req = false;
		st = ENTRY;
		in_guest_mode = true;
		sync_pir();
		if
		:: req ->
			atomic { in_guest_mode = false; goto root }
		:: else ->
			enter_guest()
		fi
	:: true ->
		/* kvm_vcpu_block() after an emulated HLT. */
		st = BLOCKING;
		sync_pir();	/* kvm_vcpu_check_block() -> has events */
		if
		:: VIRR_ANY -> st = ROOT; goto root
		:: else -> skip
		fi;
		atomic {
			if
			:: woken -> woken = false; st = ROOT; goto root
			:: else -> st = BLOCKED
			fi
		};
end_blocked:
		atomic { woken -> woken = false; st = ROOT; goto root }
	fi;

guest:
	/* Non-root mode, running guest code. */
	if
	:: atomic { ipi > 0 ->		/* posted-interrupt processing */
		ipi--; sync_pir() };
		goto guest
	:: atomic { virr[0] -> virr[0] = false; got[0] = true }; goto guest
	:: atomic { virr[1] -> virr[1] = false; got[1] = true }; goto guest
	:: atomic { virr[2] -> virr[2] = false; got[2] = true }; goto guest
	:: atomic { virr[3] -> virr[3] = false; got[3] = true }; goto guest
	:: st = EXITING;		/* VM-Exit: root, IRQs off, mode still IN_GUEST */
		if
		:: /* slow path: mode = OUTSIDE_GUEST_MODE, IRQs on */
			in_guest_mode = false; goto root
		:: !fast_done ->	/* fastpath handler posts to itself */
			st = FASTPATH;
			fast_done = true;
			busy++;
			post(V_FAST, true);
			if
			:: /* EXIT_FASTPATH_REENTER_GUEST: the fastpath loop
			    * syncs, checks for an exit request, re-enters */
#ifndef NO_FASTPATH_SYNC
				sync_pir();
#endif
				if
				:: req -> in_guest_mode = false; goto root
				:: else -> enter_guest(); goto guest
				fi
			:: /* EXIT_FASTPATH_EXIT_HANDLED: leave the loop, the
			    * full path runs, mode = OUTSIDE_GUEST_MODE */
				in_guest_mode = false; goto root
			fi
		fi
	fi
}

/* IPIs reaching the pCPU while it is in root mode with IRQs enabled are
 * acknowledged by the host handler and have no other effect. */
active proctype host_irq()
{
end:
	do
	:: atomic { ipi > 0 && (st == ROOT || st == BLOCKING || st == BLOCKED) ->
		ipi-- }
	od
}

active proctype monitor()
{
end:
	atomic {
		(QUIET && ((st == GUEST && PIR_ANY) ||
			   (st == BLOCKED && (PIR_ANY || VIRR_ANY)))) ->
		lost = true;
		assert(!lost)
	}
}

#ifdef REACH
active proctype reach()
{
end:
	atomic {
		got[0] && got[1] && got[2] && got[3] ->
		all_got = true;
		assert(!all_got)
	}
}
#endif

init
{
	atomic {
		run vcpu();
		run remote(V_R0);
		run remote(V_R1);
		run local_irq()
	}
}
