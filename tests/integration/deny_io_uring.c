/*
 * deny-io-uring CMD [ARGS...]: runs CMD with io_uring_setup refused (EPERM), as a
 * container runtime's default seccomp profile refuses it, so the tests can check
 * what ringvm says to a user on such a host.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: deny-io-uring CMD [ARGS...]\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = ctx ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(io_uring_setup), 0) : -ENOMEM;
	if (!r)
		r = seccomp_load(ctx);
	if (r) {
		fprintf(stderr, "deny-io-uring: cannot install the filter: %s\n", strerror(-r));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "deny-io-uring: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
