/* The HTTP layer on a real loop, over socketpairs: partial, pipelined, oversize, bad requests. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "services/http.h"

static struct loop loop;
static struct http_server srv;
static unsigned handled;
static char last_body[256], last_path[HTTP_MAX_PATH];
static size_t last_len;
static struct http_conn *held;      /* a request answered later, when hold is set */
static bool hold;

static void handler(void *ctx, struct http_conn *conn, const struct http_request *req)
{
	char json[400];

	(void)ctx;
	handled++;
	last_len = req->body_len;
	snprintf(last_body, sizeof(last_body), "%s", req->body);
	snprintf(last_path, sizeof(last_path), "%s", req->path);
	if (hold) {
		held = conn;
		return;
	}
	snprintf(json, sizeof(json), "{\"path\": \"%s\", \"len\": %zu}", req->path, req->body_len);
	http_respond(conn, req->method == HTTP_M_PUT ? 204 : 200, req->method == HTTP_M_PUT ? NULL : json);
}

static void setup(void)
{
	struct error err = { 0 };

	cr_assert_eq(loop_init(&loop, 64, &err), 0, "%s", err.msg);
	loop_start(&loop);
	http_server_init(&srv, &loop, -1, handler, NULL);
	handled = 0;
	hold = false;
	held = NULL;
}

static void teardown(void)
{
	loop_cancel_all(&loop, 1000);
	http_server_destroy(&srv);
	loop_destroy(&loop);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 20);

/* A client end whose other end the server serves. */
static int client(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(http_server_adopt(&srv, sv[1]), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	return sv[0];
}

static void spin(int rounds)
{
	for (int i = 0; i < rounds; i++)
		loop_poll(&loop, 10);
}

static void send_all(int fd, const char *text, size_t len)
{
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	spin(5);
}

/* Everything the server sent so far; returns its length (-1: the server closed). */
static ssize_t receive(int fd, char *buf, size_t size)
{
	size_t got = 0;

	spin(5);
	for (;;) {
		ssize_t n = read(fd, buf + got, size - 1 - got);
		if (n == 0) {
			buf[got] = '\0';
			return got ? (ssize_t)got : -1;
		}
		if (n < 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

static bool closed_by_server(int fd)
{
	char c;

	spin(3);
	return read(fd, &c, 1) == 0;
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

Test(http, get_and_keep_alive)
{
	char buf[4096];
	int fd = client();

	send_all(fd, "GET /machine-config?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", 45);
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "HTTP/1.1 200 OK\r\n"), "%s", buf);
	cr_assert(strstr(buf, "\"path\": \"/machine-config\""), "the query is not the path: %s", buf);
	cr_assert(strstr(buf, "Content-Type: application/json"));
	const char *put = "PUT /a HTTP/1.1\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
	send_all(fd, put, strlen(put));
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "HTTP/1.1 204 No Content\r\n"), "%s", buf);
	cr_assert_str_eq(last_body, "{\"a\":1}");
	cr_assert_eq(handled, 2);
	cr_assert_eq(srv.nr_conns, 1, "keep-alive: still connected");
	close(fd);
}

Test(http, partial_request_byte_by_byte)
{
	char buf[4096];
	const char *req = "PUT /boot-source HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"x\": true}";
	int fd = client();

	for (size_t i = 0; i < strlen(req); i++) {
		cr_assert_eq(handled, 0, "handled before byte %zu", i);
		send_all(fd, req + i, 1);
	}
	cr_assert_eq(handled, 1);
	cr_assert_str_eq(last_body, "{\"x\": true}");
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "204"));
	close(fd);
}

Test(http, pipelined_requests_answered_in_order)
{
	char buf[8192];
	const char *reqs = "GET /one HTTP/1.1\r\n\r\nPUT /two HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
			   "GET /three HTTP/1.1\r\n\r\n";
	int fd = client();

	send_all(fd, reqs, strlen(reqs));
	spin(10);
	cr_assert_eq(handled, 3);
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	char *one = strstr(buf, "/one"), *two = strstr(buf, "204"), *three = strstr(buf, "/three");
	cr_assert(one && two && three && one < two && two < three, "%s", buf);
	close(fd);
}

Test(http, body_larger_than_the_bound_is_413_and_closes)
{
	char buf[4096];
	int fd = client();

	const char *req = "PUT /drives/x HTTP/1.1\r\nContent-Length: 100000\r\n\r\n";
	send_all(fd, req, strlen(req));
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "413"), "%s", buf);
	cr_assert(strstr(buf, "fault_message"));
	cr_assert(closed_by_server(fd), "our side is shut after the answer");
	cr_assert_eq(handled, 0);
	/* It drains what the client still sends, then frees it when the client goes. */
	cr_assert_eq(write(fd, "more body", 9), 9);
	spin(3);
	cr_assert_eq(srv.nr_conns, 1);
	close(fd);
	spin(3);
	cr_assert_eq(srv.nr_conns, 0);
}

Test(http, headers_past_the_bound_are_413)
{
	static char junk[HTTP_MAX_REQUEST + 100];
	char buf[4096];
	int fd = client();

	strcpy(junk, "GET / HTTP/1.1\r\nX-Junk: ");
	memset(junk + strlen(junk), 'a', sizeof(junk) - strlen(junk) - 1);
	/* The socket buffer takes it in pieces; keep the loop turning meanwhile. */
	size_t sent = 0;
	while (sent < sizeof(junk) - 1) {
		ssize_t n = write(fd, junk + sent, sizeof(junk) - 1 - sent);
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			sent += (size_t)n;
		spin(1);
	}
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "413"), "%s", buf);
	cr_assert_eq(handled, 0);
	close(fd);
}

Test(http, bad_content_length_and_chunked_are_400)
{
	char buf[4096];
	int fd = client();

	const char *req = "PUT /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n";
	send_all(fd, req, strlen(req));
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "400"), "%s", buf);
	cr_assert(closed_by_server(fd));
	close(fd);

	fd = client();
	req = "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
	send_all(fd, req, strlen(req));
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "400"), "%s", buf);
	close(fd);

	fd = client();
	send_all(fd, "NOT HTTP AT ALL\r\n\r\n", 19);
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "400"), "%s", buf);
	close(fd);
	cr_assert_eq(handled, 0);
}

Test(http, connection_close_is_honoured)
{
	char buf[4096];
	int fd = client();

	const char *req = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
	send_all(fd, req, strlen(req));
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "Connection: close"), "%s", buf);
	cr_assert(closed_by_server(fd));
	close(fd);
	spin(3);
	cr_assert_eq(srv.nr_conns, 0);
}

Test(http, a_client_gone_mid_request_is_freed)
{
	int fd = client();

	send_all(fd, "PUT /drives/rootfs HTTP/1.1\r\nContent-Length: 50\r\n\r\n{\"dri", 57);
	cr_assert_eq(srv.nr_conns, 1);
	close(fd);
	spin(5);
	cr_assert_eq(srv.nr_conns, 0);
	cr_assert_eq(handled, 0);
}

Test(http, clients_are_bounded)
{
	int fds[HTTP_MAX_CLIENTS], sv[2];

	for (int i = 0; i < HTTP_MAX_CLIENTS; i++)
		fds[i] = client();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(http_server_adopt(&srv, sv[1]), -EBUSY);
	close(sv[0]);
	close(sv[1]);
	close(fds[3]);
	spin(5);
	cr_assert_eq(srv.nr_conns, HTTP_MAX_CLIENTS - 1);
	for (int i = 0; i < HTTP_MAX_CLIENTS; i++)
		if (i != 3)
			close(fds[i]);
	spin(5);
	cr_assert_eq(srv.nr_conns, 0);
}

Test(http, a_later_answer_holds_the_next_request)
{
	char buf[4096];
	int fd = client();

	hold = true;
	const char *reqs = "PATCH /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET /after HTTP/1.1\r\n\r\n";
	send_all(fd, reqs, strlen(reqs));
	cr_assert_eq(handled, 1);
	cr_assert_not_null(held);
	cr_assert_eq(receive(fd, buf, sizeof(buf)), 0, "nothing sent yet: %s", buf);
	hold = false;
	http_respond(held, 204, NULL);
	spin(10);
	cr_assert_eq(handled, 2);
	cr_assert_str_eq(last_path, "/after");
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert_eq(count(buf, "HTTP/1.1 "), 2, "%s", buf);
	close(fd);
}

Test(http, listens_and_accepts_on_a_unix_socket)
{
	struct error err = { 0 };
	char path[64];

	snprintf(path, sizeof(path), "/tmp/ringvm-test-http-%d.sock", getpid());
	int lfd = http_listen_unix(path, &err);
	cr_assert_geq(lfd, 0, "%s", err.msg);
	http_server_destroy(&srv);
	http_server_init(&srv, &loop, lfd, handler, NULL);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strcpy(addr.sun_path, path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	send_all(fd, "GET /x HTTP/1.1\r\n\r\n", 19);
	spin(5);
	cr_assert_eq(handled, 1);
	char buf[1024];
	fcntl(fd, F_SETFL, O_NONBLOCK);
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "/x"));
	close(fd);
	unlink(path);
	cr_assert_lt(http_listen_unix("/tmp/this/directory/does/not/exist.sock", &err), 0);
}

Test(http, a_request_past_the_first_buffer_grows_it)
{
	static char req[40000];
	char buf[4096];
	int fd = client();

	int n = snprintf(req, sizeof(req), "PUT /big HTTP/1.1\r\nContent-Length: 30000\r\n\r\n");
	memset(req + n, 'b', 30000);
	size_t sent = 0, total = (size_t)n + 30000;
	while (sent < total) {
		ssize_t w = write(fd, req + sent, total - sent);
		if (w > 0)
			sent += (size_t)w;
		spin(1);
	}
	spin(5);
	cr_assert_eq(handled, 1);
	cr_assert_eq(last_len, 30000, "the body arrived whole");
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "204"), "%s", buf);
	close(fd);
}

Test(http, expect_100_continue_is_answered_before_the_body)
{
	char buf[4096];
	int fd = client();

	const char *head = "PUT /boot-source HTTP/1.1\r\nContent-Length: 2\r\nexpect: 100-Continue\r\n\r\n";
	send_all(fd, head, strlen(head));
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	cr_assert_eq(handled, 0);
	send_all(fd, "{}", 2);
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(strstr(buf, "HTTP/1.1 204"), "%s", buf);
	cr_assert_eq(handled, 1);
	/* Body sent along at once: no interim answer. */
	head = "PUT /b HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n{}";
	send_all(fd, head, strlen(head));
	cr_assert_gt(receive(fd, buf, sizeof(buf)), 0);
	cr_assert(!strstr(buf, "100 Continue") && strstr(buf, "204"), "%s", buf);
	close(fd);
}
