#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio_net.h"
#include "virtio_driver.h"

#define MiB       (1ULL << 20)
#define TAP       "rvtest0"
#define F_MAC     VIRTIO_BIT(VIRTIO_NET_F_MAC)
#define F_MRG     VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)
#define F_STATUS  VIRTIO_BIT(VIRTIO_NET_F_STATUS)
#define F_V1      VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define HDR       sizeof(struct virtio_net_hdr_v1)
#define TXBUF     TD_BUFFERS
#define RXBUF     (TD_BUFFERS + 0x10000)

static struct test_rig rig;
static struct virtio_net net;
static int packet_fd = -1;

/* A private network namespace, so the test's tap is nobody else's business. */
static void setup(void)
{
	if (unshare(CLONE_NEWNET))
		cr_skip_test("needs root for a network namespace (%s)", strerror(errno));
	rig_init(&rig, 16 * MiB);
	struct error err = { 0 };
	struct net_config cfg = { .tap = TAP, .mac = { 0x02, 0, 0, 0, 0, 0x42 }, .has_mac = true,
				  .queue_pairs = 1 };
	struct net_tap tap;
	cr_assert_eq(virtio_net_open(&tap, &cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(virtio_net_init(&net, &cfg, &tap, 0, &rig.mem, &rig.loop, -1, &err),
		     0, "%s", err.msg);
	cr_assert_eq(tap.fds[0], -1, "the device took the tap");
	rig_plug(&rig, &net.vdev);

	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, TAP);
	cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
	packet_fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(TAP) };
	cr_assert_eq(bind(packet_fd, (struct sockaddr *)&ll, sizeof(ll)), 0);
	struct timeval tv = { 2, 0 };
	setsockopt(packet_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	cr_assert(device_features(&rig) & F_MRG);
	cr_assert(negotiate(&rig, F_V1 | F_MAC | F_STATUS | F_MRG));
	setup_queue(&rig, 0);
	setup_queue(&rig, 1);
	driver_ok(&rig);
}

static void teardown(void)
{
	if (packet_fd >= 0)
		close(packet_fd);
	rig_fini(&rig);
	virtio_net_destroy(&net);
}

TestSuite(virtio_net, .init = setup, .fini = teardown, .timeout = 30);

static void make_frame(uint8_t *f, uint8_t tag)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);                                   /* broadcast */
	memcpy(f + 6, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0x42 }, 6);
	f[12] = 0x88;                                         /* an experimental ethertype */
	f[13] = 0xb5;
	memset(f + 14, tag, 46);
}

Test(virtio_net, config_has_the_mac_and_link_up)
{
	size_t mac = offsetof(struct virtio_net_config, mac);
	cr_assert_eq(config_read(&rig, mac, 4), 0x00000002);
	cr_assert_eq(config_read(&rig, mac + 4, 2), 0x4200);
	cr_assert_eq(config_read(&rig, offsetof(struct virtio_net_config, status), 2),
		     VIRTIO_NET_S_LINK_UP, "link up");
	cr_assert_eq(config_read(&rig, offsetof(struct virtio_net_config, max_virtqueue_pairs), 2), 1);
}

Test(virtio_net, transmit_reaches_the_tap)
{
	uint8_t *buf = gpa(&rig, TXBUF, HDR + 60);
	memset(buf, 0, HDR);
	make_frame(buf + HDR, 0x5a);
	uint16_t head = add_desc(&rig, 1, TXBUF, HDR + 60, false, false);
	kick(&rig, 1, head);
	cr_assert_eq(take_used(&rig, 1, NULL), 0);
	uint8_t got[2048];
	for (;;) {
		ssize_t n = recv(packet_fd, got, sizeof(got), 0);
		cr_assert_gt(n, 0, "the frame never came out of the tap");
		if (n == 60 && got[14] == 0x5a)
			break;                                /* skip the kernel's own chatter */
	}
	struct virtio_net_counters c;
	virtio_net_counters(&net, &c);
	cr_assert_eq(c.tx_packets, 1);
	cr_assert_eq(c.tx_bytes, 60, "the frame, not its virtio-net header");
	cr_assert_eq(c.tx_dropped, 0);
}

Test(virtio_net, receive_fills_guest_buffers)
{
	for (unsigned i = 0; i < 4; i++) {
		uint16_t head = add_desc(&rig, 0, RXBUF + i * 0x1000, 2048, true, false);
		kick(&rig, 0, head);
	}
	uint8_t frame[60];
	make_frame(frame, 0xa5);
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(TAP),
				  .sll_halen = 6 };
	cr_assert_eq(sendto(packet_fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)), 60);
	for (unsigned tries = 0; tries < 4; tries++) {
		rig_settle(&rig);
		uint16_t head;
		uint32_t len = take_used(&rig, 0, &head);
		uint8_t *b = gpa(&rig, RXBUF + (head % 4) * 0x1000, 2048);
		if (len == HDR + 60 && b[HDR + 14] == 0xa5) {
			cr_assert_eq(((struct virtio_net_hdr_v1 *)b)->num_buffers, 1, "num_buffers");
			struct virtio_net_counters c;
			virtio_net_counters(&net, &c);
			cr_assert_geq(c.rx_packets, tries + 1, "the kernel's chatter counts too");
			cr_assert_geq(c.rx_bytes, 60);
			cr_assert_eq(c.rx_dropped, 0);
			struct virtio_dev_counters d;
			virtio_dev_counters(&net.vdev, &d);
			cr_assert_geq(d.interrupts_queue, 1);
			return;
		}
	}
	cr_assert_fail("the frame never reached the guest");
}

Test(virtio_net, writable_transmit_buffer_needs_reset)
{
	uint16_t head = add_desc(&rig, 1, TXBUF, 72, true, false);
	kick(&rig, 1, head);
	cr_assert(device_status(&rig) & VIRTIO_CONFIG_S_NEEDS_RESET);
	struct virtio_dev_counters d;
	virtio_dev_counters(&net.vdev, &d);
	cr_assert_eq(d.broken_queues, 1);
	struct virtio_net_counters c;
	virtio_net_counters(&net, &c);
	cr_assert_eq(c.tx_packets + c.tx_dropped, 0, "the broken chain was no frame");
}

Test(virtio_net_open, too_many_queue_pairs_refused_before_any_tap)
{
	struct error err = { 0 };
	struct net_config cfg = { .tap = "ringvm-none0", .queue_pairs = NET_MAX_PAIRS + 1 };
	struct net_tap tap;
	cr_assert_eq(virtio_net_open(&tap, &cfg, &err), -EINVAL);
	cr_assert(strstr(err.msg, "at most 7 queue pairs"), "%s", err.msg);
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++)
		cr_assert_eq(tap.fds[i], -1, "nothing attached");
	virtio_net_close(&tap);
}
