/*
 * Each role's filter, applied in a forked child (a filter cannot be taken back):
 * what it allows works, what it forbids ends the child with the one line, or, in
 * log mode, goes through.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "machine/cli.h"
#include "machine/sandbox.h"

#define CHILD_APPLY_FAILED 99

struct outcome {
	int status;             /* from waitpid */
	char err[512];          /* the child's stderr */
};

/* Forks a child named sbx-child that applies role's filter in mode, then runs body. */
static struct outcome in_child(enum sandbox_role role, enum sandbox_mode mode, int (*body)(void))
{
	struct outcome out = { 0 };
	int fds[2];

	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		prctl(PR_SET_NAME, "sbx-child");
		struct error err = { 0 };
		if (sandbox_apply(role, mode, &err)) {
			dprintf(STDERR_FILENO, "%s\n", err.msg);
			_exit(CHILD_APPLY_FAILED);
		}
		_exit(body());
	}
	close(fds[1]);
	size_t used = 0;
	ssize_t n;
	while ((n = read(fds[0], out.err + used, sizeof(out.err) - 1 - used)) > 0)
		used += (size_t)n;
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &out.status, 0), pid);
	return out;
}

static void expect_exit(struct outcome out, int code)
{
	cr_assert(WIFEXITED(out.status), "the child died of signal %d; stderr: %s",
		  WIFSIGNALED(out.status) ? WTERMSIG(out.status) : 0, out.err);
	cr_assert_eq(WEXITSTATUS(out.status), code, "exit %d, expected %d; stderr: %s",
		     WEXITSTATUS(out.status), code, out.err);
}

/* What every thread does: eventfds, reads and writes, memory, time. */
static int allowed_calls(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t one = 1, got = 0;
	if (fd < 0 || write(fd, &one, sizeof(one)) != sizeof(one) ||
	    read(fd, &got, sizeof(got)) != sizeof(got) || got != 1)
		return 2;
	close(fd);
	void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 3;
	munmap(p, 1 << 20);
	struct timespec ts;
	return clock_gettime(CLOCK_MONOTONIC, &ts) || getpid() <= 0 ? 4 : 0;
}

/* No thread of ringvm opens a socket. */
static int make_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	return fd >= 0 ? 0 : 5;
}

/* An ioctl no role asks for. */
static int fionread(void)
{
	int fd = eventfd(0, EFD_CLOEXEC), n = 0;
	if (fd < 0)
		return 6;
	ioctl(fd, FIONREAD, &n);    /* ENOTTY on an eventfd: the filter decides first */
	return 0;
}

Test(sandbox, each_role_allows_the_common_calls)
{
	for (int role = SANDBOX_MAIN; role <= SANDBOX_IOTHREAD; role++)
		expect_exit(in_child(role, SANDBOX_KILL, allowed_calls), 0);
}

Test(sandbox, a_forbidden_call_ends_the_process_with_one_line)
{
	for (int role = SANDBOX_MAIN; role <= SANDBOX_IOTHREAD; role++) {
		struct outcome out = in_child(role, SANDBOX_KILL, make_socket);
		expect_exit(out, 1);
		cr_assert_str_eq(out.err, "ringvm: seccomp: thread sbx-child made a forbidden system "
				 "call: socket (41)\n");
	}
}

Test(sandbox, ioctl_is_limited_to_the_requests_a_thread_makes)
{
	struct outcome out = in_child(SANDBOX_VCPU, SANDBOX_KILL, fionread);
	expect_exit(out, 1);
	cr_assert_str_eq(out.err, "ringvm: seccomp: thread sbx-child made a forbidden system "
			 "call: ioctl (16)\n");
}

Test(sandbox, log_mode_lets_a_forbidden_call_through)
{
	struct outcome out = in_child(SANDBOX_VCPU, SANDBOX_LOG, make_socket);
	expect_exit(out, 0);
	cr_assert_str_eq(out.err, "");
}

Test(sandbox, off_installs_nothing)
{
	expect_exit(in_child(SANDBOX_VCPU, SANDBOX_OFF, make_socket), 0);
}

#ifndef __SANITIZE_ADDRESS__
static int executable_mapping(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 8 : 0;
}

Test(sandbox, no_thread_maps_executable_memory)
{
	struct outcome out = in_child(SANDBOX_MAIN, SANDBOX_KILL, executable_mapping);
	expect_exit(out, 1);
	cr_assert_str_eq(out.err, "ringvm: seccomp: thread sbx-child made a forbidden system "
			 "call: mmap (9)\n");
}
#endif

/* A thread that blocks every signal (as vCPU and I/O threads do) still gets the line. */
static int blocked_then_socket(void)
{
	return make_socket();
}

Test(sandbox, the_line_comes_even_with_signals_blocked)
{
	sigset_t all, old;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	struct outcome out = in_child(SANDBOX_IOTHREAD, SANDBOX_KILL, blocked_then_socket);
	sigprocmask(SIG_SETMASK, &old, NULL);
	expect_exit(out, 1);
	cr_assert(strstr(out.err, "forbidden system call: socket (41)"), "%s", out.err);
}

static enum sandbox_mode parse_seccomp(char *value, int *rc)
{
	char *argv[] = { "ringvm", "run", "--seccomp", value, NULL };
	struct vm_config cfg;
	enum cli_command cmd;
	struct error err = { 0 };

	*rc = cli_parse(4, argv, &cfg, &cmd, &err);
	return cfg.seccomp;
}

Test(sandbox, the_option_takes_kill_log_or_off)
{
	char *argv[] = { "ringvm", "run", NULL };
	struct vm_config cfg;
	enum cli_command cmd;
	struct error err = { 0 };
	int rc;

	cr_assert_eq(cli_parse(2, argv, &cfg, &cmd, &err), 0);
	cr_assert_eq(cfg.seccomp, SANDBOX_KILL, "on by default");
	cr_assert_eq(parse_seccomp("log", &rc), SANDBOX_LOG);
	cr_assert_eq(rc, 0);
	cr_assert_eq(parse_seccomp("off", &rc), SANDBOX_OFF);
	cr_assert_eq(parse_seccomp("kill", &rc), SANDBOX_KILL);
	parse_seccomp("trap", &rc);
	cr_assert_eq(rc, -EINVAL);
}
