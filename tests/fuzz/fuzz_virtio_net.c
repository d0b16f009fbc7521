/*
 * virtio-net behind virtio-pci on a real tap, in a private network namespace (root),
 * driven by virtio_fuzz.h's guest; its device operation sends a frame into the tap
 * from the host side, for the receive path. Frames the guest transmits go out of the
 * tap and are dropped by the namespace.
 */
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
#include "virtio_fuzz.h"

#define TAP "rvfuzz0"

static struct vf rig;           /* large; fully reset by vf_init for each input */
static struct virtio_net net;
static int packet_fd = -1;      /* this input's host side of the tap */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	/* The tap is nobody else's business, nor are the frames the guest sends. */
	if (unshare(CLONE_NEWNET))
		fz_fail("needs root for a network namespace (%s)", strerror(errno));
	return 0;
}

static void host_side_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, TAP);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
		fz_fail("tap flags: %s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		fz_fail("tap up: %s", strerror(errno));
	close(s);
	packet_fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(TAP) };
	if (packet_fd < 0 || bind(packet_fd, (struct sockaddr *)&ll, sizeof(ll)))
		fz_fail("packet socket: %s", strerror(errno));
}

/* A frame from the host: up to 1600 bytes of the input (short ones are the kernel's to refuse). */
static void host_frame(struct vf *v, struct fz *f)
{
	(void)v;
	const uint8_t *bytes;
	size_t len = fz_take(f, fz_u16(f) % 1600, &bytes);
	if (len >= ETH_HLEN)
		send(packet_fd, bytes, len, MSG_DONTWAIT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct error err = { 0 };
	struct net_config cfg = { .tap = TAP, .mac = { 0x02, 0, 0, 0, 0, 0x42 }, .has_mac = true,
				  .queue_pairs = 1 + (fz_u8(&f) & 1) };
	struct net_tap tap;

	vf_init(&rig);
	if (virtio_net_open(&tap, &cfg, &err))
		fz_fail("tap: %s", err.msg);
	if (virtio_net_init(&net, &cfg, &tap, 0, &rig.mem, &rig.loop, -1, &err))
		fz_fail("virtio_net_init: %s", err.msg);
	vf_plug(&rig, &net.vdev);
	host_side_up();
	vf_run(&rig, &f, host_frame);
	vf_finish(&rig);
	vf_fini(&rig);
	virtio_net_destroy(&net);
	close(packet_fd);
	packet_fd = -1;
	return 0;
}
