/*
 * Writes a fuzz target's seed inputs: `fuzz-seeds TARGET DIR`. Each seed is a valid,
 * deep program for its target (a completed block read, a frame each way, a kernel
 * image of each format), so that fuzzing starts where the interesting code is
 * rather than having to find a working driver sequence by chance. The encodings
 * follow the targets' interpreters (virtio_fuzz.h and the fuzz_*.c files).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED_MAX (1 << 20)

static uint8_t buf[SEED_MAX];
static size_t len;

static void u8(uint64_t v) { if (len < SEED_MAX) buf[len++] = (uint8_t)v; }
static void u16(uint64_t v) { u8(v); u8(v >> 8); }
static void u32(uint64_t v) { u16(v); u16(v >> 16); }
static void u64(uint64_t v) { u32(v); u32(v >> 32); }
static void bytes(const void *p, size_t n) { for (size_t i = 0; i < n; i++) u8(((const uint8_t *)p)[i]); }

static const char *out_dir;

static void emit(const char *name)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "fuzz-seeds: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	len = 0;
}

/* ---- virtio_fuzz.h's program: the opcodes of vf_run ---- */
enum { VF_CFG_W, VF_CFG_R, VF_BAR_W, VF_BAR_R, VF_FIELD, VF_DEVCFG, VF_STORE, VF_DESC,
       VF_AVAIL, VF_KICK, VF_POLL, VF_BRING_UP, VF_DEVICE };
#define VF_RINGS   0x100000u
#define VF_BUFFERS 0x200000u

static void vf_bring_up(uint64_t mask, unsigned log2_size)
{
	u8(VF_BRING_UP); u64(mask); u8(log2_size);
}

/* Descriptor i of queue q: a buffer at VF_BUFFERS + off. */
static void vf_desc(unsigned q, unsigned i, uint32_t off, uint32_t dlen, uint16_t flags, uint16_t next)
{
	u8(VF_DESC); u8(q); u8(i); u32(off); u32(dlen); u16(flags); u16(next);
}

static void vf_store(uint32_t gpa, const void *p, uint8_t n)
{
	u8(VF_STORE); u32(gpa - VF_RINGS); u8(n); bytes(p, n);
}

static void vf_avail(unsigned q, uint16_t head) { u8(VF_AVAIL); u8(q); u16(head); }
static void vf_poll(void) { for (int i = 0; i < 4; i++) { u8(VF_POLL); u8(1); } }

#define NEXT 1
#define WRITE 2

static void blk_request(const char *name, uint32_t type, uint64_t sector, uint32_t data_len,
			bool data_in)
{
	u8(0);                                  /* one queue, writable */
	vf_bring_up(0, 4);
	struct { uint32_t type, reserved; uint64_t sector; } hdr = { type, 0, sector };
	vf_store(VF_BUFFERS, &hdr, sizeof(hdr));
	vf_desc(0, 0, 0, sizeof(hdr), NEXT, data_len ? 1 : 2);
	if (data_len)
		vf_desc(0, 1, 0x1000, data_len, (uint16_t)(NEXT | (data_in ? WRITE : 0)), 2);
	vf_desc(0, 2, 0x100, 1, WRITE, 0);
	vf_avail(0, 0);
	vf_poll();
	emit(name);
}

static void seeds_virtio_blk(void)
{
	blk_request("read", 0, 1, 512, true);
	blk_request("write", 1, 2, 1024, false);
	blk_request("flush", 4, 0, 0, false);
	blk_request("get-id", 8, 0, 20, true);
	/* discard / write zeroes: one segment (sector, num_sectors, flags) */
	for (uint32_t type = 11; type <= 13; type += 2) {
		u8(0);
		vf_bring_up(0, 4);
		struct { uint32_t type, reserved; uint64_t sector; } hdr = { type, 0, 0 };
		struct { uint64_t sector; uint32_t num, flags; } seg = { 8, 8, 0 };
		vf_store(VF_BUFFERS, &hdr, sizeof(hdr));
		vf_store(VF_BUFFERS + 0x1000, &seg, sizeof(seg));
		vf_desc(0, 0, 0, sizeof(hdr), NEXT, 1);
		vf_desc(0, 1, 0x1000, sizeof(seg), NEXT, 2);
		vf_desc(0, 2, 0x100, 1, WRITE, 0);
		vf_avail(0, 0);
		vf_poll();
		emit(type == 11 ? "discard" : "write-zeroes");
	}
}

static void seeds_virtio_net(void)
{
	/* Transmit: the virtio-net header (12 bytes), then a broadcast frame. */
	uint8_t frame[12 + 60] = { 0 };
	memset(frame + 12, 0xff, 6);
	frame[12 + 6] = 0x02;
	frame[12 + 12] = 0x08;                  /* IPv4 */
	u8(0);
	vf_bring_up(0, 4);
	vf_store(VF_BUFFERS, frame, sizeof(frame));
	vf_desc(1, 0, 0, sizeof(frame), 0, 0);
	vf_avail(1, 0);
	vf_poll();
	emit("tx");
	/* Receive: one 1526-byte buffer, then a frame from the host. */
	u8(0);
	vf_bring_up(0, 4);
	vf_desc(0, 0, 0, 1526, WRITE, 0);
	vf_avail(0, 0);
	u8(VF_DEVICE); u16(60); bytes(frame + 12, 60);
	vf_poll();
	emit("rx");
	/* Two queue pairs: the control queue (2n) switches to both (VIRTIO_NET_CTRL_MQ). */
	u8(1);
	vf_bring_up(0, 4);
	uint8_t ctrl[2 + 2] = { 4, 0, 2, 0 };   /* class MQ, VQ_PAIRS_SET, 2 pairs */
	vf_store(VF_BUFFERS, ctrl, sizeof(ctrl));
	vf_desc(4, 0, 0, sizeof(ctrl), NEXT, 1);
	vf_desc(4, 1, 0x100, 1, WRITE, 0);
	vf_avail(4, 0);
	vf_poll();
	emit("ctrl-mq");
}

static void seeds_virtio_rng(void)
{
	vf_bring_up(0, 4);
	vf_desc(0, 0, 0, 64, WRITE, 0);
	vf_avail(0, 0);
	vf_poll();
	emit("read");
}

/* ---- fuzz_virtqueue.c: flags, rings at 0x1000/0x2000/0x3000, then stores and ops ---- */
static void seeds_virtqueue(void)
{
	u8(4 | 0x10 | 0x20);                    /* 16 entries, EVENT_IDX, INDIRECT */
	u16(0x1000); u16(0x2000); u16(0x3000);
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d[2] = {
		{ 0x8000, 64, NEXT, 1 }, { 0x9000, 64, WRITE, 0 } };
	u8(0); u16(0x1000); u8(sizeof(d)); bytes(d, sizeof(d));
	uint16_t avail[3] = { 0, 1, 0 };
	u8(0); u16(0x2000); u8(sizeof(avail)); bytes(avail, sizeof(avail));
	u8(2); u16(100); u16(8);                /* pop; copy 100 bytes from offset 8 */
	u8(3); u8(0); u32(64);                  /* push */
	u8(4); u8(5); u8(6);
	emit("chain");
	/* An indirect table of two descriptors. */
	u8(4 | 0x10 | 0x20);
	u16(0x1000); u16(0x2000); u16(0x3000);
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } ind = { 0x4000, 32, 4, 0 };
	u8(0); u16(0x1000); u8(sizeof(ind)); bytes(&ind, sizeof(ind));
	u8(0); u16(0x4000); u8(sizeof(d)); bytes(d, sizeof(d));
	u8(0); u16(0x2000); u8(sizeof(avail)); bytes(avail, sizeof(avail));
	u8(2); u16(100); u16(0);
	u8(3); u8(0); u32(64);
	u8(4); u8(6);
	emit("indirect");
}

struct target {
	const char *name;
	void (*seeds)(void);
};

static const struct target targets[] = {
	{ "virtqueue", seeds_virtqueue },
	{ "virtio-blk", seeds_virtio_blk },
	{ "virtio-net", seeds_virtio_net },
	{ "virtio-rng", seeds_virtio_rng },
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fuzz-seeds TARGET DIR\n");
		return 2;
	}
	out_dir = argv[2];
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
		if (!strcmp(targets[i].name, argv[1])) {
			targets[i].seeds();
			return 0;
		}
	fprintf(stderr, "fuzz-seeds: no target '%s'\n", argv[1]);
	return 2;
}
