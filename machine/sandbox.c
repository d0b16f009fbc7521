#include "machine/sandbox.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/*
 * AddressSanitizer's runtime makes calls of its own in every thread (alternate
 * signal stacks, reading /proc/self/maps, ...) and LeakSanitizer, at exit, clones
 * a tracer that ptraces the threads: a build with them gets the extra calls below.
 * GCC says so with __SANITIZE_ADDRESS__, clang with __has_feature.
 */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZERS 1
#endif
#endif

#define NAMES_MAX  512      /* x86-64 system call numbers in use end below 470 */
#define NAME_LEN   32

/*
 * The SIGSYS handler runs in whatever thread made the forbidden call, and a handler
 * has no argument to carry context in: what it prints comes from here. The names
 * are written once, under prepare_once, before the first filter is loaded, and only
 * read afterwards (libseccomp's resolver allocates, which a handler must not do);
 * thread_name is each thread's own, written by that thread before its filter.
 */
static char syscall_names[NAMES_MAX][NAME_LEN];
static pthread_once_t prepare_once = PTHREAD_ONCE_INIT;
static int prepare_result;
static __thread char thread_name[16];

/* Every thread: its memory (malloc and free), locks, eventfds, time, signals, exit. */
static const int common_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(close), SCMP_SYS(eventfd2),
	SCMP_SYS(futex), SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(mremap),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(tgkill),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(sched_yield), SCMP_SYS(restart_syscall),
	/* The vDSO answers these, except on a clock source it cannot read (some VMs). */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

static const int main_calls[] = {
	SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
	SCMP_SYS(pread64),                       /* --stats: the vCPUs' KVM stats fds */
	SCMP_SYS(fstat), SCMP_SYS(newfstatat),   /* stdio, on its first write to a stream */
	SCMP_SYS(dup3), SCMP_SYS(flock),         /* PATCH /drives: the new image behind the old fd */
};

static const int vcpu_calls[] = {
	SCMP_SYS(rt_sigtimedwait),               /* a kick signal left pending by KVM_RUN */
};

static const int iothread_calls[] = {
	SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register),
};

#ifdef SANDBOX_SANITIZERS
static const int sanitizer_calls[] = {
	SCMP_SYS(sigaltstack), SCMP_SYS(prctl), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(open), SCMP_SYS(openat),
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek), SCMP_SYS(getdents64),
	SCMP_SYS(getdents),                      /* LeakSanitizer lists /proc/self/task with it */
	SCMP_SYS(sched_getaffinity), SCMP_SYS(uname), SCMP_SYS(rt_sigaction), SCMP_SYS(mmap),
	SCMP_SYS(mprotect),
	/* LeakSanitizer's tracer, at exit. */
	SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(ptrace), SCMP_SYS(wait4), SCMP_SYS(kill),
	SCMP_SYS(getppid), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
};
#endif

/*
 * ioctl only on the requests each thread makes. Any thread may raise an interrupt
 * (KVM_SIGNAL_MSI, KVM_IRQ_LINE, an irqfd made on first use), re-map a device as
 * the guest moves its BARs or changes its MSI-X table (ioeventfds, GSI routes) and
 * tell a tap the offloads and queues its driver chose.
 */
static const unsigned long device_ioctls[] = {
	KVM_SIGNAL_MSI, KVM_IRQ_LINE, KVM_IRQFD, KVM_IOEVENTFD, KVM_SET_GSI_ROUTING,
	TUNSETOFFLOAD, TUNSETQUEUE,
};

static const unsigned long main_ioctls[] = {
	TCGETS, TCSETS, TCSETSW, TCSETSF,        /* the console's terminal, restored at exit */
};

static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,
	KVM_GET_REGS,                            /* the rip of a guest fault, for its message */
};

struct role_lists {
	const char *name;
	const int *calls;
	size_t nr_calls;
	const unsigned long *ioctls;
	size_t nr_ioctls;
};

#define LIST(a) (a), sizeof(a) / sizeof((a)[0])

static const struct role_lists roles[] = {
	[SANDBOX_MAIN] = { "main", LIST(main_calls), LIST(main_ioctls) },
	[SANDBOX_VCPU] = { "vCPU", LIST(vcpu_calls), LIST(vcpu_ioctls) },
	[SANDBOX_IOTHREAD] = { "I/O", LIST(iothread_calls), NULL, 0 },
};

int sandbox_parse_mode(const char *text, enum sandbox_mode *out)
{
	static const char *const names[] = {
		[SANDBOX_KILL] = "kill", [SANDBOX_LOG] = "log", [SANDBOX_OFF] = "off",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(text, names[i])) {
			*out = (enum sandbox_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

static size_t append(char *buf, size_t used, size_t size, const char *s)
{
	while (*s && used + 1 < size)
		buf[used++] = *s++;
	return used;
}

static size_t append_number(char *buf, size_t used, size_t size, long v)
{
	char digits[24];
	size_t n = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	do
		digits[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < sizeof(digits));
	if (v < 0 && used + 1 < size)
		buf[used++] = '-';
	while (n && used + 1 < size)
		buf[used++] = digits[--n];
	return used;
}

/* Async-signal-safe: one write of a line built on the stack, then _exit. */
static void sandbox_sigsys(int sig, siginfo_t *info, void *uctx)
{
	char line[192];
	size_t n = 0;
	int nr = info->si_syscall;
	bool known = info->si_arch == AUDIT_ARCH_X86_64 && nr >= 0 && nr < NAMES_MAX &&
		     syscall_names[nr][0];

	(void)sig;
	(void)uctx;
	n = append(line, n, sizeof(line), "ringvm: seccomp: thread ");
	n = append(line, n, sizeof(line), thread_name[0] ? thread_name : "?");
	n = append(line, n, sizeof(line), " made a forbidden system call: ");
	n = append(line, n, sizeof(line), known ? syscall_names[nr] : "unknown");
	n = append(line, n, sizeof(line), " (");
	n = append_number(line, n, sizeof(line), nr);
	n = append(line, n, sizeof(line), ")\n");
	(void)!write(STDERR_FILENO, line, n);
	_exit(1);
}

static void sandbox_prepare(void)
{
	for (int nr = 0; nr < NAMES_MAX; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
		if (name) {
			snprintf(syscall_names[nr], NAME_LEN, "%s", name);
			free(name);
		}
	}
	/* Settles libseccomp's view of the kernel once, not in each thread at the same time. */
	(void)seccomp_api_get();
	struct sigaction sa = { .sa_sigaction = sandbox_sigsys, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	prepare_result = sigaction(SIGSYS, &sa, NULL) ? -errno : 0;
}

static int allow_all(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
		if (r)
			return r;
	}
	return 0;
}

/* The kernel takes the request as an unsigned int: only the low 32 bits matter. */
static int allow_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, reqs[i]));
		if (r)
			return r;
	}
	return 0;
}

static int sandbox_rules(scmp_filter_ctx ctx, enum sandbox_role role)
{
	const struct role_lists *l = &roles[role];
	int r;

	if ((r = allow_all(ctx, LIST(common_calls))) ||
	    (r = allow_all(ctx, l->calls, l->nr_calls)) ||
	    (r = allow_ioctls(ctx, LIST(device_ioctls))) ||
	    (r = allow_ioctls(ctx, l->ioctls, l->nr_ioctls)))
		return r;
#ifdef SANDBOX_SANITIZERS
	return allow_all(ctx, LIST(sanitizer_calls));
#else
	/* malloc maps and protects memory; nothing in ringvm makes code at run time. */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				  SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))))
		return r;
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
#endif
}

int sandbox_apply(enum sandbox_role role, enum sandbox_mode mode, struct error *err)
{
	const char *who = roles[role].name;

	if (mode == SANDBOX_OFF)
		return 0;
	pthread_once(&prepare_once, sandbox_prepare);
	if (prepare_result)
		return error_sys(err, -prepare_result, "seccomp: cannot handle SIGSYS");
	if (prctl(PR_GET_NAME, thread_name))
		thread_name[0] = '\0';
	/* A blocked SIGSYS would be forced to its default action: a core dump, no message. */
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);

	uint32_t deny = mode == SANDBOX_KILL ? SCMP_ACT_TRAP : SCMP_ACT_LOG;
	scmp_filter_ctx ctx = seccomp_init(deny);
	if (!ctx)
		return error_set(err, ENOMEM, "seccomp: cannot build the %s thread's filter", who);
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny);
	/* The kernel's own errno rather than libseccomp's -ECANCELED, for the message. */
	if (!r)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (!r)
		r = sandbox_rules(ctx, role);
	if (r) {
		seccomp_release(ctx);
		return error_sys(err, -r, "seccomp: cannot build the %s thread's filter", who);
	}
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r)
		return error_sys(err, -r, "seccomp: cannot install the %s thread's filter", who);
	return 0;
}
