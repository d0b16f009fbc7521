#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio_vsock.h"
#include "virtio_driver.h"

#define MiB      (1ULL << 20)
#define CID      3
#define HOST     2
#define F_V1     VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define HDR      sizeof(struct virtio_vsock_hdr)
#define RXQ      0
#define TXQ      1
#define EVQ      2
#define RXBUF    TD_BUFFERS                 /* 16 rx buffers of 4 KiB */
#define RXSIZE   0x1000
#define TXBUF    (TD_BUFFERS + 0x100000)    /* 16 tx slots of 128 KiB */
#define TXSLOT   0x20000
#define GUEST_BUF 65536                     /* the guest's buf_alloc unless a test says */

static struct test_rig rig;

/* strcpy that fails the test rather than truncate. */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	cr_assert_lt(n, size, "'%s' is too long", src);
	memcpy(dst, src, n + 1);
}

static struct virtio_vsock vs;
static char dir[64], uds[128];

static void post_rx(unsigned n)
{
	struct vring_avail *avail = avail_ring(&rig, RXQ);
	for (unsigned i = 0; i < n; i++) {
		uint64_t addr = RXBUF + (rig.next_desc[RXQ] % TD_QSIZE) * RXSIZE;
		uint16_t head = add_desc(&rig, RXQ, addr, RXSIZE, true, false);
		avail->ring[rig.avail_idx[RXQ] % TD_QSIZE] = head;
		avail->idx = ++rig.avail_idx[RXQ];
	}
	notify(&rig, RXQ);
}

static void setup(void)
{
	struct error err = { 0 };

	rig_init(&rig, 16 * MiB);
	strcpy(dir, "/tmp/ringvm-vsock-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	struct vsock_config cfg = { .enabled = true, .guest_cid = CID };
	strcpy(cfg.uds_path, uds);
	struct vsock_listener l;
	cr_assert_eq(virtio_vsock_open(&l, &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(virtio_vsock_init(&vs, &cfg, &l, &rig.mem, &rig.loop, -1, &err), 0,
		     "%s", err.msg);
	cr_assert_eq(l.fd, -1, "the device took the listener");
	rig_plug(&rig, &vs.vdev);
	cr_assert(negotiate(&rig, F_V1));
	setup_queue(&rig, RXQ);
	setup_queue(&rig, TXQ);
	setup_queue(&rig, EVQ);
	driver_ok(&rig);
	cr_assert_eq(device_status(&rig), TD_RUNNING);
	post_rx(TD_QSIZE);
	rig_settle(&rig);
}

static void rm_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

static void teardown(void)
{
	rig_fini(&rig);
	virtio_vsock_destroy(&vs);
	rm_dir();
}

TestSuite(virtio_vsock, .init = setup, .fini = teardown, .timeout = 60);

/* --- the guest's side ------------------------------------------------------------- */

static struct virtio_vsock_hdr pkt(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t len)
{
	return (struct virtio_vsock_hdr){
		.src_cid = CID, .dst_cid = HOST, .src_port = src_port, .dst_port = dst_port,
		.len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .buf_alloc = GUEST_BUF,
	};
}

/* The guest transmits h and len bytes of data (after the header, in the same buffer). */
static void tx_raw(const struct virtio_vsock_hdr *h, const void *data, size_t len)
{
	uint64_t addr = TXBUF + (rig.next_desc[TXQ] % TD_QSIZE) * TXSLOT;
	uint8_t *p = gpa(&rig, addr, HDR + len);
	memcpy(p, h, HDR);
	if (len)
		memcpy(p + HDR, data, len);
	uint16_t head = add_desc(&rig, TXQ, addr, (uint32_t)(HDR + len), false, false);
	kick(&rig, TXQ, head);
	cr_assert_eq(take_used(&rig, TXQ, NULL), 0, "a tx chain comes back with nothing written");
}

static void tx(uint32_t src_port, uint32_t dst_port, uint16_t op, const void *data, size_t len)
{
	struct virtio_vsock_hdr h = pkt(src_port, dst_port, op, (uint32_t)len);
	tx_raw(&h, data, len);
}

/* The next packet the device gives the guest: its header, and its payload into data. */
static uint32_t rx(struct virtio_vsock_hdr *h, void *data, size_t cap)
{
	uint16_t head;
	uint32_t len = take_used(&rig, RXQ, &head);
	struct vring_desc *d = gpa(&rig, ring_base(RXQ) + sizeof(*d) * head, sizeof(*d));
	uint8_t *p = gpa(&rig, d->addr, RXSIZE);
	cr_assert_geq(len, HDR, "a packet has its header");
	memcpy(h, p, HDR);
	cr_assert_eq(h->len, len - HDR, "the header's len is the payload's");
	cr_assert_leq(h->len, cap);
	if (data)
		memcpy(data, p + HDR, h->len);
	cr_assert_eq(h->src_cid, HOST);
	cr_assert_eq(h->dst_cid, CID);
	if (h->op != VIRTIO_VSOCK_OP_RST)       /* an RST answers in the type it was asked */
		cr_assert_eq(h->type, VIRTIO_VSOCK_TYPE_STREAM);
	cr_assert_eq(h->buf_alloc, VSOCK_BUF);
	post_rx(1);
	return h->len;
}

/* The next packet, which must be op. */
static struct virtio_vsock_hdr rx_op(uint16_t op)
{
	struct virtio_vsock_hdr h;
	uint8_t data[RXSIZE];
	rx(&h, data, sizeof(data));
	cr_assert_eq(h.op, op, "op %u where %u was expected", h.op, op);
	return h;
}

/* No packet for the guest within ms. */
static void rx_none(int ms)
{
	volatile struct vring_used *used = gpa(&rig, ring_base(RXQ) + TD_USED, sizeof(*used));
	int64_t end = rig_now_ms() + ms;
	while (rig_now_ms() < end)
		loop_poll(&rig.loop, 10);
	cr_assert_eq(used->idx, rig.used_seen[RXQ], "an unexpected packet for the guest");
}

/* --- the host's side -------------------------------------------------------------- */

static int host_dial(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	copy_str(a.sun_path, sizeof(a.sun_path), path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s", strerror(errno));
	return fd;
}

static void host_send(int fd, const void *data, size_t len)
{
	cr_assert_eq(send(fd, data, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads exactly len bytes while the device runs; fails on EOF or timeout. */
static void host_read(int fd, void *buf, size_t len)
{
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);
		cr_assert_neq(n, 0, "EOF after %zu of %zu bytes", got, len);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		rig_poll_until(&rig, deadline, "host data");
	}
}

/* The device closes the host's socket (EOF or reset), with nothing before it. */
static void host_closed(int fd)
{
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	char b[64];
	for (;;) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return;
		cr_assert(n < 0, "data where a close was expected");
		rig_poll_until(&rig, deadline, "the host socket closed");
	}
}

static bool host_still_open(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
	return n < 0 && errno == EAGAIN;
}

/* A host client connected to guest port, accepted: the fd, and the host port in *local. */
static int host_open(uint32_t port, uint32_t *local)
{
	char line[64];
	int fd = host_dial(uds);
	int n = snprintf(line, sizeof(line), "connect %u\n", port);
	host_send(fd, line, (size_t)n);
	struct virtio_vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_REQUEST);
	cr_assert_eq(h.dst_port, port);
	cr_assert_geq(h.src_port, 1u << 30, "an ephemeral host port");
	*local = h.src_port;
	tx(port, h.src_port, VIRTIO_VSOCK_OP_RESPONSE, NULL, 0);
	char want[32], got[32] = { 0 };
	n = snprintf(want, sizeof(want), "OK %u\n", h.src_port);
	host_read(fd, got, (size_t)n);
	cr_assert_str_eq(got, want);
	return fd;
}

/* --- tests ------------------------------------------------------------------------ */

Test(virtio_vsock, config_has_the_guest_cid)
{
	cr_assert_eq(config_read(&rig, offsetof(struct virtio_vsock_config, guest_cid), 4), CID);
	cr_assert_eq(config_read(&rig, offsetof(struct virtio_vsock_config, guest_cid) + 4, 4), 0);
}

Test(virtio_vsock, host_connect_reaches_the_guest_and_bytes_flow_both_ways)
{
	uint32_t local;
	int fd = host_open(1234, &local);

	host_send(fd, "ping", 4);
	struct virtio_vsock_hdr h;
	char data[RXSIZE];
	cr_assert_eq(rx(&h, data, sizeof(data)), 4);
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(h.src_port, local);
	cr_assert_eq(h.dst_port, 1234);
	cr_assert_eq(memcmp(data, "ping", 4), 0);

	tx(1234, local, VIRTIO_VSOCK_OP_RW, "pong!", 5);
	char got[6] = { 0 };
	host_read(fd, got, 5);
	cr_assert_str_eq(got, "pong!");

	/* A second client gets a host port of its own. */
	uint32_t local2;
	int fd2 = host_open(1234, &local2);
	cr_assert_neq(local2, local);
	close(fd2);
	close(fd);
}

Test(virtio_vsock, data_sent_with_the_connect_line_is_kept)
{
	int fd = host_dial(uds);
	host_send(fd, "CONNECT 77\r\nearly", 17);
	struct virtio_vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_REQUEST);
	tx(77, h.src_port, VIRTIO_VSOCK_OP_RESPONSE, NULL, 0);
	char data[RXSIZE];
	struct virtio_vsock_hdr d;
	cr_assert_eq(rx(&d, data, sizeof(data)), 5);
	cr_assert_eq(memcmp(data, "early", 5), 0);
	close(fd);
}

Test(virtio_vsock, guest_refusal_closes_the_host_socket)
{
	int fd = host_dial(uds);
	host_send(fd, "Connect 99\n", 11);
	struct virtio_vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_REQUEST);
	tx(99, h.src_port, VIRTIO_VSOCK_OP_RST, NULL, 0);
	host_closed(fd);
	close(fd);
	rig_settle(&rig);
	cr_assert_eq(vs.nr_conns, 0, "everything freed");
}

Test(virtio_vsock, a_guest_that_never_answers_loses_the_client_in_time)
{
	int fd = host_dial(uds);
	host_send(fd, "CONNECT 31\n", 11);
	struct virtio_vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_REQUEST);
	int64_t start = rig_now_ms();
	host_closed(fd);
	int64_t waited = rig_now_ms() - start;
	cr_assert_geq(waited, VSOCK_CONNECT_MS - 100, "closed after %lld ms", (long long)waited);
	struct virtio_vsock_hdr r = rx_op(VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(r.src_port, h.src_port, "the guest forgets the request");
	rig_settle(&rig);
	cr_assert_eq(vs.nr_conns, 0);
	close(fd);

	/* An answer in time stops the clock. */
	uint32_t local;
	fd = host_open(31, &local);
	int64_t end = rig_now_ms() + VSOCK_CONNECT_MS + 500;
	while (rig_now_ms() < end)
		loop_poll(&rig.loop, 50);
	cr_assert(host_still_open(fd));
	close(fd);
}

Test(virtio_vsock, bad_connect_lines_close_that_socket_only)
{
	uint32_t local;
	int good = host_open(5, &local);
	int garbage = host_dial(uds), longline = host_dial(uds), badport = host_dial(uds);
	host_send(garbage, "HELLO 5\n", 8);
	char big[200];
	memset(big, 'A', sizeof(big));
	host_send(longline, big, sizeof(big));
	host_send(badport, "CONNECT 99999999999\n", 20);
	host_closed(garbage);
	host_closed(longline);
	host_closed(badport);
	rx_none(100);
	cr_assert(host_still_open(good));
	host_send(good, "x", 1);
	struct virtio_vsock_hdr h;
	char data[RXSIZE];
	cr_assert_eq(rx(&h, data, sizeof(data)), 1);
	close(garbage);
	close(longline);
	close(badport);
	close(good);
}

Test(virtio_vsock, guest_connects_to_a_host_listener)
{
	char path[160];
	snprintf(path, sizeof(path), "%s_5000", uds);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	strcpy(a.sun_path, path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 4), 0);

	tx(40000, 5000, VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	struct virtio_vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_RESPONSE);
	cr_assert_eq(h.src_port, 5000);
	cr_assert_eq(h.dst_port, 40000);
	int fd = accept(l, NULL, NULL);
	cr_assert_geq(fd, 0);

	tx(40000, 5000, VIRTIO_VSOCK_OP_RW, "hello", 5);
	char got[6] = { 0 };
	host_read(fd, got, 5);
	cr_assert_str_eq(got, "hello");
	host_send(fd, "world", 5);
	char data[RXSIZE];
	cr_assert_eq(rx(&h, data, sizeof(data)), 5);
	cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RW);
	cr_assert_eq(memcmp(data, "world", 5), 0);

	/* The host closes: the guest is told it will get no more. */
	close(fd);
	h = rx_op(VIRTIO_VSOCK_OP_SHUTDOWN);
	cr_assert(h.flags & VIRTIO_VSOCK_SHUTDOWN_SEND);
	close(l);
}

Test(virtio_vsock, guest_connect_without_listener_is_reset)
{
	tx(40001, 6000, VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	struct virtio_vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(h.src_port, 6000);
	cr_assert_eq(h.dst_port, 40001);
	rig_settle(&rig);
	cr_assert_eq(vs.nr_conns, 0);
}

Test(virtio_vsock, never_more_than_the_guests_credit)
{
	int fd = host_dial(uds);
	host_send(fd, "CONNECT 8\n", 10);
	struct virtio_vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_REQUEST);
	uint32_t local = h.src_port;
	struct virtio_vsock_hdr resp = pkt(8, local, VIRTIO_VSOCK_OP_RESPONSE, 0);
	resp.buf_alloc = 1000;
	tx_raw(&resp, NULL, 0);
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", local);
	host_read(fd, ok, (size_t)n);

	static char big[5000];
	memset(big, 'z', sizeof(big));
	host_send(fd, big, sizeof(big));
	uint32_t got = 0;
	char data[RXSIZE];
	bool asked = false;
	while (got < 1000) {
		rx(&h, data, sizeof(data));
		if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
			asked = true;
			continue;
		}
		cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RW);
		got += h.len;
	}
	cr_assert_eq(got, 1000, "exactly the credit, not more");
	/* Stuck on credit: the device asks once, and sends no data. */
	if (!asked)
		rx_op(VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	rx_none(150);

	/* The guest consumed 600: 600 more may come. */
	struct virtio_vsock_hdr upd = pkt(8, local, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
	upd.buf_alloc = 1000;
	upd.fwd_cnt = 600;
	tx_raw(&upd, NULL, 0);
	uint32_t more = 0;
	while (more < 600) {
		rx(&h, data, sizeof(data));
		cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RW);
		more += h.len;
	}
	cr_assert_eq(more, 600);
	rx_op(VIRTIO_VSOCK_OP_CREDIT_REQUEST);
	rx_none(150);
	close(fd);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 % 251);
}

Test(virtio_vsock, a_long_stream_arrives_intact_both_ways)
{
	uint32_t local;
	int fd = host_open(30, &local);
	const size_t total = 600000;
	static uint8_t out[65536];
	size_t sent = 0, got = 0;
	uint32_t told = 0;
	int64_t deadline = rig_now_ms() + 30000;

	/* Host to guest: the guest reads, and tells its credit every 16 KiB. */
	while (got < total) {
		cr_assert_lt(rig_now_ms(), deadline, "%zu of %zu bytes", got, total);
		if (sent < total) {
			size_t n = total - sent < sizeof(out) ? total - sent : sizeof(out);
			for (size_t i = 0; i < n; i++)
				out[i] = pattern(sent + i);
			ssize_t w = send(fd, out, n, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
		}
		struct virtio_vsock_hdr h;
		uint8_t data[RXSIZE];
		rx(&h, data, sizeof(data));
		if (h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST)
			continue;
		cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RW);
		for (uint32_t i = 0; i < h.len; i++)
			cr_assert_eq(data[i], pattern(got + i), "byte %zu", got + i);
		got += h.len;
		if (got - told >= 16384) {
			struct virtio_vsock_hdr u = pkt(30, local, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0);
			u.fwd_cnt = (uint32_t)got;
			tx_raw(&u, NULL, 0);
			told = (uint32_t)got;
		}
	}
	/* Guest to host, in packets of odd sizes that wrap the buffer. */
	static uint8_t in[65536];
	size_t put = 0, back = 0;
	while (back < total) {
		cr_assert_lt(rig_now_ms(), deadline, "%zu of %zu bytes back", back, total);
		uint32_t n = (uint32_t)(total - put < 5003 ? total - put : 5003);
		if (n && put - back + n <= VSOCK_BUF) {
			for (uint32_t i = 0; i < n; i++)
				out[i] = pattern(put + i + 1);
			tx(30, local, VIRTIO_VSOCK_OP_RW, out, n);
			put += n;
		}
		ssize_t r = recv(fd, in, sizeof(in), MSG_DONTWAIT);
		for (ssize_t i = 0; i < r; i++)
			cr_assert_eq(in[i], pattern(back + (size_t)i + 1), "byte %zu back", back + (size_t)i);
		if (r > 0)
			back += (size_t)r;
		else
			loop_poll(&rig.loop, 10);
	}
	close(fd);
}

Test(virtio_vsock, consuming_the_guests_data_sends_credit_updates)
{
	uint32_t local;
	int fd = host_open(9, &local);
	static char chunk[8192], sink[VSOCK_BUF];
	memset(chunk, 'q', sizeof(chunk));
	uint32_t sent = 0;
	for (unsigned i = 0; i < VSOCK_BUF / 4 / sizeof(chunk) + 1; i++) {
		tx(9, local, VIRTIO_VSOCK_OP_RW, chunk, sizeof(chunk));
		sent += sizeof(chunk);
	}
	host_read(fd, sink, sent);
	struct virtio_vsock_hdr h = rx_op(VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	cr_assert_geq(h.fwd_cnt, VSOCK_BUF / 4);
	cr_assert_leq(h.fwd_cnt, sent);
	close(fd);
}

Test(virtio_vsock, the_guest_exceeding_our_credit_is_reset)
{
	uint32_t local;
	int fd = host_open(10, &local);
	/* The host reads nothing: a small receive buffer fills, then ours does. */
	static char chunk[60000];
	bool reset = false;
	for (unsigned i = 0; i < 40 && !reset; i++) {
		tx(10, local, VIRTIO_VSOCK_OP_RW, chunk, sizeof(chunk));
		volatile struct vring_used *used = gpa(&rig, ring_base(RXQ) + TD_USED, sizeof(*used));
		while (used->idx != rig.used_seen[RXQ]) {
			struct virtio_vsock_hdr h;
			rx(&h, NULL, RXSIZE);
			if (h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE)
				continue;       /* what the host's socket took */
			cr_assert_eq(h.op, VIRTIO_VSOCK_OP_RST);
			cr_assert_eq(h.src_port, local);
			reset = true;
		}
	}
	cr_assert(reset, "2.4 MB past a 64 KiB credit and no RST");
	close(fd);
}

Test(virtio_vsock, malformed_packets_are_reset_or_dropped)
{
	uint32_t local;
	int fd = host_open(11, &local);

	/* Wrong CIDs: nobody to answer, dropped. */
	struct virtio_vsock_hdr h = pkt(11, local, VIRTIO_VSOCK_OP_RW, 1);
	h.src_cid = 7;
	tx_raw(&h, "a", 1);
	h = pkt(11, local, VIRTIO_VSOCK_OP_RW, 1);
	h.dst_cid = 9;
	tx_raw(&h, "b", 1);
	rx_none(100);
	cr_assert(host_still_open(fd), "the connection is untouched");

	/* A header alone, shorter than a header, or with writable buffers: dropped. */
	uint64_t addr = TXBUF;
	memset(gpa(&rig, addr, 16), 0, 16);
	uint16_t head = add_desc(&rig, TXQ, addr, 16, false, false);
	kick(&rig, TXQ, head);
	take_used(&rig, TXQ, NULL);
	head = add_desc(&rig, TXQ, addr, (uint32_t)HDR, true, false);
	kick(&rig, TXQ, head);
	take_used(&rig, TXQ, NULL);
	rx_none(50);

	/* Unknown op, no connection: RST. */
	tx(12345, 54321, 42, NULL, 0);
	h = rx_op(VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(h.src_port, 54321);
	cr_assert_eq(h.dst_port, 12345);
	/* A datagram-type request: RST. */
	h = pkt(12346, 54321, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	tx_raw(&h, NULL, 0);
	struct virtio_vsock_hdr r;
	rx(&r, NULL, RXSIZE);
	cr_assert_eq(r.op, VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(r.dst_port, 12346);
	cr_assert_eq(r.type, VIRTIO_VSOCK_TYPE_SEQPACKET);
	/* Data for nobody: RST. */
	tx(1, 2, VIRTIO_VSOCK_OP_RW, "x", 1);
	rx_op(VIRTIO_VSOCK_OP_RST);

	/* A len past the buffer on a live connection: that connection is reset and closed. */
	h = pkt(11, local, VIRTIO_VSOCK_OP_RW, 5000);
	tx_raw(&h, "short", 5);
	h = rx_op(VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(h.src_port, local);
	host_closed(fd);
	close(fd);
	cr_assert_eq(device_status(&rig) & VIRTIO_CONFIG_S_NEEDS_RESET, 0, "the device still works");
	int again = host_open(11, &local);
	close(again);
}

Test(virtio_vsock, counters_after_known_traffic)
{
	struct virtio_vsock_hdr h;
	char data[RXSIZE];

	/* Opened, 4 bytes to the guest, 5 to the host, then the guest's orderly close. */
	uint32_t local;
	int fd = host_open(1234, &local);
	host_send(fd, "ping", 4);
	cr_assert_eq(rx(&h, data, sizeof(data)), 4);
	tx(1234, local, VIRTIO_VSOCK_OP_RW, "pong!", 5);
	char got[6] = { 0 };
	host_read(fd, got, 5);
	h = pkt(1234, local, VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx_raw(&h, NULL, 0);
	host_closed(fd);
	rx_op(VIRTIO_VSOCK_OP_RST);
	close(fd);

	/* Opened, then reset by the guest. */
	fd = host_open(13, &local);
	tx(13, local, VIRTIO_VSOCK_OP_RST, NULL, 0);
	host_closed(fd);
	close(fd);

	/* Refused twice: the guest turns a host client down; nobody listens for the guest. */
	fd = host_dial(uds);
	host_send(fd, "CONNECT 99\n", 11);
	h = rx_op(VIRTIO_VSOCK_OP_REQUEST);
	tx(99, h.src_port, VIRTIO_VSOCK_OP_RST, NULL, 0);
	host_closed(fd);
	close(fd);
	tx(40001, 6000, VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	rx_op(VIRTIO_VSOCK_OP_RST);

	/* Not from this guest: dropped. */
	h = pkt(11, 1, VIRTIO_VSOCK_OP_RW, 1);
	h.src_cid = 7;
	tx_raw(&h, "a", 1);
	rig_settle(&rig);

	struct virtio_vsock_counters c;
	virtio_vsock_counters(&vs, &c);
	cr_assert_eq(c.conns_opened, 2);
	cr_assert_eq(c.conns_closed, 1);
	cr_assert_eq(c.conns_reset, 1);
	cr_assert_eq(c.conns_refused, 2);
	cr_assert_eq(c.bytes_to_guest, 4);
	cr_assert_eq(c.bytes_to_host, 5, "the OK lines are not the stream's");
	cr_assert_eq(c.dropped, 1);
	struct virtio_dev_counters d;
	virtio_dev_counters(&vs.vdev, &d);
	cr_assert_geq(d.interrupts_queue, 1);
	cr_assert_geq(d.doorbells, 1);
	cr_assert_eq(d.broken_queues, 0);
}

Test(virtio_vsock, a_stalled_guest_holds_one_buffer_per_connection)
{
	uint32_t local;
	int fd = host_open(15, &local);
	struct vsock_conn *c = NULL;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vs.conns[i].state == VSOCK_OPEN)
			c = &vs.conns[i];
	cr_assert_not_null(c);
	/* The guest gave 64 KiB of credit and reads nothing: the host writes 4 MiB. */
	static char chunk[65536];
	size_t sent = 0;
	for (unsigned i = 0; i < 64; i++) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			sent += (size_t)n;
		rig_settle(&rig);
	}
	cr_assert_lt(sent, 4u << 20, "the host's writes stop: nobody reads");
	cr_assert_leq(c->in.len, VSOCK_BUF);
	cr_assert_leq(c->tx_cnt, GUEST_BUF, "never past the guest's credit");
	cr_assert_gt(c->tx_cnt, 0);
	cr_assert_not(c->receiving, "no read is pending while the buffer is full");
	/* The guest reads what it was sent; the credit it gave runs out. */
	volatile struct vring_used *used = gpa(&rig, ring_base(RXQ) + TD_USED, sizeof(*used));
	for (rig_settle(&rig); used->idx != rig.used_seen[RXQ]; rig_settle(&rig)) {
		struct virtio_vsock_hdr h;
		rx(&h, NULL, RXSIZE);
	}
	cr_assert_eq(c->tx_cnt, GUEST_BUF, "exactly the guest's credit went out");
	cr_assert_eq(c->in.len, VSOCK_BUF, "and one buffer's worth waits");
	/* The other connections are not stalled by it. */
	uint32_t other;
	int fd2 = host_open(16, &other);
	close(fd2);
	close(fd);
}

Test(virtio_vsock, a_reset_connection_closes_the_host_socket_before_the_guest_reads_the_rst)
{
	uint32_t local;
	int fd = host_open(17, &local);
	/* The guest takes every rx buffer away: no RST can reach it yet. */
	struct virtio_vsock_hdr h = pkt(17, local, VIRTIO_VSOCK_OP_RW, 5000);
	vs.rxq = NULL;                  /* as if the guest had no buffers */
	tx_raw(&h, "short", 5);
	host_closed(fd);
	close(fd);
	cr_assert_eq(vs.nr_conns, 1, "the slot waits for the RST");
	rig_settle(&rig);
	notify(&rig, RXQ);              /* buffers are back */
	h = rx_op(VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(h.src_port, local);
	rig_settle(&rig);
	cr_assert_eq(vs.nr_conns, 0);
}

Test(virtio_vsock, guest_shutdown_closes_the_host_socket)
{
	uint32_t local;
	int fd = host_open(12, &local);
	tx(12, local, VIRTIO_VSOCK_OP_RW, "last", 4);
	struct virtio_vsock_hdr h = pkt(12, local, VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx_raw(&h, NULL, 0);
	char got[5] = { 0 };
	host_read(fd, got, 4);
	cr_assert_str_eq(got, "last", "data before the shutdown is delivered");
	host_closed(fd);
	h = rx_op(VIRTIO_VSOCK_OP_RST);
	cr_assert_eq(h.src_port, local);
	close(fd);
	rig_settle(&rig);
	cr_assert_eq(vs.nr_conns, 0);
}

Test(virtio_vsock, guest_rst_closes_the_host_socket)
{
	uint32_t local;
	int fd = host_open(13, &local);
	tx(13, local, VIRTIO_VSOCK_OP_RST, NULL, 0);
	host_closed(fd);
	rx_none(50);
	close(fd);
}

Test(virtio_vsock, guest_half_close_reaches_the_host_as_eof)
{
	uint32_t local;
	int fd = host_open(14, &local);
	struct virtio_vsock_hdr h = pkt(14, local, VIRTIO_VSOCK_OP_SHUTDOWN, 0);
	h.flags = VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx_raw(&h, NULL, 0);
	host_closed(fd);
	/* The host may still answer. */
	host_send(fd, "reply", 5);
	char data[RXSIZE];
	cr_assert_eq(rx(&h, data, sizeof(data)), 5);
	cr_assert_eq(memcmp(data, "reply", 5), 0);
	close(fd);
}

Test(virtio_vsock, connections_are_limited)
{
	int fds[VSOCK_MAX_CONNS + 1];
	for (unsigned i = 0; i <= VSOCK_MAX_CONNS; i++) {
		fds[i] = host_dial(uds);
		rig_settle(&rig);
	}
	/* The one past the limit is closed; the others wait for their CONNECT line. */
	unsigned closed = 0;
	host_closed(fds[VSOCK_MAX_CONNS]);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		closed += !host_still_open(fds[i]);
	cr_assert_eq(closed, 0);
	cr_assert_eq(vs.nr_conns, VSOCK_MAX_CONNS);
	/* A guest's connection is refused too. */
	tx(50000, 7000, VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	rx_op(VIRTIO_VSOCK_OP_RST);
	/* One leaves: a new client gets in. */
	close(fds[0]);
	rig_settle(&rig);
	cr_assert_eq(vs.nr_conns, VSOCK_MAX_CONNS - 1);
	uint32_t local;
	int fd = host_open(3, &local);
	close(fd);
	for (unsigned i = 1; i <= VSOCK_MAX_CONNS; i++)
		close(fds[i]);
}

Test(virtio_vsock, reset_tears_every_connection_down)
{
	uint32_t a, b;
	int fa = host_open(20, &a), fb = host_open(21, &b);
	int line = host_dial(uds);      /* still writing its CONNECT line */
	rig_settle(&rig);
	cr_assert_eq(vs.nr_conns, 3);
	cr_assert(negotiate(&rig, F_V1));
	host_closed(fa);
	host_closed(fb);
	host_closed(line);
	rig_settle(&rig);
	cr_assert_eq(vs.nr_conns, 0, "everything freed");
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		cr_assert_null(vs.conns[i].in.buf);
	/* A new session works. */
	setup_queue(&rig, RXQ);
	setup_queue(&rig, TXQ);
	setup_queue(&rig, EVQ);
	driver_ok(&rig);
	post_rx(TD_QSIZE);
	uint32_t c;
	int fc = host_open(22, &c);
	close(fc);
	close(fa);
	close(fb);
	close(line);
}

Test(virtio_vsock, reset_cancels_a_guest_connect_in_flight)
{
	char path[160];
	snprintf(path, sizeof(path), "%s_5005", uds);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	copy_str(a.sun_path, sizeof(a.sun_path), path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 0), 0);
	/* Its backlog full, and nobody accepting: the device's connect waits. */
	int filler = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	cr_assert_eq(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);
	tx(40005, 5005, VIRTIO_VSOCK_OP_REQUEST, NULL, 0);
	rx_none(100);
	cr_assert_eq(vs.nr_conns, 1);
	cr_assert(negotiate(&rig, F_V1));
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	while (vs.nr_conns)
		rig_poll_until(&rig, deadline, "the connect cancelled");
	close(filler);
	close(l);
}

Test(virtio_vsock, a_listener_out_of_fds_resumes_when_one_closes)
{
	int fds[3];
	for (unsigned i = 0; i < 3; i++)
		fds[i] = host_dial(uds);
	/* One more descriptor for this process: the device accepts one client only. */
	int next = dup(0);
	close(next);
	struct rlimit old, tight;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	tight = old;
	tight.rlim_cur = (rlim_t)next + 1;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
	rig_settle(&rig);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	cr_assert_eq(vs.nr_conns, 1);
	cr_assert(vs.accept_stalled, "the listener waits rather than spins");
	/* A client leaves: its descriptor frees, and the others are taken. */
	for (unsigned i = 0; i < 3; i++)
		if (!host_still_open(fds[i]))
			cr_assert_fail("client %u closed", i);
	close(fds[0]);
	int64_t deadline = rig_now_ms() + TD_DEADLINE_MS;
	while (vs.nr_conns != 2 || vs.accept_stalled)
		rig_poll_until(&rig, deadline, "the other clients accepted");
	close(fds[1]);
	close(fds[2]);
}

/* --- the listener: a user's mistakes ---------------------------------------------- */

static int try_open(uint64_t cid, const char *path, struct error *err)
{
	struct vsock_config cfg = { .enabled = true, .guest_cid = cid };
	struct vsock_listener l;
	*err = (struct error){ 0 };
	copy_str(cfg.uds_path, sizeof(cfg.uds_path), path);
	int r = virtio_vsock_open(&l, &cfg, err);
	virtio_vsock_close(&l);
	return r;
}

Test(virtio_vsock_open, user_mistakes_are_one_line_each)
{
	char d[] = "/tmp/ringvm-vsock-open-XXXXXX", p[128];
	struct error err = { 0 };
	cr_assert_not_null(mkdtemp(d));
	snprintf(p, sizeof(p), "%s/s", d);

	cr_assert_eq(try_open(2, p, &err), -EINVAL);
	cr_assert(strstr(err.msg, "between 3 and"), "%s", err.msg);
	cr_assert_eq(try_open(3, "", &err), -EINVAL);
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/nodir/s", d);
	cr_assert_lt(try_open(3, missing, &err), 0);
	cr_assert(strstr(err.msg, "directory does not exist"), "%s", err.msg);
	char file[128];
	snprintf(file, sizeof(file), "%s/file", d);
	close(creat(file, 0600));
	cr_assert_eq(try_open(3, file, &err), -EEXIST);
	cr_assert(strstr(err.msg, "not a socket"), "%s", err.msg);
	struct stat st;
	cr_assert_eq(stat(file, &st), 0, "a file that is not a socket is left alone");

	/* A stale socket of an earlier run is replaced. */
	cr_assert_eq(try_open(3, p, &err), 0, "%s", err.msg);
	cr_assert_eq(try_open(3, p, &err), 0, "%s", err.msg);
	unlink(p);
	unlink(file);
	rmdir(d);
}
