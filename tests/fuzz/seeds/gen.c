/*
 * Writes a fuzz target's seed inputs: `fuzz-seeds TARGET DIR`. Each seed is a valid,
 * deep program for its target (a completed block read, a frame each way, a kernel
 * image of each format), so that fuzzing starts where the interesting code is
 * rather than having to find a working driver sequence by chance. The encodings
 * follow the targets' interpreters (virtio_fuzz.h and the fuzz_*.c files).
 */
#include <errno.h>
#include <linux/virtio_vsock.h>
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

/* ---- fuzz_virtio_mmio.c: its own opcodes ---- */
enum { MM_WRITE, MM_READ, MM_REG, MM_BRING_UP, MM_DESC, MM_AVAIL, MM_POLL, MM_ACK, MM_CONFIG,
       MM_STORE };

static void seeds_virtio_mmio(void)
{
	u8(MM_BRING_UP); u64(0); u8(4);                         /* 16 entries */
	u8(MM_DESC); u8(0); u32(0); u32(64); u16(WRITE); u16(0);
	u8(MM_AVAIL); u16(0); u8(0);
	for (int i = 0; i < 4; i++) { u8(MM_POLL); u8(1); }
	u8(MM_ACK);
	u8(MM_CONFIG);
	u8(MM_ACK);
	emit("read");
	u8(MM_BRING_UP); u64(1ULL << 28); u8(3);                /* INDIRECT_DESC, 8 entries */
	u8(MM_DESC); u8(0); u32(0); u32(16); u16(4); u16(0);    /* an indirect table */
	struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d = { 0x201000, 64, WRITE, 0 };
	u8(MM_STORE); u32(0x100000); u8(sizeof(d)); bytes(&d, sizeof(d));
	u8(MM_AVAIL); u16(0); u8(0);
	for (int i = 0; i < 4; i++) { u8(MM_POLL); u8(1); }
	emit("indirect");
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


/* ---- fuzz_pci.c: op (bit 7: write; % 5: where), width (log2), value if written, where ---- */
enum { PCI_CONF1, PCI_ECAM, PCI_BAR, PCI_PORT, PCI_WINDOW };
#define W 0x80

static void conf1_write(unsigned slot, unsigned reg, uint32_t val)
{
	u8(PCI_CONF1 | W); u8(2); u64(0x80000000u | slot << 11 | (reg & 0xfc)); u8(0);
	u8(PCI_CONF1 | W); u8(2); u64(val); u8(4);
}

static void ecam(bool write, unsigned slot, unsigned reg, unsigned log2_len, uint32_t val)
{
	u8(PCI_ECAM | (write ? W : 0)); u8(log2_len);
	if (write)
		u64(val);
	u32(slot << 15 | reg);
}

static void seeds_pci(void)
{
	/* Size BAR 0 of slot 1 through ECAM, move it, enable decoding, touch it (MSI-X too). */
	ecam(true, 1, 0x10, 2, 0xffffffff);
	ecam(false, 1, 0x10, 2, 0);
	ecam(true, 1, 0x10, 2, 0xc0100000);
	ecam(true, 1, 0x04, 1, 0x0006);
	for (unsigned off = 0; off < 0x4000; off += 0x800) {
		u8(PCI_BAR); u8(2); u8(0); u8(0); u16(off);
		u8(PCI_BAR | W); u8(2); u64(0xfee00000); u8(0); u8(0); u16(off);
	}
	/* The capability list of slot 2 through CONF1, and MSI-X enabled there. */
	conf1_write(2, 0x04, 0x0006);
	for (unsigned reg = 0x34; reg < 0x100; reg += 4) {
		u8(PCI_CONF1 | W); u8(2); u64(0x80000000u | 2 << 11 | reg); u8(0);
		u8(PCI_CONF1); u8(2); u8(4);
	}
	ecam(true, 2, 0x42, 1, 0xc000);
	/* Both BARs onto the same address; the reset register. */
	ecam(true, 2, 0x10, 2, 0xc0100000);
	u8(PCI_CONF1 | W); u8(0); u64(0x06); u8(1);
	emit("bars");
}

/* ---- fuzz_uart.c: room, then op (% 4: read, write, receive, drain) ---- */
static void uart_op(bool write, unsigned reg, uint8_t val)
{
	u8(write ? 1 : 0); u8(0); u64(val); u8(reg);
}

static void seeds_uart(void)
{
	u8(4);                                  /* the backend takes 4 bytes, then stalls */
	uart_op(true, 3, 0x80); uart_op(true, 0, 1); uart_op(true, 1, 0); uart_op(true, 3, 0x03);
	uart_op(true, 2, 0xc7); uart_op(true, 4, 0x0b); uart_op(true, 1, 0x0f);
	for (int i = 0; i < 8; i++)
		uart_op(true, 0, (uint8_t)('a' + i));
	uart_op(false, 2, 0); uart_op(false, 5, 0);
	u8(2); u8(20); bytes("0123456789abcdefghij", 20);
	for (int i = 0; i < 6; i++)
		uart_op(false, 0, 0);
	uart_op(false, 2, 0); uart_op(false, 5, 0); uart_op(false, 6, 0);
	u8(3); u8(16);
	uart_op(true, 4, 0x10);                 /* loopback */
	uart_op(true, 0, 'x'); uart_op(false, 0, 0);
	emit("echo");
}

/* ---- fuzz_i8042.c: op (% 5: data read, data write, status, command, Ctrl+Alt+Del) ---- */
static void kbc_data(uint8_t v) { u8(1); u8(0); u64(v); }
static void kbc_read(void) { u8(0); u8(0); u64(0); }
static void kbc_status(void) { u8(2); u8(0); u64(0); }
static void kbc_command(uint8_t v) { u8(3); u8(0); u64(v); }

/* Linux's i8042 probe and atkbd's, then Ctrl+Alt+Del: each answer read as Linux reads it. */
static void seeds_i8042(void)
{
	kbc_status();
	kbc_command(0xaa); kbc_status(); kbc_read();            /* self-test */
	kbc_command(0x20); kbc_read(); kbc_command(0x20); kbc_read();
	kbc_command(0x60); kbc_data(0x74);                      /* keyboard off, no IRQ */
	kbc_command(0xd1); kbc_data(0xdf); kbc_command(0xff);   /* A20, the null command */
	kbc_command(0xd3); kbc_data(0xf0); kbc_status(); kbc_read();    /* mux probe */
	kbc_command(0xd3); kbc_data(0x5a); kbc_status(); kbc_read();    /* AUX loop */
	kbc_command(0xa9); kbc_read(); kbc_command(0xab); kbc_read();
	kbc_command(0x60); kbc_data(0x65);                      /* keyboard on, IRQ 1 */
	const uint8_t kbd[] = { 0xf2, 0xf5, 0xed, 0x00, 0xf3, 0x00, 0xf4 };
	for (size_t i = 0; i < sizeof(kbd); i++) {
		kbc_data(kbd[i]);
		for (int j = 0; j < 3; j++) {
			kbc_status(); kbc_read();
		}
	}
	u8(4);                                                  /* Ctrl+Alt+Del */
	for (int i = 0; i < 8; i++) {
		kbc_status(); kbc_read();
	}
	emit("linux-probe");
	/* Untranslated, set 2; a second press, unread, and a third that does not fit. */
	kbc_command(0x60); kbc_data(0x25);
	kbc_data(0xf0); kbc_data(0x02); kbc_read(); kbc_read();
	u8(4); u8(4); u8(4);
	for (int i = 0; i < 24; i++)
		kbc_read();
	kbc_command(0xfe);                                      /* and the reset pulse */
	emit("set2-full");
}

/* ---- fuzz_ioapic.c ---- */
static void ioapic_reg(uint8_t sel, uint32_t val) { u8(2); u8(sel); u32(val); }

static void seeds_ioapic(void)
{
	ioapic_reg(0x10 + 2 * 4, 0x8030);       /* pin 4: level, vector 0x30, unmasked */
	ioapic_reg(0x11 + 2 * 4, 0x01000000);
	ioapic_reg(0x10 + 2 * 1, 0x0031);       /* pin 1: edge */
	u8(3); u8(0x80 | 4); u8(3); u8(0x80 | 1); u8(3); u8(1);
	u8(4); u8(0x30);                        /* EOI while still asserted: redelivers */
	u8(3); u8(4); u8(4); u8(0x30);
	u8(0); u8(2); u64(0); u8(0x10);         /* IOWIN read */
	u8(1); u8(2); u64(0x30); u8(0x40);      /* the EOI register */
	ioapic_reg(0x01, 0); ioapic_reg(0x00, 0x0f000000);
	emit("level");
}

/* ---- fuzz_boot.c: flags, kernel length and bytes, initrd length, command line ---- */
static uint8_t image[64 * 1024];

static void put(size_t off, uint64_t v, unsigned n) { memcpy(image + off, &v, n); }

static void boot_seed(const char *name, size_t image_len, uint32_t initrd_len)
{
	u8(1);                                  /* 64 MiB of RAM */
	u32(image_len); bytes(image, image_len);
	u32(initrd_len);
	bytes("console=ttyS0 root=/dev/vda", 27);
	emit(name);
	memset(image, 0, sizeof(image));
}

/* A bzImage as Linux's build makes them (tests/unit/test_bzimage.c). */
static size_t build_bzimage(unsigned setup_sects, size_t kernel_bytes)
{
	image[0x1f1] = (uint8_t)setup_sects;
	put(0x1fe, 0xaa55, 2);
	image[0x200] = 0xeb;
	image[0x201] = 0x6a;
	put(0x202, 0x53726448, 4);              /* "HdrS" */
	put(0x206, 0x020f, 2);
	image[0x211] = 0x01;                    /* LOADED_HIGH */
	put(0x22c, 0x7fffffff, 4);
	put(0x230, 0x200000, 4);
	image[0x234] = 1;
	image[0x236] = 0x03;                    /* XLF_KERNEL_64, above 4 GiB */
	put(0x238, 2047, 4);
	put(0x258, 0x1000000, 8);
	put(0x260, 0x400000, 4);                /* init_size */
	for (size_t i = 0; i < kernel_bytes; i++)
		image[(setup_sects + 1) * 512 + i] = (uint8_t)(i * 13 + 1);
	return (setup_sects + 1) * 512 + kernel_bytes;
}

/* An ELF64 with one PT_LOAD at 1 MiB and the PVH note (tests/unit/test_pvh_elf.c). */
static size_t build_pvh_elf(bool elf32)
{
	static const uint8_t ident[] = { 0x7f, 'E', 'L', 'F' };
	memcpy(image, ident, 4);
	image[5] = 1; image[6] = 1;             /* little-endian, EV_CURRENT */
	uint32_t note[6] = { 4, elf32 ? 4 : 8, 18, 0x006e6558 /* "Xen\0" */, 0x100000, 0 };
	if (!elf32) {
		image[4] = 2;                   /* ELFCLASS64 */
		put(16, 2, 2); put(18, 62, 2); put(20, 1, 4);   /* ET_EXEC, EM_X86_64 */
		put(24, 0x100000, 8); put(32, 64, 8);           /* entry, phoff */
		put(52, 64, 2); put(54, 56, 2); put(56, 2, 2);  /* ehsize, phentsize, phnum */
		size_t ph = 64, data = 64 + 2 * 56;
		put(ph, 4, 4); put(ph + 8, data, 8); put(ph + 32, sizeof(note), 8);    /* PT_NOTE */
		memcpy(image + data, note, sizeof(note));
		ph += 56;
		data += sizeof(note);
		put(ph, 1, 4); put(ph + 8, data, 8);                    /* PT_LOAD */
		put(ph + 16, 0x100000, 8); put(ph + 24, 0x100000, 8);
		put(ph + 32, 256, 8); put(ph + 40, 0x2000, 8);
		memset(image + data, 0x90, 256);
		return data + 256;
	}
	image[4] = 1;                           /* ELFCLASS32 */
	put(16, 2, 2); put(18, 3, 2); put(20, 1, 4);            /* ET_EXEC, EM_386 */
	put(24, 0x100000, 4); put(28, 52, 4);
	put(40, 52, 2); put(42, 32, 2); put(44, 2, 2);
	size_t ph = 52, data = 52 + 2 * 32;
	put(ph, 4, 4); put(ph + 4, data, 4); put(ph + 16, 20, 4);
	memcpy(image + data, note, 20);
	ph += 32;
	data += 20;
	put(ph, 1, 4); put(ph + 4, data, 4); put(ph + 8, 0x100000, 4); put(ph + 12, 0x100000, 4);
	put(ph + 16, 256, 4); put(ph + 20, 0x2000, 4);
	memset(image + data, 0x90, 256);
	return data + 256;
}

/* Multiboot with the address kludge (tests/unit/test_multiboot.c), and as a plain ELF. */
static size_t build_multiboot(uint32_t flags)
{
	uint32_t h[8] = { 0x1badb002, flags | (1u << 16), 0, 0x100040, 0x100000, 0x101000, 0x102000,
			  0x100080 };
	h[2] = (uint32_t)-(h[0] + h[1]);
	memcpy(image + 0x40, h, sizeof(h));
	memset(image + 0x80, 0x90, 16);
	return 0x1000;
}

static void seeds_bzimage(void)
{
	boot_seed("bzimage", build_bzimage(4, 4096), 4096);
	boot_seed("bzimage-no-initrd", build_bzimage(1, 512), 0);
}

static void seeds_pvh_elf(void)
{
	boot_seed("pvh-elf64", build_pvh_elf(false), 4096);
	boot_seed("pvh-elf32", build_pvh_elf(true), 0);
}

static void seeds_multiboot(void)
{
	boot_seed("multiboot-kludge", build_multiboot(0x3), 4096);
	boot_seed("multiboot-video", build_multiboot(0x7), 0);
}

static void seeds_boot(void)
{
	seeds_bzimage();
	seeds_pvh_elf();
	seeds_multiboot();
}

/* ---- fuzz_cli.c: argv, NUL-separated ---- */
static void args(const char *name, const char *const *argv)
{
	for (; *argv; argv++)
		bytes(*argv, strlen(*argv) + 1);
	len--;                                  /* no NUL after the last one */
	emit(name);
}

static void seeds_cli(void)
{
	args("run", (const char *const[]){ "run", "--kernel", "bzImage", "--initrd", "initrd.img",
		"--cmdline", "console=ttyS0", "--cpus", "4", "--memory", "2G", "--irqchip", "split",
		"--irq", "msi", "--disk", "path=disk.img,readonly=on,queues=2,serial=abc",
		"--net", "tap=tap0,mac=02:00:00:00:00:01,queues=2", "--rng", "--stats",
		"--", "guest", "args", NULL });
	args("disk-iothreads", (const char *const[]){ "run", "--disk",
		"path=a.img,direct=on,iothread=1", "--disk", "path=b,queues=4", "--dump-dtb", "x.dtb",
		"--irq-test-fds", "5,6", NULL });
	args("help", (const char *const[]){ "--help", NULL });
}

/* ---- fuzz_api_config.c: a selector byte, then JSON ---- */
static void json_seed(const char *name, unsigned selector, const char *json)
{
	u8(selector);
	bytes(json, strlen(json));
	emit(name);
}

static void seeds_api_config(void)
{
	json_seed("boot-source", 0, "{\"kernel_image_path\": \"/k\", \"boot_args\": \"console=ttyS0\", "
		  "\"initrd_path\": \"/i\"}");
	json_seed("machine", 1, "{\"vcpu_count\": 2, \"mem_size_mib\": 256, \"smt\": false, "
		  "\"track_dirty_pages\": false, \"cpu_template\": \"None\", \"huge_pages\": \"None\"}");
	json_seed("machine-patch", 2, "{\"vcpu_count\": 4}");
	json_seed("drive", 3, "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/r\", "
		  "\"is_root_device\": true, \"is_read_only\": true, \"partuuid\": \"abcd-01\", "
		  "\"cache_type\": \"Writeback\", \"io_engine\": \"Async\", "
		  "\"rate_limiter\": {\"bandwidth\": null, \"ops\": null}}");
	json_seed("net", 4, "{\"iface_id\": \"eth0\", \"guest_mac\": \"02:00:00:00:00:01\", "
		  "\"host_dev_name\": \"tap0\", \"rx_rate_limiter\": null}");
	json_seed("vsock", 5, "{\"guest_cid\": 3, \"uds_path\": \"/v.sock\", \"vsock_id\": \"v\"}");
	json_seed("logger", 6, "{\"log_path\": \"/l\", \"level\": \"debug\", \"show_level\": true, "
		  "\"show_log_origin\": false}");
	json_seed("metrics", 7, "{\"metrics_path\": \"/m\"}");
	json_seed("drive-patch", 8, "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/new\"}");
	json_seed("config-file", 9, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"drives\": [{\"drive_id\": \"a\", \"path_on_host\": \"/a\", \"is_root_device\": true}], "
		  "\"network-interfaces\": [{\"iface_id\": \"n\", \"host_dev_name\": \"t\"}], "
		  "\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"}, \"logger\": {\"level\": \"Info\"}, "
		  "\"metrics\": {\"metrics_path\": \"/m\"}}");
}

/* ---- fuzz_virtio_vsock.c: its device operation's host events and guest packets ---- */
enum { VS_CONNECT, VS_LINE, VS_SEND, VS_READ, VS_CLOSE, VS_LISTEN, VS_ACCEPT, VS_UNLISTEN,
       VS_PACKET, VS_RX };
#define VS_FIRST_PORT (1u << 30)        /* the device's first port for a host client */

static void vs_op(unsigned op) { u8(VF_DEVICE); u8(op); }

/* A guest packet with the right CIDs and type, len the payload's. */
static void vs_packet(uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags,
		      uint32_t buf_alloc, uint32_t fwd_cnt, const char *payload)
{
	size_t n = payload ? strlen(payload) : 0;
	vs_op(VS_PACKET); u8(0); u32(src_port); u32(dst_port); u16(op); u32(flags);
	u32(buf_alloc); u32(fwd_cnt); u16(n); bytes(payload, n);
}

static void vs_rx(unsigned count, uint32_t len) { vs_op(VS_RX); u8(count - 1); u32(len); }
static void vs_send(unsigned client, const char *s)
{
	vs_op(VS_SEND); u8(client); u8(0); u8(strlen(s)); bytes(s, strlen(s));
}

/* A host client's CONNECT 1234 answered by the guest: the connection open. */
static void vs_host_open(uint32_t buf_alloc)
{
	vf_bring_up(0, 4);
	vs_rx(8, 0x11000);
	vs_op(VS_CONNECT);
	vs_op(VS_LINE); u8(0); u8(0); u32(1234);
	vf_poll();
	vs_packet(1234, VS_FIRST_PORT, VIRTIO_VSOCK_OP_RESPONSE, 0, buf_alloc, 0, NULL);
	vf_poll();
	vs_op(VS_READ); u8(0);                  /* "OK 1073741824\n" */
}

static void seeds_virtio_vsock(void)
{
	vs_host_open(65536);
	vs_send(0, "hello guest");
	vf_poll();
	vs_packet(1234, VS_FIRST_PORT, VIRTIO_VSOCK_OP_RW, 0, 65536, 11, "hello host");
	vf_poll();
	vs_op(VS_READ); u8(0);
	emit("host-connect");
	/* The guest's REQUEST to a listening host port 5000, then bytes both ways and SHUTDOWN. */
	vs_op(VS_LISTEN); u8(0); u32(5000);
	vf_bring_up(0, 4);
	vs_rx(8, 0x11000);
	vs_packet(1025, 5000, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL);
	vf_poll();
	vs_op(VS_ACCEPT); u8(0);
	vs_packet(1025, 5000, VIRTIO_VSOCK_OP_RW, 0, 65536, 0, "ping");
	vf_poll();
	vs_op(VS_READ); u8(0);
	vs_send(0, "pong");
	vf_poll();
	vs_packet(1025, 5000, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND |
		  VIRTIO_VSOCK_SHUTDOWN_RCV, 65536, 4, NULL);
	vf_poll();
	emit("guest-connect");
	/* A guest credit of 16 bytes: the device stops, asks, and goes on after an update. */
	vs_host_open(16);
	vs_op(VS_SEND); u8(0); u8(7); u8(32);
	bytes("0123456789abcdef0123456789abcdef", 32);
	vf_poll();
	vs_packet(1234, VS_FIRST_PORT, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, 16, 16, NULL);
	vf_poll();
	vs_packet(1234, VS_FIRST_PORT, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, 4096, 32, NULL);
	vf_poll();
	emit("credit");
	/* The host closes its writing side: SHUTDOWN to the guest; the guest shuts both ways. */
	vs_host_open(65536);
	vs_send(0, "last words");
	vs_op(VS_CLOSE); u8(0); u8(1);
	vf_poll();
	vs_packet(1234, VS_FIRST_PORT, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND |
		  VIRTIO_VSOCK_SHUTDOWN_RCV, 65536, 0, NULL);
	vf_poll();
	emit("shutdown");
	/* The guest resets an open connection, and asks for a port nobody listens on. */
	vs_host_open(65536);
	vs_packet(1234, VS_FIRST_PORT, VIRTIO_VSOCK_OP_RST, 0, 0, 0, NULL);
	vs_packet(1026, 6000, VIRTIO_VSOCK_OP_REQUEST, 0, 65536, 0, NULL);
	vf_poll();
	emit("rst");
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
	{ "virtio-mmio", seeds_virtio_mmio },
	{ "virtio-vsock", seeds_virtio_vsock },
	{ "pci", seeds_pci },
	{ "uart", seeds_uart },
	{ "i8042", seeds_i8042 },
	{ "ioapic", seeds_ioapic },
	{ "boot", seeds_boot },
	{ "bzimage", seeds_bzimage },
	{ "pvh-elf", seeds_pvh_elf },
	{ "multiboot", seeds_multiboot },
	{ "cli", seeds_cli },
	{ "api-config", seeds_api_config },
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
