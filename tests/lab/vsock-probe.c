/*
 * The L2 guest's end of the lab's vsock checks (busybox has no AF_VSOCK):
 *   vsock-probe listen PORT        accept one stream, answer its first line with
 *                                  "echo LINE", print "got LINE"
 *   vsock-probe connect CID PORT MSG   send "MSG\n", print the first line answered
 * Built static for the initramfs. Exit status 0 on success, 1 with a message on stderr.
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
	fprintf(stderr, "vsock-probe: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Reads up to the first newline (not kept): lines here are short. */
static ssize_t read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;
	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return n;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char line[256], reply[300];
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (fd < 0)
		return fail("socket");
	if (argc == 3 && !strcmp(argv[1], "listen")) {
		addr.svm_cid = VMADDR_CID_ANY;
		addr.svm_port = (unsigned)atoi(argv[2]);
		if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 1))
			return fail("bind");
		int c = accept(fd, NULL, NULL);
		if (c < 0)
			return fail("accept");
		read_line(c, line, sizeof(line));
		snprintf(reply, sizeof(reply), "echo %s\n", line);
		if (write_all(c, reply, strlen(reply)))
			return fail("write");
		printf("got %s\n", line);
		close(c);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "connect")) {
		addr.svm_cid = (unsigned)atoi(argv[2]);
		addr.svm_port = (unsigned)atoi(argv[3]);
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
			return fail("connect");
		snprintf(line, sizeof(line), "%s\n", argv[4]);
		if (write_all(fd, line, strlen(line)))
			return fail("write");
		read_line(fd, reply, sizeof(reply));
		printf("%s\n", reply);
		return 0;
	}
	fprintf(stderr, "usage: vsock-probe listen PORT | connect CID PORT MSG\n");
	return 2;
}
