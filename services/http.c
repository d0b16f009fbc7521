#include "services/http.h"

#include <errno.h>
#include <limits.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "services/util.h"

/*
 * One client. At most one of its operations is in flight at a time (a recv or a
 * send), and none while its request is with the handler: so it can be freed from
 * any completion, and a slow handler holds back the client's next request only.
 */
struct http_conn {
	struct http_server *srv;
	unsigned slot;
	int fd;
	struct loop_op op;
	enum { CONN_IDLE, CONN_RECV, CONN_HANDLING, CONN_SEND, CONN_DRAIN } state;
	size_t drained;             /* bytes read and dropped after the last response */
	http_parser parser;
	http_parser_settings settings;
	size_t len;                 /* bytes in buf */
	size_t parsed;              /* of them, handed to the parser */
	size_t url_off, url_len, body_off, body_len;
	bool complete;              /* the parser has a whole request */
	/* "Expect: 100-continue" (curl sends it before larger bodies): header being read, answer. */
	char field[8], value[16];
	size_t field_len, value_len;
	bool in_value, expect_continue, interim;
	bool close_after;           /* the response ends the connection */
	char *out;                  /* the response being sent */
	bool out_static;            /* out is not ours to free */
	size_t out_len, out_sent;
	char *buf;                  /* grows from HTTP_FIRST_BUF as requests need, to the bound */
	size_t cap;                 /* usable bytes of buf (one more is allocated) */
};

static void conn_next(struct http_conn *c);
static void conn_drain(struct http_conn *c);

/* What a refused client may still send before it is cut off. */
#define HTTP_DRAIN_MAX (4 * HTTP_MAX_REQUEST)
/* What an idle client costs: the API's requests are small, so most never grow it. */
#define HTTP_FIRST_BUF 4096

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 500: return "Internal Server Error";
	default: return "Error";
	}
}

static void conn_free(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	srv->conns[c->slot] = NULL;
	srv->nr_conns--;
	close(c->fd);
	if (!c->out_static)
		free(c->out);
	free(c->buf);
	free(c);
}

static void server_arm_accept(struct http_server *srv);

static void conn_close(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	conn_free(c);
	/* A slot is free again: take the next client the kernel holds in the backlog. */
	if (!loop_closing(srv->loop))
		server_arm_accept(srv);
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (!c->url_len)
		c->url_off = (size_t)(at - c->buf);
	c->url_len += len;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (!c->body_len)
		c->body_off = (size_t)(at - c->buf);
	c->body_len += len;
	return 0;
}

/* Header names and values arrive in fragments; only Expect's is kept, and only its start. */
static void header_done(struct http_conn *c)
{
	if (c->in_value && c->field_len == 6 && !strncasecmp(c->field, "expect", 6) &&
	    c->value_len == 12 && !strncasecmp(c->value, "100-continue", 12))
		c->expect_continue = true;
	c->field_len = c->value_len = 0;
	c->in_value = false;
}

static void keep(char *dst, size_t size, size_t *len, const char *at, size_t n)
{
	for (size_t i = 0; i < n; i++, (*len)++)
		if (*len < size)
			dst[*len] = at[i];
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (c->in_value)
		header_done(c);
	keep(c->field, sizeof(c->field), &c->field_len, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	c->in_value = true;
	keep(c->value, sizeof(c->value), &c->value_len, at, len);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	header_done(p->data);
	/* Chunked bodies are not taken (Firecracker's clients send Content-Length). */
	if (p->flags & F_CHUNKED)
		return -1;
	if (p->content_length != ULLONG_MAX && p->content_length > HTTP_MAX_REQUEST)
		return -1;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->complete = true;
	http_parser_pause(p, 1);    /* one request at a time: the rest waits in buf */
	return 0;
}

static void conn_send_done(struct loop_op *op, int res, unsigned flags);

static void conn_drain_done(struct loop_op *op, int res, unsigned flags)
{
	struct http_conn *c = container_of(op, struct http_conn, op);

	(void)flags;
	c->state = CONN_IDLE;
	c->drained += res > 0 ? (size_t)res : 0;
	if (res <= 0 || c->drained > HTTP_DRAIN_MAX || loop_closing(c->srv->loop)) {
		conn_close(c);
		return;
	}
	struct io_uring_sqe *sqe = loop_sqe(c->srv->loop, &c->op);
	c->state = CONN_DRAIN;
	io_uring_prep_recv(sqe, c->fd, c->buf, c->cap, 0);
}

/*
 * The last response is out: the client may still be sending a request we refused.
 * Closing now, with its bytes unread, would reset the connection and could lose the
 * response on its side; so our side is shut and what it still sends is read and
 * dropped, up to a bound, until it closes.
 */
static void conn_drain(struct http_conn *c)
{
	struct io_uring_sqe *sqe = loop_sqe(c->srv->loop, NULL);

	io_uring_prep_shutdown(sqe, c->fd, SHUT_WR);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = loop_sqe(c->srv->loop, &c->op);
	c->op.complete = conn_drain_done;
	c->state = CONN_DRAIN;
	c->drained = 0;
	io_uring_prep_recv(sqe, c->fd, c->buf, c->cap, 0);
}

static void conn_arm_send(struct http_conn *c)
{
	struct io_uring_sqe *sqe = loop_sqe(c->srv->loop, &c->op);

	c->op.complete = conn_send_done;
	c->state = CONN_SEND;
	io_uring_prep_send(sqe, c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);
}

static void conn_send_done(struct loop_op *op, int res, unsigned flags)
{
	struct http_conn *c = container_of(op, struct http_conn, op);

	(void)flags;
	c->state = CONN_IDLE;
	if (res <= 0) {
		conn_close(c);
		return;
	}
	c->out_sent += (size_t)res;
	if (c->out_sent < c->out_len) {
		conn_arm_send(c);
		return;
	}
	if (!c->out_static)
		free(c->out);
	c->out = NULL;
	if (c->interim) {           /* "100 Continue" is out: now the body */
		c->interim = false;
		conn_next(c);
		return;
	}
	if (c->close_after) {
		conn_drain(c);
		return;
	}
	/* Drop the request just answered; a pipelined one may already be in buf. */
	memmove(c->buf, c->buf + c->parsed, c->len - c->parsed);
	c->len -= c->parsed;
	c->parsed = 0;
	conn_next(c);
}

void http_respond(struct http_conn *c, int status, const char *json)
{
	size_t body = json ? strlen(json) : 0;
	size_t cap = body + 256;

	static const char no_memory[] = "HTTP/1.1 500 Internal Server Error\r\n"
		"Content-Length: 0\r\nConnection: close\r\n\r\n";

	c->out = malloc(cap);
	if (!c->out) {
		/* Freeing it here would pull it from under the handler: the send ends it. */
		c->out_static = true;
		c->close_after = true;
		c->out = (char *)no_memory;
		c->out_len = sizeof(no_memory) - 1;
		c->out_sent = 0;
		conn_arm_send(c);
		return;
	}
	c->out_static = false;
	int n = snprintf(c->out, cap, "HTTP/1.1 %d %s\r\nServer: ringvm\r\n%s%s"
			 "Content-Length: %zu\r\n%s\r\n", status, status_text(status),
			 body ? "Content-Type: application/json\r\n" : "",
			 c->close_after ? "Connection: close\r\n" : "", body, "");
	memcpy(c->out + n, json ? json : "", body);
	c->out_len = (size_t)n + body;
	c->out_sent = 0;
	conn_arm_send(c);
}

/* A request the parser refused: answered, and the connection ends. */
static void conn_reject(struct http_conn *c, int status, const char *msg)
{
	char json[160];

	c->close_after = true;
	snprintf(json, sizeof(json), "{\"fault_message\": \"%s\"}", msg);
	http_respond(c, status, json);
}

static enum http_verb method_of(unsigned m)
{
	return m == HTTP_GET ? HTTP_M_GET : m == HTTP_PUT ? HTTP_M_PUT
	       : m == HTTP_PATCH ? HTTP_M_PATCH : HTTP_M_OTHER;
}

static void conn_dispatch(struct http_conn *c)
{
	struct http_request req = { .method = method_of(c->parser.method) };
	struct http_parser_url url;

	c->complete = false;
	c->expect_continue = false;     /* the body came anyway: no "100 Continue" now */
	c->close_after = !http_should_keep_alive(&c->parser);
	http_parser_url_init(&url);
	if (!c->url_len || http_parser_parse_url(c->buf + c->url_off, c->url_len, 0, &url) ||
	    !(url.field_set & (1 << UF_PATH)) || url.field_data[UF_PATH].len >= HTTP_MAX_PATH) {
		conn_reject(c, 400, "Invalid URI.");
		return;
	}
	memcpy(req.path, c->buf + c->url_off + url.field_data[UF_PATH].off, url.field_data[UF_PATH].len);
	req.path[url.field_data[UF_PATH].len] = '\0';
	/*
	 * The body is terminated in place: the byte after it is the next request's first
	 * or free space (buf has one spare); it is put back before parsing goes on.
	 */
	size_t end = c->body_off + c->body_len;
	char saved = c->buf[end];
	req.body = c->body_len ? c->buf + c->body_off : "";
	req.body_len = c->body_len;
	if (c->body_len)
		c->buf[end] = '\0';
	c->url_len = c->body_len = 0;
	c->url_off = c->body_off = 0;
	c->state = CONN_HANDLING;
	c->srv->handler(c->srv->ctx, c, &req);
	/* Nothing frees a connection inside its handler; the byte is read again only later. */
	if (req.body_len)
		c->buf[end] = saved;
}

static void conn_recv_done(struct loop_op *op, int res, unsigned flags);

/* After a response (or at first): parse what is buffered, or wait for more. */
static void conn_next(struct http_conn *c)
{
	/* Paused at the end of the last request: the next one's bytes are at buf's start now. */
	if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
		http_parser_pause(&c->parser, 0);
	if (c->parsed < c->len) {
		size_t n = http_parser_execute(&c->parser, &c->settings, c->buf + c->parsed,
					       c->len - c->parsed);
		c->parsed += n;
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		if (c->complete) {
			conn_dispatch(c);
			return;
		}
		if (e != HPE_OK) {
			bool ours = e == HPE_CB_headers_complete;   /* on_headers_complete refused it */
			bool chunked = ours && (c->parser.flags & F_CHUNKED);
			conn_reject(c, ours && !chunked ? 413 : 400,
				    chunked ? "Chunked bodies are not supported: send Content-Length."
				    : ours ? "Request too large." : http_errno_description(e));
			return;
		}
	}
	if (c->len >= HTTP_MAX_REQUEST) {
		conn_reject(c, 413, "Request too large.");
		return;
	}
	if (c->expect_continue) {
		static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
		c->expect_continue = false;
		c->interim = true;
		c->out_static = true;
		c->out = (char *)go_on;
		c->out_len = sizeof(go_on) - 1;
		c->out_sent = 0;
		conn_arm_send(c);
		return;
	}
	if (c->len == c->cap) {
		size_t cap = c->cap * 2 < HTTP_MAX_REQUEST ? c->cap * 2 : HTTP_MAX_REQUEST;
		char *buf = realloc(c->buf, cap + 1);
		if (!buf) {
			conn_reject(c, 413, "Request too large.");
			return;
		}
		c->buf = buf;       /* the parser's positions are offsets: nothing points into it */
		c->cap = cap;
	}
	struct io_uring_sqe *sqe = loop_sqe(c->srv->loop, &c->op);
	c->op.complete = conn_recv_done;
	c->state = CONN_RECV;
	io_uring_prep_recv(sqe, c->fd, c->buf + c->len, c->cap - c->len, 0);
}

static void conn_recv_done(struct loop_op *op, int res, unsigned flags)
{
	struct http_conn *c = container_of(op, struct http_conn, op);

	(void)flags;
	c->state = CONN_IDLE;
	if (res <= 0) {             /* gone (mid-request or not), or cancelled: all of it goes */
		conn_close(c);
		return;
	}
	c->len += (size_t)res;
	conn_next(c);
}

int http_server_adopt(struct http_server *srv, int fd)
{
	unsigned slot = 0;

	while (slot < HTTP_MAX_CLIENTS && srv->conns[slot])
		slot++;
	if (slot == HTTP_MAX_CLIENTS)
		return -EBUSY;
	struct http_conn *c = calloc(1, sizeof(*c));
	char *buf = malloc(HTTP_FIRST_BUF + 1);
	if (!c || !buf) {
		free(c);
		free(buf);
		return -ENOMEM;
	}
	c->buf = buf;
	c->cap = HTTP_FIRST_BUF;
	c->srv = srv;
	c->slot = slot;
	c->fd = fd;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	http_parser_settings_init(&c->settings);
	c->settings.on_url = on_url;
	c->settings.on_body = on_body;
	c->settings.on_header_field = on_header_field;
	c->settings.on_header_value = on_header_value;
	c->settings.on_headers_complete = on_headers_complete;
	c->settings.on_message_complete = on_message_complete;
	srv->conns[slot] = c;
	srv->nr_conns++;
	srv->accepted++;
	conn_next(c);
	return 0;
}

static void server_accept_done(struct loop_op *op, int res, unsigned flags)
{
	struct http_server *srv = container_of(op, struct http_server, accept_op);

	(void)flags;
	srv->accept_armed = false;
	if (res == -ECANCELED || loop_closing(srv->loop)) {
		if (res >= 0)
			close(res);
		return;
	}
	if (res >= 0 && http_server_adopt(srv, res)) {
		srv->refused++;
		close(res);
	}
	server_arm_accept(srv);
}

static void server_arm_accept(struct http_server *srv)
{
	/* Full: the kernel's backlog holds the next client until a slot frees. */
	if (srv->listen_fd < 0 || srv->accept_armed || srv->nr_conns >= HTTP_MAX_CLIENTS)
		return;
	struct io_uring_sqe *sqe = loop_sqe(srv->loop, &srv->accept_op);
	io_uring_prep_accept(sqe, srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	srv->accept_armed = true;
}

void http_server_init(struct http_server *srv, struct loop *loop, int listen_fd,
		      http_handler_fn handler, void *ctx)
{
	*srv = (struct http_server){
		.loop = loop, .listen_fd = listen_fd, .handler = handler, .ctx = ctx,
		.accept_op.complete = server_accept_done,
	};
	server_arm_accept(srv);
}

void http_server_destroy(struct http_server *srv)
{
	for (unsigned i = 0; i < HTTP_MAX_CLIENTS; i++)
		if (srv->conns[i])
			conn_free(srv->conns[i]);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	srv->listen_fd = -1;
}

int http_listen_unix(const char *path, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(err, EINVAL, "--api-sock '%s': longer than a unix socket path may be "
				 "(%zu bytes)", path, sizeof(addr.sun_path) - 1);
	strcpy(addr.sun_path, path);
	/* A socket left by an earlier run is replaced, as Firecracker does; nothing else is. */
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return error_set(err, EEXIST, "--api-sock '%s': exists and is not a socket", path);
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_sys(err, errno, "cannot create the API socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, HTTP_MAX_CLIENTS)) {
		int e = errno;
		close(fd);
		return error_sys(err, e, "cannot listen on '%s'", path);
	}
	return fd;
}
