/*
 * An HTTP/1.1 server on a listening socket, served by one loop through io_uring
 * (accept, recv, send): Content-Length bodies, keep-alive, pipelining, a bounded
 * request size and a bounded number of clients. What a request means is the handler's.
 */
#ifndef RINGVM_HTTP_H
#define RINGVM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "services/loop.h"

#define HTTP_MAX_REQUEST (64 * 1024)   /* headers and body together */
#define HTTP_MAX_CLIENTS 16
#define HTTP_MAX_PATH    256

enum http_verb { HTTP_M_GET, HTTP_M_PUT, HTTP_M_PATCH, HTTP_M_OTHER };

struct http_request {
	enum http_verb method;
	char path[HTTP_MAX_PATH];   /* the URL's path, NUL-terminated, without any query */
	const char *body;           /* NUL-terminated; valid until the response is sent */
	size_t body_len;
};

struct http_conn;
struct http_server;

/* Answers req, now or later, by calling http_respond exactly once. */
typedef void (*http_handler_fn)(void *ctx, struct http_conn *conn, const struct http_request *req);

struct http_server {
	struct loop *loop;
	int listen_fd;              /* -1: clients are only adopted (tests) */
	struct loop_op accept_op;
	bool accept_armed;
	http_handler_fn handler;
	void *ctx;
	struct http_conn *conns[HTTP_MAX_CLIENTS];
	unsigned nr_conns;
	unsigned long accepted, refused;    /* counters for whoever reports them */
};

/* Serves listen_fd (or nothing, -1) on loop; the server takes the fd. Loop thread only. */
void http_server_init(struct http_server *srv, struct loop *loop, int listen_fd,
		      http_handler_fn handler, void *ctx);

/* Loop thread: serves an already connected socket as a client; -EBUSY when full. */
int http_server_adopt(struct http_server *srv, int fd);

/* Closes every client and the listening socket (after the loop has cancelled its ops). */
void http_server_destroy(struct http_server *srv);

/* Sends the answer to the request being handled: status, and a JSON body or NULL. */
void http_respond(struct http_conn *conn, int status, const char *json);

/* A unix stream socket listening at path (an existing socket file is replaced). */
int http_listen_unix(const char *path, struct error *err);

#endif
