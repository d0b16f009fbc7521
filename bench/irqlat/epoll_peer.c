/*
 * The epoll baseline for bench/irqlat: a doorbell serviced the way an epoll main
 * loop (QEMU's) services it. This program makes two eventfds, starts ringvm with
 * them (--irq-test-fds), and loops: epoll_wait on the doorbell, read it, write the
 * irqfd. ringvm itself never uses epoll; this is the comparison, not the product.
 *
 * usage: irqlat-epoll-peer RINGVM run [ARGS...]   (exits with ringvm's status)
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int main(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[2], "run")) {
		fprintf(stderr, "usage: %s RINGVM run [ARGS...]\n", argv[0]);
		return 2;
	}
	int doorbell = eventfd(0, 0), irq = eventfd(0, 0);
	if (doorbell < 0 || irq < 0) {
		perror("eventfd");
		return 1;
	}
	char fds[32];
	snprintf(fds, sizeof(fds), "%d,%d", doorbell, irq);

	/* ringvm ARGV: RINGVM run --irq-test-fds D,I [ARGS...] */
	char **child_argv = calloc((size_t)argc + 3, sizeof(char *));
	child_argv[0] = argv[1];
	child_argv[1] = "run";
	child_argv[2] = "--irq-test-fds";
	child_argv[3] = fds;
	for (int i = 3; i < argc; i++)
		child_argv[i + 1] = argv[i];

	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		execv(argv[1], child_argv);
		perror(argv[1]);
		_exit(127);
	}
	free(child_argv);
	/* The terminal's signals are ringvm's to act on; we follow its exit. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);

	int child = pidfd_open(pid), ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = doorbell };
	if (child < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, doorbell, &ev)) {
		perror("epoll");
		kill(pid, SIGKILL);
		return 1;
	}
	ev.data.fd = child;
	epoll_ctl(ep, EPOLL_CTL_ADD, child, &ev);
	for (;;) {
		struct epoll_event ready[2];
		int n = epoll_wait(ep, ready, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("epoll_wait");
			break;
		}
		bool exited = false;
		for (int i = 0; i < n; i++) {
			if (ready[i].data.fd == child) {
				exited = true;
				continue;
			}
			uint64_t rings, one = 1;
			if (read(doorbell, &rings, sizeof(rings)) == sizeof(rings))
				for (uint64_t k = 0; k < rings; k++)
					(void)!write(irq, &one, sizeof(one));
		}
		if (exited)
			break;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
