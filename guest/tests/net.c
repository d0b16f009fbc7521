/*
 * net: every virtio-net device asks for the peer's MAC address with ARP and
 * pings it once (ICMP echo), net.ip= being its own address (default
 * 10.0.2.15) and net.peer= the peer's (10.0.2.1). The peer may ask for ours
 * meanwhile: ARP requests for net.ip are answered. Other frames (IPv6
 * neighbour discovery, say) are ignored.
 */
#include <stdbool.h>
#include <stdint.h>

#include "cmdline.h"
#include "mem.h"
#include "printf.h"
#include "test.h"
#include "timer.h"
#include "virtio_net.h"

#define ETH_HLEN       14
#define ETH_MIN_FRAME  60           /* without the FCS */
#define ETH_P_IP       0x0800
#define ETH_P_ARP      0x0806
#define ARP_REQUEST    1
#define ARP_REPLY      2
#define ARP_LEN        28
#define IP_HLEN        20
#define IP_PROTO_ICMP  1
#define ICMP_ECHO      8
#define ICMP_ECHOREPLY 0
#define PING_ID        0x5256       /* "RV" */
#define PING_PAYLOAD   32
#define WAIT_NS        (5 * NS_PER_S)
#define MAX_FRAMES     64           /* unrelated frames taken while waiting for an answer */

struct addresses {
	uint8_t ip[4], peer[4];
	uint8_t peer_mac[6];
};

static char reason[120];

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool same(const uint8_t *a, const uint8_t *b, unsigned n)
{
	while (n--)
		if (*a++ != *b++)
			return false;
	return true;
}

/* The Internet checksum (RFC 1071) of n bytes, n even. */
static uint16_t checksum(const uint8_t *p, unsigned n)
{
	uint32_t sum = 0;

	for (unsigned i = 0; i < n; i += 2)
		sum += get16(p + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Reads "A.B.C.D" from key= into ip (left alone when unset); NULL or what was wrong. */
static const char *get_ip(const char *key, uint8_t ip[4])
{
	const char *s = cmdline_get(key);

	if (!s)
		return NULL;
	for (unsigned i = 0; i < 4; i++) {
		unsigned v = 0, digits = 0;

		for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			v = v * 10 + (unsigned)(*s - '0');
		if (!digits || v > 255 || *s != (i < 3 ? '.' : '\0')) {
			snprintf(reason, sizeof(reason), "%s= needs an address A.B.C.D", key);
			return reason;
		}
		ip[i] = (uint8_t)v;
		s++;
	}
	return NULL;
}

static uint8_t *eth_header(struct net_dev *net, const uint8_t *dst, uint16_t type)
{
	uint8_t *f = net_tx_frame(net);

	memcpy(f, dst, 6);
	memcpy(f + 6, net->mac, 6);
	put16(f + 12, type);
	return f + ETH_HLEN;
}

static const char *send_arp(struct net_dev *net, const struct addresses *a, uint16_t op,
			    const uint8_t *to_mac, const uint8_t *to_ip)
{
	static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *arp = eth_header(net, op == ARP_REQUEST ? broadcast : to_mac, ETH_P_ARP);

	put16(arp, 1);                  /* Ethernet */
	put16(arp + 2, ETH_P_IP);
	arp[4] = 6;
	arp[5] = 4;
	put16(arp + 6, op);
	memcpy(arp + 8, net->mac, 6);
	memcpy(arp + 14, a->ip, 4);
	memset(arp + 18, 0, 6);
	if (op == ARP_REPLY)
		memcpy(arp + 18, to_mac, 6);
	memcpy(arp + 24, to_ip, 4);
	memset(arp + ARP_LEN, 0, ETH_MIN_FRAME - ETH_HLEN - ARP_LEN);
	return net_send(net, ETH_MIN_FRAME);
}

static const char *send_ping(struct net_dev *net, const struct addresses *a)
{
	uint8_t *ip = eth_header(net, a->peer_mac, ETH_P_IP);
	uint8_t *icmp = ip + IP_HLEN;

	memset(ip, 0, IP_HLEN + 8);
	ip[0] = 0x45;                   /* version 4, 5-word header */
	put16(ip + 2, IP_HLEN + 8 + PING_PAYLOAD);
	put16(ip + 6, 0x4000);          /* don't fragment */
	ip[8] = 64;
	ip[9] = IP_PROTO_ICMP;
	memcpy(ip + 12, a->ip, 4);
	memcpy(ip + 16, a->peer, 4);
	put16(ip + 10, checksum(ip, IP_HLEN));
	icmp[0] = ICMP_ECHO;
	put16(icmp + 4, PING_ID);
	put16(icmp + 6, 1);
	for (unsigned i = 0; i < PING_PAYLOAD; i++)
		icmp[8 + i] = (uint8_t)i;
	put16(icmp + 2, checksum(icmp, 8 + PING_PAYLOAD));
	return net_send(net, ETH_HLEN + IP_HLEN + 8 + PING_PAYLOAD);
}

/* Looks at one received frame: true when it is the awaited answer; answers ARP for us. */
static bool handle_frame(struct net_dev *net, struct addresses *a, const uint8_t *f, int len,
			 bool want_ping, const char **err)
{
	const uint8_t *p = f + ETH_HLEN;
	uint16_t type = len >= ETH_HLEN ? get16(f + 12) : 0;

	if (type == ETH_P_ARP && len >= ETH_HLEN + ARP_LEN && get16(p + 6) == ARP_REQUEST &&
	    same(p + 24, a->ip, 4)) {
		uint8_t mac[6], ip[4];

		memcpy(mac, p + 8, 6);
		memcpy(ip, p + 14, 4);
		net_recycle(net, f);
		*err = send_arp(net, a, ARP_REPLY, mac, ip);
		return false;
	}
	if (!want_ping && type == ETH_P_ARP && len >= ETH_HLEN + ARP_LEN &&
	    get16(p + 6) == ARP_REPLY && same(p + 14, a->peer, 4)) {
		memcpy(a->peer_mac, p + 8, 6);
		net_recycle(net, f);
		return true;
	}
	bool pong = want_ping && type == ETH_P_IP && len >= ETH_HLEN + IP_HLEN + 8 &&
		    (p[0] & 0xf0) == 0x40 && p[9] == IP_PROTO_ICMP && same(p + 12, a->peer, 4) &&
		    p[(p[0] & 0xf) * 4] == ICMP_ECHOREPLY &&
		    get16(p + (p[0] & 0xf) * 4 + 4) == PING_ID;

	net_recycle(net, f);
	return pong;
}

/* Takes frames until the answer (an ARP reply, or the echo reply) came; NULL or why not. */
static const char *await(struct net_dev *net, struct addresses *a, bool want_ping)
{
	for (unsigned i = 0; i < MAX_FRAMES; i++) {
		const char *err = NULL;
		const uint8_t *f;
		int len = net_receive(net, &f, WAIT_NS);

		if (len < 0)
			break;
		if (len > 0 && handle_frame(net, a, f, len, want_ping, &err))
			return NULL;
		if (err)
			return err;
	}
	return want_ping ? "no echo reply" : "no ARP reply";
}

static const char *test_device(unsigned n, struct addresses *a)
{
	struct net_dev *net;
	const char *err;
	const char *what = "setup";

	if (!(err = net_open(n, &net))) {
		what = "ARP";
		if (!(err = send_arp(net, a, ARP_REQUEST, 0, a->peer)) &&
		    !(err = await(net, a, false))) {
			what = "ping";
			if (!(err = send_ping(net, a)))
				err = await(net, a, true);
		}
	}
	if (err) {
		snprintf(reason, sizeof(reason), "net %u: %s: %s", n, what, err);
		return reason;
	}
	printf("net %u: mac %02x:%02x:%02x:%02x:%02x:%02x, arp and ping ok\n", n, net->mac[0],
	       net->mac[1], net->mac[2], net->mac[3], net->mac[4], net->mac[5]);
	return NULL;
}

static const char *test_net(void)
{
	struct addresses a = { { 10, 0, 2, 15 }, { 10, 0, 2, 1 }, { 0 } };
	unsigned count = net_count();
	const char *err;

	if ((err = get_ip("net.ip", a.ip)) || (err = get_ip("net.peer", a.peer)))
		return err;
	if (count == 0)
		return "no virtio-net device";
	for (unsigned n = 0; n < count; n++)
		if ((err = test_device(n, &a)))
			return err;
	return NULL;
}

GUEST_TEST("net", test_net);
