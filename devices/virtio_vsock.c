#include "devices/virtio_vsock.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/pci.h"
#include "services/util.h"

#define HOST_CID        2                   /* VMADDR_CID_HOST */
#define HDR             sizeof(struct virtio_vsock_hdr)
#define RXQ             0
#define TXQ             1
#define EVQ             2
#define MAX_PKT         (64 * 1024)         /* a packet's payload, either way */
#define FIRST_EPHEMERAL (1u << 30)          /* host ports ringvm picks for host clients */

struct vsock_tx_request {
	struct vreq req;
};

/* --- the transport: every call this device makes to it ---------------------------- */

static void vs_notify_used(struct virtio_vsock *vs, unsigned q)
{
	virtio_notify_used(&vs->vdev, q, vs->loop);
}

static void vs_needs_reset(struct virtio_vsock *vs, const struct virtq *vq)
{
	virtio_needs_reset(&vs->vdev, vq);
}

static bool vs_active(const struct virtio_vsock *vs)
{
	return vs->vdev.active;
}

/* --- byte rings ------------------------------------------------------------------- */

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The contiguous free space after the data. */
static uint8_t *ring_tail(const struct vsock_ring *r, uint32_t *n)
{
	uint32_t t = (r->head + r->len) % r->size;
	*n = min_u32(r->size - t, r->size - r->len);
	return r->buf + t;
}

/* The contiguous data from the head. */
static uint8_t *ring_data(const struct vsock_ring *r, uint32_t *n)
{
	*n = min_u32(r->len, r->size - r->head);
	return r->buf + r->head;
}

/* head + len stays where it was: a read in flight writes there. */
static void ring_consume(struct vsock_ring *r, uint32_t n)
{
	r->head = (r->head + n) % r->size;
	r->len -= n;
}

/* Copies n bytes from the head (not consumed) to dst. */
static void ring_peek(const struct vsock_ring *r, uint8_t *dst, uint32_t n)
{
	for (uint32_t done = 0; done < n;) {
		uint32_t off = (r->head + done) % r->size;
		uint32_t k = min_u32(n - done, r->size - off);
		memcpy(dst + done, r->buf + off, k);
		done += k;
	}
}

/* --- connections ------------------------------------------------------------------ */

static void schedule_flush(struct virtio_vsock *vs);
static void arm_accept(struct virtio_vsock *vs);
static void conn_arm_recv(struct vsock_conn *c);
static void conn_arm_send(struct vsock_conn *c);

/* What the guest may still take from us on c. */
static uint32_t conn_credit(const struct vsock_conn *c)
{
	uint32_t used = c->tx_cnt - c->peer_fwd_cnt;
	return used >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

static struct vsock_conn *conn_find(struct virtio_vsock *vs, uint32_t local, uint32_t peer)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vs->conns[i];
		if (c->state != VSOCK_FREE && c->state != VSOCK_DEAD && c->local_port == local &&
		    c->peer_port == peer)
			return c;
	}
	return NULL;
}

static bool port_in_use(struct virtio_vsock *vs, uint32_t local)
{
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].state != VSOCK_FREE && vs->conns[i].local_port == local)
			return true;
	return false;
}

/* A free slot with its buffers, or NULL (at the limit, or out of memory). */
static struct vsock_conn *conn_new(struct virtio_vsock *vs, enum vsock_conn_state state, int fd)
{
	if (vs->nr_conns == VSOCK_MAX_CONNS)
		return NULL;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vs->conns[i];
		if (c->state != VSOCK_FREE)
			continue;
		uint8_t *buf = malloc(2 * VSOCK_BUF + VSOCK_LINE_MAX);
		if (!buf)
			return NULL;
		struct loop_op recv_op = c->recv_op, send_op = c->send_op, connect_op = c->connect_op,
			       timer_op = c->timer_op;
		*c = (struct vsock_conn){
			.vs = vs, .state = state, .fd = fd,
			.recv_op = recv_op, .send_op = send_op, .connect_op = connect_op, .timer_op = timer_op,
			.in = { .buf = buf, .size = VSOCK_BUF },
			.out = { .buf = buf + VSOCK_BUF, .size = VSOCK_BUF + VSOCK_LINE_MAX },
		};
		vs->nr_conns++;
		return c;
	}
	return NULL;
}

/*
 * A dead connection's socket and buffers go once its operations are back (the kernel
 * may write into them until then); its slot once its RST, if any, is sent too.
 */
static void conn_release(struct vsock_conn *c)
{
	if (c->state != VSOCK_DEAD || c->ops)
		return;
	if (c->fd >= 0) {
		close(c->fd);
		/* A listener that ran out of file descriptors takes clients again. */
		if (c->vs->accept_stalled) {
			c->vs->accept_stalled = false;
			arm_accept(c->vs);
		}
	}
	c->fd = -1;
	free(c->in.buf);
	c->in.buf = c->out.buf = NULL;
	if (c->want_rst)
		return;
	c->state = VSOCK_FREE;
	c->vs->nr_conns--;
}

static void cancel_op(struct virtio_vsock *vs, struct loop_op *op)
{
	struct io_uring_sqe *sqe = loop_sqe(vs->loop, NULL);
	io_uring_prep_cancel(sqe, op, 0);
}

/*
 * Ends c: what it buffered is dropped, its socket closed once its operations are back;
 * rst sends the guest an RST if the guest knows of the connection.
 */
static void conn_kill(struct vsock_conn *c, bool rst)
{
	struct virtio_vsock *vs = c->vs;

	if (c->state == VSOCK_FREE || c->state == VSOCK_DEAD)
		return;
	if (c->state != VSOCK_OPEN)
		VIRTIO_COUNT(vs->counters.conns_refused, 1);
	else if (c->close_after_flush || c->shutdown_sent || c->guest_shut_send)
		VIRTIO_COUNT(vs->counters.conns_closed, 1);
	else
		VIRTIO_COUNT(vs->counters.conns_reset, 1);
	bool guest_knows = c->state == VSOCK_OPEN || c->state == VSOCK_GUEST_CONNECTING ||
			   (c->state == VSOCK_HOST_WAIT && !c->want_request);
	c->state = VSOCK_DEAD;
	c->want_request = c->want_response = false;
	c->want_credit = c->want_credit_req = false;
	c->want_rst = rst && guest_knows && vs_active(vs);
	if (c->receiving)
		cancel_op(vs, &c->recv_op);
	if (c->sending)
		cancel_op(vs, &c->send_op);
	if (c->timing)
		cancel_op(vs, &c->timer_op);
	if (c->ops > (unsigned)c->receiving + (unsigned)c->sending + (unsigned)c->timing)
		cancel_op(vs, &c->connect_op);
	c->in.len = c->out.len = 0;
	if (c->want_rst)
		schedule_flush(vs);
	conn_release(c);
}

/* All done both ways: the guest's RST ends it there too. */
static void conn_check_done(struct vsock_conn *c)
{
	if (c->state != VSOCK_OPEN || c->out.len)
		return;
	if (c->close_after_flush || (c->guest_shut_send && c->host_eof && !c->in.len && c->shutdown_sent))
		conn_kill(c, true);
}

static void conn_op_back(struct vsock_conn *c)
{
	c->ops--;
	conn_release(c);
}

/* A host client's guest did not answer in time: the client is closed, the guest reset. */
static void timer_done(struct loop_op *op, int res, unsigned flags)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, timer_op);

	(void)flags;
	c->timing = false;
	if (c->state == VSOCK_DEAD) {
		conn_op_back(c);
		return;
	}
	c->ops--;
	if (res == -ETIME && c->state == VSOCK_HOST_WAIT)
		conn_kill(c, true);
}

static void conn_arm_timer(struct vsock_conn *c)
{
	if (loop_closing(c->vs->loop))
		return;
	c->timeout = (struct __kernel_timespec){
		.tv_sec = VSOCK_CONNECT_MS / 1000, .tv_nsec = VSOCK_CONNECT_MS % 1000 * 1000000L,
	};
	struct io_uring_sqe *sqe = loop_sqe(c->vs->loop, &c->timer_op);
	io_uring_prep_timeout(sqe, &c->timeout, 0, 0);
	c->timing = true;
	c->ops++;
}

static void recv_done(struct loop_op *op, int res, unsigned flags)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, recv_op);

	(void)flags;
	c->receiving = false;
	if (c->state == VSOCK_DEAD || res == -ECANCELED) {
		conn_op_back(c);
		return;
	}
	c->ops--;
	if (res < 0) {
		conn_kill(c, true);
		return;
	}
	if (!res) {
		c->host_eof = true;
		if (c->state != VSOCK_OPEN)
			conn_kill(c, true);
		else
			schedule_flush(c->vs);
		return;
	}
	c->in.len += (uint32_t)res;
	if (c->state == VSOCK_HOST_LINE) {
		char line[VSOCK_LINE_MAX + 1];
		uint32_t n = min_u32(c->in.len, VSOCK_LINE_MAX);
		ring_peek(&c->in, (uint8_t *)line, n);
		char *nl = memchr(line, '\n', n);
		if (!nl) {
			if (n == VSOCK_LINE_MAX)
				conn_kill(c, false);    /* no line this long is a CONNECT */
			else
				conn_arm_recv(c);
			return;
		}
		uint32_t used = (uint32_t)(nl - line) + 1;
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		char *end;
		const char *num = line + 8;
		unsigned long port = 0;
		bool ok = !strncasecmp(line, "CONNECT ", 8) && *num >= '0' && *num <= '9';
		if (ok) {
			errno = 0;
			port = strtoul(num, &end, 10);
			ok = !*end && !errno && port <= UINT32_MAX;
		}
		if (!ok) {
			conn_kill(c, false);
			return;
		}
		ring_consume(&c->in, used);
		struct virtio_vsock *vs = c->vs;
		uint32_t local;
		do {
			local = vs->next_port++;
			if (vs->next_port < FIRST_EPHEMERAL)
				vs->next_port = FIRST_EPHEMERAL;
		} while (port_in_use(vs, local));
		c->local_port = local;
		c->peer_port = (uint32_t)port;
		c->state = VSOCK_HOST_WAIT;
		c->want_request = true;
		conn_arm_timer(c);
	}
	schedule_flush(c->vs);
	conn_arm_recv(c);
}

static void conn_arm_recv(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;
	uint32_t n;

	if (c->receiving || c->host_eof || c->guest_shut_rcv || loop_closing(vs->loop) ||
	    (c->state != VSOCK_HOST_LINE && c->state != VSOCK_HOST_WAIT && c->state != VSOCK_OPEN))
		return;
	uint8_t *p = ring_tail(&c->in, &n);
	if (c->state == VSOCK_HOST_LINE)
		n = min_u32(n, VSOCK_LINE_MAX - c->in.len);
	if (!n)
		return;
	struct io_uring_sqe *sqe = loop_sqe(vs->loop, &c->recv_op);
	io_uring_prep_recv(sqe, c->fd, p, n, 0);
	c->receiving = true;
	c->ops++;
}

static void send_done(struct loop_op *op, int res, unsigned flags)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, send_op);

	(void)flags;
	c->sending = false;
	if (c->state == VSOCK_DEAD || res == -ECANCELED) {
		conn_op_back(c);
		return;
	}
	c->ops--;
	if (res <= 0) {
		conn_kill(c, true);             /* the host side is gone */
		return;
	}
	uint32_t n = (uint32_t)res, from_line = min_u32(n, c->line_left);
	ring_consume(&c->out, n);
	c->line_left -= from_line;
	c->fwd_cnt += n - from_line;
	VIRTIO_COUNT(c->vs->counters.bytes_to_host, n - from_line);
	/* Told often enough that the guest never waits on credit we have (a quarter). */
	if (c->fwd_cnt - c->fwd_told >= VSOCK_BUF / 4) {
		c->want_credit = true;
		schedule_flush(c->vs);
	}
	conn_arm_send(c);
}

static void shut_done(struct loop_op *op, int res, unsigned flags)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, connect_op);

	(void)res, (void)flags;
	conn_op_back(c);
}

static void conn_arm_send(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;
	uint32_t n;

	if (c->sending || c->state != VSOCK_OPEN || loop_closing(vs->loop))
		return;
	if (!c->out.len) {
		/* The guest will send no more: the host reads EOF once it has everything. */
		if (c->guest_shut_send && !c->close_after_flush && !c->host_shut) {
			c->host_shut = true;
			c->connect_op.complete = shut_done;
			struct io_uring_sqe *sqe = loop_sqe(vs->loop, &c->connect_op);
			io_uring_prep_shutdown(sqe, c->fd, SHUT_WR);
			c->ops++;
		}
		conn_check_done(c);
		return;
	}
	uint8_t *p = ring_data(&c->out, &n);
	struct io_uring_sqe *sqe = loop_sqe(vs->loop, &c->send_op);
	io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL);
	c->sending = true;
	c->ops++;
}

/* Guest-initiated: the socket, then the connection to <uds>_P. */
static void connect_done(struct loop_op *op, int res, unsigned flags)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, connect_op);

	(void)flags;
	if (c->state == VSOCK_DEAD || res == -ECANCELED) {
		conn_op_back(c);
		return;
	}
	c->ops--;
	if (res < 0) {
		conn_kill(c, true);             /* nobody listens there: the guest gets an RST */
		return;
	}
	c->state = VSOCK_OPEN;
	VIRTIO_COUNT(c->vs->counters.conns_opened, 1);
	c->want_response = true;
	schedule_flush(c->vs);
	conn_arm_recv(c);
}

static void socket_done(struct loop_op *op, int res, unsigned flags)
{
	struct vsock_conn *c = container_of(op, struct vsock_conn, connect_op);

	(void)flags;
	if (res >= 0)
		c->fd = res;                    /* closed with the connection, whatever happens */
	if (c->state == VSOCK_DEAD || res == -ECANCELED || loop_closing(c->vs->loop)) {
		conn_op_back(c);
		return;
	}
	if (res < 0) {
		c->ops--;
		conn_kill(c, true);
		return;
	}
	c->connect_op.complete = connect_done;
	struct io_uring_sqe *sqe = loop_sqe(c->vs->loop, &c->connect_op);
	io_uring_prep_connect(sqe, c->fd, (struct sockaddr *)&c->addr, sizeof(c->addr));
}

/* --- host clients ----------------------------------------------------------------- */

static void accept_done(struct loop_op *op, int res, unsigned flags)
{
	struct virtio_vsock *vs = container_of(op, struct virtio_vsock, accept_op);

	(void)flags;
	vs->accepting = false;
	if (res >= 0) {
		struct vsock_conn *c = loop_closing(vs->loop) ? NULL : conn_new(vs, VSOCK_HOST_LINE, res);
		if (!c) {
			close(res);             /* at the limit: this client only is refused */
			VIRTIO_COUNT(vs->counters.conns_refused, 1);
		} else {
			conn_arm_recv(c);
		}
	}
	/*
	 * Out of file descriptors (or another failure), retrying at once would spin: the
	 * listener waits for a connection to close instead.
	 */
	if (res >= 0 || res == -ECONNABORTED || res == -EINTR || res == -EAGAIN || res == -EPROTO)
		arm_accept(vs);
	else if (res != -ECANCELED)
		vs->accept_stalled = true;
}

static void arm_accept(struct virtio_vsock *vs)
{
	if (vs->accepting || vs->listen_fd < 0 || loop_closing(vs->loop))
		return;
	struct io_uring_sqe *sqe = loop_sqe(vs->loop, &vs->accept_op);
	io_uring_prep_accept(sqe, vs->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	vs->accepting = true;
}

static void start_work(struct loop_work *work)
{
	arm_accept(container_of(work, struct virtio_vsock, start_work));
}

/* --- receive: packets to the guest ---------------------------------------------------- */

static bool conn_data_ready(const struct vsock_conn *c)
{
	return c->state == VSOCK_OPEN && c->in.len && !c->guest_shut_rcv && conn_credit(c);
}

static bool conn_has_work(const struct vsock_conn *c)
{
	if (c->state == VSOCK_DEAD)
		return c->want_rst;
	if (c->state == VSOCK_FREE)
		return false;
	return c->want_request || c->want_response || c->want_credit || c->want_credit_req ||
	       conn_data_ready(c) ||
	       (c->state == VSOCK_OPEN && c->host_eof && !c->in.len && !c->shutdown_sent);
}

static void fill_hdr(struct virtio_vsock *vs, struct virtio_vsock_hdr *h, uint32_t local,
		     uint32_t peer, uint16_t type, uint16_t op)
{
	*h = (struct virtio_vsock_hdr){
		.src_cid = htole64(HOST_CID), .dst_cid = htole64(vs->cfg.guest_cid),
		.src_port = htole32(local), .dst_port = htole32(peer),
		.type = htole16(type), .op = htole16(op), .buf_alloc = htole32(VSOCK_BUF),
	};
}

/* Writes c's most urgent packet into chain; returns its length. */
static uint32_t conn_emit(struct vsock_conn *c, const struct virtq_chain *chain)
{
	struct virtio_vsock *vs = c->vs;
	struct virtio_vsock_hdr h;
	uint32_t len = 0;
	uint16_t op;

	if (c->state == VSOCK_DEAD) {
		op = VIRTIO_VSOCK_OP_RST;
		c->want_rst = false;
	} else if (c->want_request) {
		op = VIRTIO_VSOCK_OP_REQUEST;
		c->want_request = false;
	} else if (c->want_response) {
		op = VIRTIO_VSOCK_OP_RESPONSE;
		c->want_response = false;
	} else if (conn_data_ready(c) && chain->in_len > HDR) {
		uint32_t room = chain->in_len - HDR > MAX_PKT ? MAX_PKT : (uint32_t)(chain->in_len - HDR);
		op = VIRTIO_VSOCK_OP_RW;
		len = min_u32(min_u32(c->in.len, conn_credit(c)), room);
		for (uint32_t done = 0; done < len;) {
			uint32_t n;
			const uint8_t *p = ring_data(&c->in, &n);
			n = min_u32(n, len - done);
			virtq_chain_write(chain, HDR + done, p, n);
			ring_consume(&c->in, n);
			done += n;
		}
		c->tx_cnt += len;
		VIRTIO_COUNT(vs->counters.bytes_to_guest, len);
	} else if (c->state == VSOCK_OPEN && c->host_eof && !c->in.len && !c->shutdown_sent) {
		op = VIRTIO_VSOCK_OP_SHUTDOWN;
		c->shutdown_sent = true;
	} else if (c->want_credit_req) {
		op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		c->want_credit_req = false;
	} else {
		op = VIRTIO_VSOCK_OP_CREDIT_UPDATE;     /* asked for, or a chain too small for data */
	}
	fill_hdr(vs, &h, c->local_port, c->peer_port, VIRTIO_VSOCK_TYPE_STREAM, op);
	h.len = htole32(len);
	h.fwd_cnt = htole32(c->fwd_cnt);
	if (op == VIRTIO_VSOCK_OP_SHUTDOWN)
		h.flags = htole32(VIRTIO_VSOCK_SHUTDOWN_SEND);
	c->fwd_told = c->fwd_cnt;
	c->want_credit = false;
	virtq_chain_write(chain, 0, &h, HDR);
	if (op == VIRTIO_VSOCK_OP_RW) {
		/* Stuck on the guest's credit with data to give: ask, once. */
		if (c->in.len && !conn_credit(c) && !c->credit_req_sent)
			c->want_credit_req = c->credit_req_sent = true;
		conn_arm_recv(c);
	}
	if (op == VIRTIO_VSOCK_OP_RST)
		conn_release(c);
	else
		conn_check_done(c);
	return (uint32_t)HDR + len;
}

static void rx_flush(struct virtio_vsock *vs)
{
	struct virtq *vq = vs->rxq;

	if (!vs_active(vs) || !vq || vq->broken)
		return;
	for (;;) {
		struct vsock_conn *c = NULL;
		for (unsigned i = 0; !vs->nr_orphans && i < VSOCK_MAX_CONNS; i++) {
			struct vsock_conn *t = &vs->conns[(vs->rr + i) % VSOCK_MAX_CONNS];
			if (conn_has_work(t)) {
				c = t;
				vs->rr = (unsigned)(t - vs->conns + 1) % VSOCK_MAX_CONNS;
				break;
			}
		}
		if (!c && !vs->nr_orphans)
			return;
		if (!virtq_pending(vq) && !virtq_enable_notify(vq))
			return;                 /* the guest's next rx buffers resume us */
		struct virtq_chain *chain = &vs->rx_chain;
		int got = virtq_pop(vq, chain);
		if (got < 0) {
			vs_needs_reset(vs, vq);
			return;
		}
		if (!got)
			return;
		if (chain->nr_out || chain->in_len < HDR) {
			snprintf(vq->error, sizeof(vq->error), "rx chain of %llu readable and %llu "
				 "writable bytes", (unsigned long long)chain->out_len,
				 (unsigned long long)chain->in_len);
			vq->broken = true;
			vs_needs_reset(vs, vq);
			return;
		}
		uint32_t len;
		if (c) {
			len = conn_emit(c, chain);
		} else {
			struct vsock_orphan *o = &vs->orphans[--vs->nr_orphans];
			struct virtio_vsock_hdr h;
			fill_hdr(vs, &h, o->local_port, o->peer_port, o->type, VIRTIO_VSOCK_OP_RST);
			virtq_chain_write(chain, 0, &h, HDR);
			len = HDR;
		}
		virtq_push(vq, chain->head, len);
		loop_after_batch(vs->loop, &vs->rx_notify_work);
	}
}

static void flush_work(struct loop_work *work)
{
	rx_flush(container_of(work, struct virtio_vsock, flush_work));
}

static void schedule_flush(struct virtio_vsock *vs)
{
	loop_after_batch(vs->loop, &vs->flush_work);
}

static void rx_notify_batch(struct loop_work *work)
{
	vs_notify_used(container_of(work, struct virtio_vsock, rx_notify_work), RXQ);
}

/* --- transmit: packets from the guest ------------------------------------------------ */

/* An RST for a packet that matches no connection; dropped when too many wait. */
static void orphan_rst(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h)
{
	if (le16toh(h->op) == VIRTIO_VSOCK_OP_RST || vs->nr_orphans == VSOCK_ORPHAN_RSTS)
		return;
	vs->orphans[vs->nr_orphans++] = (struct vsock_orphan){
		.local_port = le32toh(h->dst_port), .peer_port = le32toh(h->src_port),
		.type = le16toh(h->type),
	};
	schedule_flush(vs);
}

static void guest_connect(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h)
{
	struct vsock_conn *c = conn_new(vs, VSOCK_GUEST_CONNECTING, -1);

	if (!c) {
		VIRTIO_COUNT(vs->counters.conns_refused, 1);
		orphan_rst(vs, h);
		return;
	}
	c->local_port = le32toh(h->dst_port);
	c->peer_port = le32toh(h->src_port);
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->addr.sun_family = AF_UNIX;
	snprintf(c->addr.sun_path, sizeof(c->addr.sun_path), "%s_%u", vs->cfg.uds_path, c->local_port);
	c->connect_op.complete = socket_done;
	struct io_uring_sqe *sqe = loop_sqe(vs->loop, &c->connect_op);
	io_uring_prep_socket(sqe, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, 0);
	c->ops++;
}

/* The guest's data on c: into the out ring, within the credit we gave it. */
static void guest_data(struct vsock_conn *c, const struct virtq_chain *chain, uint32_t len)
{
	uint32_t buffered = c->out.len - c->line_left;

	if (c->guest_shut_send)
		return;
	if (len > VSOCK_BUF - buffered) {
		conn_kill(c, true);             /* more than it had credit for */
		return;
	}
	for (uint32_t done = 0; done < len;) {
		uint32_t n;
		uint8_t *p = ring_tail(&c->out, &n);
		n = min_u32(n, len - done);
		virtq_chain_read(chain, HDR + done, p, n);
		c->out.len += n;
		done += n;
	}
	conn_arm_send(c);
}

static void guest_packet(struct virtio_vsock *vs, const struct virtq_chain *chain)
{
	struct virtio_vsock_hdr h;

	if (chain->nr_in || chain->out_len < HDR) {
		VIRTIO_COUNT(vs->counters.dropped, 1);
		return;
	}
	virtq_chain_read(chain, 0, &h, HDR);
	uint16_t op = le16toh(h.op), type = le16toh(h.type);
	uint32_t len = le32toh(h.len);
	/* Not from this guest or not to the host: nobody to answer. */
	if (le64toh(h.src_cid) != vs->cfg.guest_cid || le64toh(h.dst_cid) != HOST_CID) {
		VIRTIO_COUNT(vs->counters.dropped, 1);
		return;
	}
	struct vsock_conn *c = conn_find(vs, le32toh(h.dst_port), le32toh(h.src_port));
	bool bad = type != VIRTIO_VSOCK_TYPE_STREAM || len > chain->out_len - HDR || len > MAX_PKT ||
		   (len && op != VIRTIO_VSOCK_OP_RW) || op < VIRTIO_VSOCK_OP_REQUEST ||
		   op > VIRTIO_VSOCK_OP_CREDIT_REQUEST;
	if (bad) {
		VIRTIO_COUNT(vs->counters.dropped, 1);
		if (c)
			conn_kill(c, true);
		else
			orphan_rst(vs, &h);
		return;
	}
	if (!c) {
		if (op == VIRTIO_VSOCK_OP_REQUEST)
			guest_connect(vs, &h);
		else
			orphan_rst(vs, &h);
		return;
	}
	c->peer_buf_alloc = le32toh(h.buf_alloc);
	c->peer_fwd_cnt = le32toh(h.fwd_cnt);
	if (conn_credit(c)) {
		c->credit_req_sent = false;
		if (c->in.len)
			schedule_flush(vs);
	}
	switch (op) {
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != VSOCK_HOST_WAIT || c->want_request) {
			conn_kill(c, true);
			break;
		}
		c->state = VSOCK_OPEN;
		VIRTIO_COUNT(vs->counters.conns_opened, 1);
		if (c->timing)
			cancel_op(vs, &c->timer_op);
		/* The host client's answer goes first, ahead of anything the guest sends. */
		c->out.head = 0;                /* empty until now: the line is contiguous */
		int n = snprintf((char *)c->out.buf, VSOCK_LINE_MAX, "OK %u\n", c->local_port);
		c->out.len = c->line_left = (uint32_t)n;
		conn_arm_send(c);
		schedule_flush(vs);             /* what the client sent early */
		break;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != VSOCK_OPEN)
			conn_kill(c, true);
		else if (len)
			guest_data(c, chain, len);
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN: {
		uint32_t f = le32toh(h.flags);
		if (c->state != VSOCK_OPEN) {
			conn_kill(c, true);
			break;
		}
		c->guest_shut_send |= !!(f & VIRTIO_VSOCK_SHUTDOWN_SEND);
		c->guest_shut_rcv |= !!(f & VIRTIO_VSOCK_SHUTDOWN_RCV);
		if (c->guest_shut_rcv)
			c->in.len = 0;          /* it reads no more: nothing is owed */
		if (c->guest_shut_send && c->guest_shut_rcv)
			c->close_after_flush = true;
		conn_arm_send(c);
		break;
	}
	case VIRTIO_VSOCK_OP_RST:
		conn_kill(c, false);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->want_credit = true;
		schedule_flush(vs);
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		break;
	default:    /* REQUEST for a connection that exists */
		conn_kill(c, true);
		break;
	}
}

static int tx_start(void *dev, struct vreq *req)
{
	guest_packet(dev, &req->chain);
	vreq_complete(req, 0);
	return 0;
}

/* --- the device ------------------------------------------------------------------- */

static void vsock_queue_notify(void *impl, unsigned q, struct virtq *vq)
{
	struct virtio_vsock *vs = impl;

	if (q == RXQ) {
		vs->rxq = vq;
		rx_flush(vs);
	} else if (q == TXQ) {
		vreq_queue_notify(&vs->txq, vq);
	}
	/* The event queue's buffers stay with us: no event is ever sent (see vsock_reset). */
}

static void vsock_config_read(void *impl, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_vsock *vs = impl;
	struct virtio_vsock_config cfg = { .guest_cid = htole64(vs->cfg.guest_cid) };

	memcpy(data, (const uint8_t *)&cfg + offset, len);
}

static void vsock_config_write(void *impl, uint32_t offset, const uint8_t *data, uint32_t len)
{
	(void)impl, (void)offset, (void)data, (void)len;   /* the CID is read-only */
}

static int vsock_activate(void *impl, uint64_t features)
{
	struct virtio_vsock *vs = impl;

	(void)features;
	loop_post(vs->loop, &vs->start_work);
	return 0;
}

/*
 * A reset ends every connection (host sockets closed once their operations are back;
 * they never touch guest memory). TRANSPORT_RESET is for a driver whose connections
 * outlive a change of the device under it (migration); after a reset it has no queues.
 */
static bool vsock_reset(void *impl, unsigned q)
{
	struct virtio_vsock *vs = impl;

	if (q == TXQ)
		return vreq_queue_reset(&vs->txq);
	if (q == RXQ) {
		vs->rxq = NULL;
		vs->nr_orphans = 0;
		for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
			struct vsock_conn *c = &vs->conns[i];
			conn_kill(c, false);
			c->want_rst = false;
			conn_release(c);
		}
	}
	return true;
}

static const struct virtio_device_ops vsock_ops = {
	.queue_notify = vsock_queue_notify,
	.config_read = vsock_config_read,
	.config_write = vsock_config_write,
	.activate = vsock_activate,
	.reset = vsock_reset,
};

int virtio_vsock_open(struct vsock_listener *l, const struct vsock_config *cfg, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = cfg->uds_path;
	struct stat st;

	l->fd = -1;
	if (cfg->guest_cid < 3 || cfg->guest_cid > UINT32_MAX - 1)
		return error_set(err, EINVAL, "--vsock: cid=%llu: must be between 3 and %u",
				 (unsigned long long)cfg->guest_cid, UINT32_MAX - 1);
	if (!path[0] || strlen(path) > VSOCK_UDS_MAX)
		return error_set(err, EINVAL, "--vsock: uds='%s': must be 1 to %zu bytes (with \"_PORT\" "
				 "it names the guest's connections' sockets)", path, VSOCK_UDS_MAX);
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return error_set(err, EEXIST, "--vsock: '%s' exists and is not a socket", path);
		unlink(path);           /* a stale socket of an earlier run */
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_sys(err, errno, "--vsock: cannot make a unix socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, VSOCK_MAX_CONNS)) {
		int e = errno;
		close(fd);
		if (e == ENOENT || e == ENOTDIR)
			return error_set(err, e, "--vsock: uds='%s': its directory does not exist", path);
		return error_sys(err, e, "--vsock: cannot listen on '%s'", path);
	}
	l->fd = fd;
	return 0;
}

void virtio_vsock_close(struct vsock_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

int virtio_vsock_init(struct virtio_vsock *vs, const struct vsock_config *cfg,
		      struct vsock_listener *l, struct guest_memory *mem, struct loop *loop,
		      int vm_fd, struct error *err)
{
	memset(vs, 0, sizeof(*vs));
	vs->cfg = *cfg;
	vs->loop = loop;
	vs->listen_fd = l->fd;
	l->fd = -1;
	vs->accept_op.complete = accept_done;
	vs->start_work.run = start_work;
	vs->flush_work.run = flush_work;
	vs->rx_notify_work.run = rx_notify_batch;
	vs->next_port = FIRST_EPHEMERAL;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		vs->conns[i].fd = -1;
		vs->conns[i].recv_op.complete = recv_done;
		vs->conns[i].send_op.complete = send_done;
		vs->conns[i].timer_op.complete = timer_done;
	}
	struct virtio_device_info info = {
		.name = "virtio-vsock", .type = VIRTIO_ID_VSOCK, .pci_class = PCI_CLASS_CODE_UNASSIGNED,
		.num_queues = 3, .config_size = sizeof(struct virtio_vsock_config),
	};
	int r = virtio_dev_init(&vs->vdev, &info, &vsock_ops, vs, mem, &loop, 1, vm_fd);
	if (!r)
		r = vreq_queue_init(&vs->txq, &vs->vdev, TXQ, loop, sizeof(struct vsock_tx_request),
				    offsetof(struct vsock_tx_request, req), tx_start, vs);
	return r ? error_sys(err, -r, "cannot create virtio-vsock") : 0;
}

void virtio_vsock_counters(const struct virtio_vsock *vs, struct virtio_vsock_counters *out)
{
	virtio_counters_snapshot(out, &vs->counters, sizeof(*out));
}

void virtio_vsock_destroy(struct virtio_vsock *vs)
{
	virtio_dev_destroy(&vs->vdev);
	vreq_queue_destroy(&vs->txq);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vs->conns[i];
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		free(c->in.buf);
		c->in.buf = NULL;
	}
	if (vs->listen_fd >= 0)
		close(vs->listen_fd);
	vs->listen_fd = -1;
}
