/*
 * virtio-vsock behind virtio-pci on its hybrid unix-socket backend, driven by
 * virtio_fuzz.h's guest. The device operation is either a guest step (a tx packet
 * with any header, rx buffers) or a host event on real sockets in a fresh directory
 * per input: a client connecting to the uds and sending a CONNECT line, garbage or
 * data, reading, closing; a listener at <uds>_PORT made, accepting, closed.
 * Invariants: never more than VSOCK_MAX_CONNS connections, never more bytes to the
 * guest than the credit it gave, and a reset leaves no connection of before it and,
 * once the clients leave, every host socket closed.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio_vsock.h"
#include "virtio_fuzz.h"

#define CID         3
#define HDR         sizeof(struct virtio_vsock_hdr)
#define MAX_CLIENTS 72                  /* more than the device takes */
#define MAX_LISTEN  4
#define TX_BUFS     0x400000ULL         /* tx packets: 16 slots of 0x11000 */
#define RX_BUFS     0x600000ULL         /* rx buffers: 16 slots of 0x11000 */
#define SLOT        0x11000ULL

enum { H_CONNECT, H_LINE, H_SEND, H_READ, H_CLOSE, H_LISTEN, H_ACCEPT, H_UNLISTEN,
       G_PACKET, G_RX, H_COUNT };

static struct vf rig;           /* large; fully reset by vf_init for each input */
static struct virtio_vsock vs;  /* large; rebuilt by virtio_vsock_init for each input */
static char dir[64], uds[128];
static int clients[MAX_CLIENTS], nr_clients;
static struct { int fd; uint32_t port; } listeners[MAX_LISTEN];
static uint8_t scratch[VSOCK_BUF + 64 * 1024];
/* The guest's credit as last seen per connection, for the credit invariant. */
static struct { uint32_t alloc, fwd, tx; bool open; } seen[VSOCK_MAX_CONNS];
static uint64_t seen_packets;   /* the tx chains taken and resets done, at the last check */

static void listener_path(char *out, size_t n, uint32_t port)
{
	snprintf(out, n, "%s_%u", uds, port);
}

/* Connections within the limit; bytes to the guest within its credit. */
static void check_device(void)
{
	unsigned live = 0;
	/*
	 * Only the guest's packets change its credit (and open connections): an interval
	 * in which none was taken (nor the device reset) is checked.
	 */
	uint64_t packets = rig.dev->queue[1].vq.last_avail + (rig.dev->counters.resets << 16);
	bool quiet = packets == seen_packets;
	seen_packets = packets;
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++) {
		const struct vsock_conn *c = &vs.conns[i];
		live += c->state != VSOCK_FREE;
		bool open = c->state == VSOCK_OPEN;
		/* What the device sent since the last check is within the credit then. */
		if (quiet && open && seen[i].open) {
			uint32_t used = seen[i].tx - seen[i].fwd;
			uint32_t credit = used >= seen[i].alloc ? 0 : seen[i].alloc - used;
			FZ_CHECK(c->tx_cnt - seen[i].tx <= credit,
				 "connection %u: %u bytes to the guest on a credit of %u", i,
				 c->tx_cnt - seen[i].tx, credit);
		}
		seen[i].open = open;
		seen[i].alloc = c->peer_buf_alloc;
		seen[i].fwd = c->peer_fwd_cnt;
		seen[i].tx = c->tx_cnt;
	}
	FZ_CHECK(live == vs.nr_conns, "%u slots in use, nr_conns %u", live, vs.nr_conns);
	FZ_CHECK(vs.nr_conns <= VSOCK_MAX_CONNS, "%u connections", vs.nr_conns);
	FZ_CHECK(vs.nr_orphans <= VSOCK_ORPHAN_RSTS, "%u orphan resets", vs.nr_orphans);
}

static void poll_checked(int wait_ms)
{
	for (int i = 0; i < 64 && loop_poll(&rig.loop, wait_ms) > 0; i++)
		check_device();
	check_device();
}

static int *client(struct fz *f)
{
	return nr_clients ? &clients[fz_u8(f) % nr_clients] : NULL;
}

static void store(uint64_t gpa, const void *p, size_t n)
{
	void *at = gpa_to_hva(&rig.mem, gpa, n);
	if (at && n)
		memcpy(at, p, n);
}

static void put_desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	store(VF_RINGS + q * 0x1000ULL + i * sizeof(d), &d, sizeof(d));
}

static void make_avail(unsigned q, uint16_t head)
{
	uint16_t size = rig.qsize[q];
	struct vring_avail *avail = gpa_to_hva(&rig.mem, VF_RINGS + q * 0x1000ULL + VF_AVAIL,
					       sizeof(*avail) + 2u * size);
	avail->ring[rig.avail_idx[q] % size] = head;
	avail->idx = ++rig.avail_idx[q];
}

/*
 * A packet from the guest: a header of any fields (CIDs right unless the input says
 * otherwise, len the payload's unless it says otherwise), its payload, in one
 * descriptor or split in two, made available on the tx queue and notified.
 */
static void guest_packet(struct fz *f)
{
	uint8_t how = fz_u8(f);
	struct virtio_vsock_hdr h = {
		.src_cid = how & 1 ? fz_u64(f) : CID,
		.dst_cid = how & 2 ? fz_u64(f) : 2,
	};
	h.src_port = fz_u32(f);
	h.dst_port = fz_u32(f);
	h.op = fz_u16(f);
	h.type = how & 4 ? fz_u16(f) : VIRTIO_VSOCK_TYPE_STREAM;
	h.flags = fz_u32(f);
	h.buf_alloc = fz_u32(f);
	h.fwd_cnt = fz_u32(f);
	const uint8_t *payload;
	size_t n = fz_take(f, fz_u16(f), &payload);
	h.len = how & 8 ? fz_u32(f) : (uint32_t)n;
	uint16_t size = rig.qsize[1];
	if (!size)
		return;
	uint64_t at = TX_BUFS + (rig.avail_idx[1] % 16) * SLOT;
	store(at, &h, HDR);
	store(at + HDR, payload, n);
	unsigned i = (2u * rig.avail_idx[1]) % size;
	uint32_t total = (uint32_t)(HDR + n);
	if (how & 16 && size > 1) {             /* split at any byte */
		uint32_t cut = fz_u8(f) % (total + 1);
		unsigned j = (i + 1) % size;
		put_desc(1, i, at, cut, VRING_DESC_F_NEXT, (uint16_t)j);
		put_desc(1, j, at + cut, total - cut, 0, 0);
	} else {
		put_desc(1, i, at, total, 0, 0);
	}
	make_avail(1, (uint16_t)i);
	vf_notify(&rig, 1);
}

/* count rx buffers of len bytes each (a header's worth up to 64 KiB and more). */
static void guest_rx(struct fz *f)
{
	unsigned count = 1 + fz_u8(f) % 16;
	uint32_t len = fz_u32(f) % (SLOT + 1);
	uint16_t size = rig.qsize[0];
	if (!size)
		return;
	for (unsigned k = 0; k < count; k++) {
		unsigned i = rig.avail_idx[0] % size;
		put_desc(0, i, RX_BUFS + (rig.avail_idx[0] % 16) * SLOT, len, VRING_DESC_F_WRITE, 0);
		make_avail(0, (uint16_t)i);
	}
	vf_notify(&rig, 0);
}

static void host_op(struct vf *v, struct fz *f)
{
	(void)v;
	uint8_t op = fz_u8(f) % H_COUNT;
	int *c;
	switch (op) {
	case H_CONNECT: {               /* a client on the uds; waits until it is accepted */
		if (nr_clients == MAX_CLIENTS)
			break;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		strcpy(a.sun_path, uds);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			if (fd >= 0)
				close(fd);
			break;
		}
		clients[nr_clients++] = fd;
		poll_checked(1);
		break;
	}
	case H_LINE: {                  /* CONNECT <port>, right or slightly off */
		if (!(c = client(f)))
			break;
		uint8_t form = fz_u8(f);
		uint32_t port = fz_u32(f);
		char line[64];
		int n = snprintf(line, sizeof(line), form & 1 ? "connect %u\r\n" : "CONNECT %u\n", port);
		if (form & 2)
			n--;                    /* no newline yet */
		if (*c >= 0)
			send(*c, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	}
	case H_SEND: {                  /* bytes, garbage or data; repeated to fill buffers */
		if (!(c = client(f)))
			break;
		const uint8_t *bytes;
		unsigned times = 1 + fz_u8(f) % 64;
		size_t n = fz_take(f, fz_u8(f), &bytes);
		for (unsigned k = 0; k < times && *c >= 0 && n; k++)
			if (send(*c, bytes, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				break;
		break;
	}
	case H_READ:                    /* drains what the guest sent */
		if ((c = client(f)) && *c >= 0)
			while (recv(*c, scratch, sizeof(scratch), MSG_DONTWAIT) > 0)
				;
		break;
	case H_CLOSE:                   /* closes, or shuts down writing */
		if ((c = client(f)) && *c >= 0) {
			if (fz_u8(f) & 1) {
				shutdown(*c, SHUT_WR);
			} else {
				close(*c);
				*c = -1;
			}
		}
		break;
	case H_LISTEN: {                /* a listener at <uds>_PORT */
		unsigned j = fz_u8(f) % MAX_LISTEN;
		uint32_t port = fz_u32(f);
		if (listeners[j].fd >= 0)
			break;
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		listener_path(a.sun_path, sizeof(a.sun_path), port);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8)) {
			close(fd);
			break;
		}
		listeners[j].fd = fd;
		listeners[j].port = port;
		break;
	}
	case H_ACCEPT: {                /* the listener's end joins the clients */
		unsigned j = fz_u8(f) % MAX_LISTEN;
		if (listeners[j].fd < 0 || nr_clients == MAX_CLIENTS)
			break;
		int fd = accept4(listeners[j].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			clients[nr_clients++] = fd;
		break;
	}
	case H_UNLISTEN: {
		unsigned j = fz_u8(f) % MAX_LISTEN;
		if (listeners[j].fd < 0)
			break;
		char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
		listener_path(path, sizeof(path), listeners[j].port);
		unlink(path);
		close(listeners[j].fd);
		listeners[j].fd = -1;
		break;
	}
	case G_PACKET:
		guest_packet(f);
		break;
	case G_RX:
		guest_rx(f);
		break;
	}
	check_device();
}

static void host_teardown(void)
{
	for (int i = 0; i < nr_clients; i++)
		if (clients[i] >= 0)
			close(clients[i]);
	nr_clients = 0;
	for (unsigned j = 0; j < MAX_LISTEN; j++)
		if (listeners[j].fd >= 0) {
			char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
			listener_path(path, sizeof(path), listeners[j].port);
			unlink(path);
			close(listeners[j].fd);
			listeners[j].fd = -1;
		}
}

/*
 * The guest may have moved BAR 0 or turned memory decoding off, which would make the
 * final reset a write to nowhere: a driver's configuration is restored first.
 */
static void pci_restore(void)
{
	uint32_t lo = (uint32_t)rig.bar, hi = (uint32_t)(rig.bar >> 32);
	uint32_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	bool is64 = vf_cfg_read(&rig, PCI_BASE_ADDRESS_0, 4) & PCI_BASE_ADDRESS_MEM_TYPE_64;
	pci_config_access(&rig.pci, VF_SLOT, PCI_BASE_ADDRESS_0, (uint8_t *)&lo, 4, true);
	if (is64)
		pci_config_access(&rig.pci, VF_SLOT, PCI_BASE_ADDRESS_1, (uint8_t *)&hi, 4, true);
	pci_config_access(&rig.pci, VF_SLOT, PCI_COMMAND, (uint8_t *)&cmd, 2, true);
}

/* Polls until every slot is free (or wait_ms passes); whether they all are. */
static bool drain(int wait_ms)
{
	int64_t deadline = vf_now_ms() + wait_ms;
	while (vs.nr_conns && vf_now_ms() < deadline)
		poll_checked(1);
	return !vs.nr_conns;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct error err = { 0 };
	struct vsock_config cfg = { .enabled = true, .guest_cid = CID };
	struct vsock_listener l;

	strcpy(dir, "/tmp/ringvm-fuzz-vsock-XXXXXX");
	if (!mkdtemp(dir))
		fz_fail("mkdtemp: %s", strerror(errno));
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	strcpy(cfg.uds_path, uds);
	for (unsigned j = 0; j < MAX_LISTEN; j++)
		listeners[j].fd = -1;
	memset(seen, 0, sizeof(seen));
	seen_packets = 0;
	vf_init(&rig);
	if (virtio_vsock_open(&l, &cfg, &err) ||
	    virtio_vsock_init(&vs, &cfg, &l, &rig.mem, &rig.loop, -1, &err))
		fz_fail("virtio-vsock: %s", err.msg);
	vf_plug(&rig, &vs.vdev);
	vf_run(&rig, &f, host_op);

	vf_poll(&rig, 1);
	check_device();
	vf_check_queues(&rig);
	struct virtio_vsock_counters n;
	virtio_vsock_counters(&vs, &n);
	FZ_DEBUG("connections: %u now; %llu opened, %llu refused, %llu closed, %llu reset; "
		 "bytes: %llu to the guest, %llu to the host; %llu packets dropped\n", vs.nr_conns,
		 (unsigned long long)n.conns_opened, (unsigned long long)n.conns_refused,
		 (unsigned long long)n.conns_closed, (unsigned long long)n.conns_reset,
		 (unsigned long long)n.bytes_to_guest, (unsigned long long)n.bytes_to_host,
		 (unsigned long long)n.dropped);
	pci_restore();
	vf_finish(&rig);                /* the reset completes */
	/*
	 * Nothing of before the reset survives it: the only connections left are clients
	 * accepted since (still on their CONNECT line, or waiting for a guest that is gone).
	 */
	drain(1000);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		FZ_CHECK(vs.conns[i].state == VSOCK_FREE || vs.conns[i].state == VSOCK_HOST_LINE ||
			 vs.conns[i].state == VSOCK_HOST_WAIT,
			 "connection %u in state %d after a reset (ports %u:%u)", i, vs.conns[i].state,
			 vs.conns[i].local_port, vs.conns[i].peer_port);
	FZ_CHECK(!vs.nr_orphans, "%u resets queued after a reset", vs.nr_orphans);
	/* Once the clients leave, every host socket is closed. */
	host_teardown();
	FZ_CHECK(drain(3000), "%u connections left after the clients closed", vs.nr_conns);
	for (unsigned i = 0; i < VSOCK_MAX_CONNS; i++)
		FZ_CHECK(vs.conns[i].fd < 0 && !vs.conns[i].ops,
			 "connection %u: socket %d, %u operations after the reset", i,
			 vs.conns[i].fd, vs.conns[i].ops);
	vf_fini(&rig);
	virtio_vsock_destroy(&vs);
	unlink(uds);
	rmdir(dir);
	return 0;
}
