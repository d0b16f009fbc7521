/*
 * virtio-vsock stream sockets (virtio 1.2, 5.10) on Firecracker's hybrid unix-socket
 * backend: a host client connects to uds_path and sends "CONNECT <port>\n"; once the
 * guest accepts, it reads "OK <host port>\n" and the stream is spliced. A guest
 * connecting to host (CID 2) port P reaches a listener at "<uds_path>_P". Every
 * socket operation goes through the device's io_uring; each connection buffers at
 * most VSOCK_BUF bytes each way, and there are at most VSOCK_MAX_CONNS of them.
 */
#ifndef RINGVM_VIRTIO_VSOCK_H
#define RINGVM_VIRTIO_VSOCK_H

#include <linux/virtio_vsock.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "devices/virtio_dev.h"
#include "devices/virtio_req.h"
#include "services/error.h"

#define VSOCK_MAX_CONNS   64                /* host- and guest-initiated together */
#define VSOCK_BUF         (64 * 1024)       /* per connection and direction; our buf_alloc */
#define VSOCK_LINE_MAX    32                /* "CONNECT 4294967295\r\n" fits */
#define VSOCK_ORPHAN_RSTS 16                /* resets for packets that match no connection */
#define VSOCK_CONNECT_MS  2000              /* a host client's wait for the guest to accept */
#define VSOCK_UDS_MAX     (sizeof(((struct sockaddr_un *)0)->sun_path) - sizeof("_4294967295"))

struct vsock_config {
	bool enabled;
	uint64_t guest_cid;         /* >= 3 */
	char uds_path[VSOCK_UDS_MAX + 1];
};

enum vsock_conn_state {
	VSOCK_FREE,
	VSOCK_HOST_LINE,            /* a host client: its CONNECT line is being read */
	VSOCK_HOST_WAIT,            /* its REQUEST is for the guest to answer */
	VSOCK_GUEST_CONNECTING,     /* the guest's REQUEST: connecting to <uds>_P */
	VSOCK_OPEN,
	VSOCK_DEAD,                 /* closed: waits for its operations to come back */
};

struct virtio_vsock;

/* A byte ring: the connection's buffer in one direction. */
struct vsock_ring {
	uint8_t *buf;
	uint32_t size, head, len;
};

struct vsock_conn {
	struct virtio_vsock *vs;
	enum vsock_conn_state state;
	int fd;
	uint32_t local_port;        /* the host's side (CID 2) */
	uint32_t peer_port;         /* the guest's side */
	unsigned ops;               /* operations in flight */
	struct loop_op recv_op, send_op, connect_op, timer_op;
	bool receiving, sending, timing;
	struct __kernel_timespec timeout;   /* the guest's time to answer a host client */
	struct sockaddr_un addr;    /* a guest-initiated connection's target */

	struct vsock_ring in;       /* host -> guest */
	struct vsock_ring out;      /* guest -> host; starts with our "OK" line, if any */
	uint32_t line_left;         /* bytes of that line not yet sent (not the guest's) */

	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;  /* the guest's credit for us */
	uint32_t fwd_cnt, fwd_told;                     /* what we passed on; last told */

	bool host_eof;              /* the host will send no more */
	bool guest_shut_send, guest_shut_rcv;
	/* Packets owed to the guest, sent as rx buffers come. */
	bool want_request, want_response, want_rst, want_credit, want_credit_req;
	bool shutdown_sent, credit_req_sent;
	bool host_shut;             /* our SHUT_WR of the host socket is issued */
	bool close_after_flush;     /* the guest shut both ways: close once out is sent */
};

struct vsock_orphan {
	uint32_t local_port, peer_port;
	uint16_t type;
};

/* The connections and their bytes; counted on the device's thread (read from any). */
struct virtio_vsock_counters {
	uint64_t conns_opened;      /* either side's, once both ends agreed */
	uint64_t conns_refused;     /* ended (or never made) before they opened */
	uint64_t conns_closed;      /* open ones ended after either side's SHUTDOWN */
	uint64_t conns_reset;       /* open ones ended otherwise: RST, socket error, protocol breach */
	uint64_t bytes_to_guest, bytes_to_host;     /* stream bytes (not "OK" lines, not headers) */
	uint64_t dropped;           /* malformed packets ignored */
};

/* The listening socket, made before the VM exists. */
struct vsock_listener {
	int fd;
};

struct virtio_vsock {
	struct virtio_dev vdev;
	struct vsock_config cfg;
	struct loop *loop;
	int listen_fd;
	struct loop_op accept_op;
	bool accepting;
	bool accept_stalled;        /* accept failed (EMFILE...): retried when a socket closes */
	struct loop_work start_work;
	struct vreq_queue txq;
	struct virtq *rxq;          /* the live session's rx ring; NULL while reset */
	struct loop_work rx_notify_work, flush_work;
	struct virtq_chain rx_chain;    /* where rx chains are popped */
	struct vsock_conn conns[VSOCK_MAX_CONNS];
	unsigned nr_conns;          /* slots not FREE */
	unsigned rr;                /* where the next rx round starts */
	uint32_t next_port;         /* the next ephemeral host port to try */
	struct vsock_orphan orphans[VSOCK_ORPHAN_RSTS];
	unsigned nr_orphans;
	struct virtio_vsock_counters counters;
};

/* Checks cfg (one line for a user's mistake) and listens on its uds_path; needs no VM. */
int virtio_vsock_open(struct vsock_listener *l, const struct vsock_config *cfg, struct error *err);

/* Closes a listener no device took. */
void virtio_vsock_close(struct vsock_listener *l);

/* Builds the device on listener l, which it takes (l->fd becomes -1) whether or not it succeeds. */
int virtio_vsock_init(struct virtio_vsock *vs, const struct vsock_config *cfg,
		      struct vsock_listener *l, struct guest_memory *mem, struct loop *loop,
		      int vm_fd, struct error *err);

/* A snapshot of the device's counters. */
void virtio_vsock_counters(const struct virtio_vsock *vs, struct virtio_vsock_counters *out);

/* Closes every socket; the I/O thread must have stopped. */
void virtio_vsock_destroy(struct virtio_vsock *vs);

#endif
