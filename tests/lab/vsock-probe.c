/*
 * The L2 guest's end of the vsock tests (static, for the lab's initramfs; busybox has
 * no AF_VSOCK). Each finding is one "lab: " line on stdout.
 *
 *   vsock-probe connect PORT MSG   connects to the host (CID 2) port PORT, sends MSG and a
 *                                  newline, shuts its sending side, prints what comes back
 *                                  until EOF: "lab: vsock reply <first line>"
 *   vsock-probe echo PORT          listens on PORT ("lab: vsock listening PORT"), takes
 *                                  one connection and echoes it until EOF
 *   vsock-probe refused PORT       a connection to host port PORT must be refused (reset):
 *                                  "lab: vsock refused PORT"
 *
 * Exit status 0 on success, 1 with a "lab: FAIL vsock ..." line otherwise.
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *what)
{
	printf("lab: FAIL vsock %s: %s\n", what, strerror(errno));
	fflush(stdout);
	return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int probe_connect(unsigned port, const char *msg)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port };
	char buf[4096];
	size_t got = 0;
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		return fail("socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return fail("connect");
	if (write_all(fd, msg, strlen(msg)) || write_all(fd, "\n", 1))
		return fail("write");
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("read");
		if (!n || got + (size_t)n == sizeof(buf) - 1)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	printf("lab: vsock reply %s\n", buf);
	close(fd);
	return 0;
}

static int probe_echo(unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
	char buf[4096];
	int l = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (l < 0)
		return fail("socket");
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1))
		return fail("listen");
	printf("lab: vsock listening %u\n", port);
	fflush(stdout);
	int fd = accept(l, NULL, NULL);
	if (fd < 0)
		return fail("accept");
	size_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("read");
		if (!n)
			break;
		if (write_all(fd, buf, (size_t)n))
			return fail("write");
		total += (size_t)n;
	}
	printf("lab: vsock echoed %zu\n", total);
	close(fd);
	close(l);
	return 0;
}

static int probe_refused(unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0)
		return fail("socket");
	if (!connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		printf("lab: FAIL vsock connect to %u: accepted, where nobody listens\n", port);
		return 1;
	}
	if (errno != ECONNRESET && errno != ECONNREFUSED)
		return fail("connect (refused expected)");
	printf("lab: vsock refused %u\n", port);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "connect"))
		return probe_connect((unsigned)strtoul(argv[2], NULL, 10), argv[3]);
	if (argc == 3 && !strcmp(argv[1], "echo"))
		return probe_echo((unsigned)strtoul(argv[2], NULL, 10));
	if (argc == 3 && !strcmp(argv[1], "refused"))
		return probe_refused((unsigned)strtoul(argv[2], NULL, 10));
	fprintf(stderr, "usage: vsock-probe connect PORT MSG | echo PORT | refused PORT\n");
	return 2;
}
