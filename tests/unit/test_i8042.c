/*
 * The i8042 and its keyboard, driven as Linux's i8042 and atkbd drivers drive them
 * (drivers/input/serio/i8042.c, drivers/input/keyboard/atkbd.c), with IRQ 1 on an
 * in-kernel-irqchip pin whose KVM_IRQ_LINE calls are recorded.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "abi/address_map.h"
#include "devices/i8042.h"
#include "irq_recorder.h"

#define STR_OBF      0x01
#define STR_SYS      0x04
#define STR_UNLOCKED 0x10
#define STR_AUXDATA  0x20
#define CTR_KBDINT   0x01
#define CTR_KBDDIS   0x10
#define CTR_XLATE    0x40

static struct irq_chip chip;
static struct irq_source src;
static struct irq_recorder *rec;
static struct i8042 kbc;
static int resets;

static void count_reset(void *ctx)
{
	(void)ctx;
	resets++;
}

static void setup(void)
{
	struct error err = { 0 };

	rec = rec_chip_init(&chip, IRQCHIP_KERNEL, IRQ_PATH_LINE);
	cr_assert_eq(irq_source_init_pin(&src, &chip, AM_I8042_IRQ, false, IRQ_PATH_LINE, -1, NULL,
					 &err), 0, "%s", err.msg);
	i8042_init(&kbc, &src, count_reset, NULL);
	rec_clear(rec);
	resets = 0;
}

static void teardown(void)
{
	i8042_destroy(&kbc);
	irq_source_destroy(&src);
	rec_chip_destroy(&chip, rec);
}

TestSuite(i8042, .init = setup, .fini = teardown);

static uint8_t status(void)
{
	uint8_t v = 0;
	i8042_command_access(&kbc, 0, &v, 1, false);
	return v;
}

static void command(uint8_t cmd)
{
	i8042_command_access(&kbc, 0, &cmd, 1, true);
}

static void data_write(uint8_t v)
{
	i8042_data_access(&kbc, 0, &v, 1, true);
}

static uint8_t data_read(void)
{
	uint8_t v = 0;
	i8042_data_access(&kbc, 0, &v, 1, false);
	return v;
}

/* Edges KVM saw on IRQ 1 (raises; each read lowers the line again). */
static unsigned raises(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < rec_count(rec, REC_LINE); i++)
		n += rec_nth(rec, REC_LINE, i).level;
	return n;
}

/* As i8042_command with one byte back: the byte, which must be there. */
static uint8_t answer(void)
{
	cr_assert(status() & STR_OBF, "the controller did not answer");
	return data_read();
}

/* As i8042_flush: what is waiting, read and dropped; how many. */
static unsigned flush(void)
{
	unsigned n = 0;
	while ((status() & STR_OBF) && n < 64) {
		data_read();
		n++;
	}
	return n;
}

static uint8_t read_ctr(void)
{
	command(0x20);
	return answer();
}

static void write_ctr(uint8_t ctr)
{
	command(0x60);
	data_write(ctr);
}

/* What the keyboard sends, read as the interrupt handler reads it: one byte per edge. */
static unsigned kbd_bytes(uint8_t *out, unsigned max)
{
	unsigned n = 0;
	while ((status() & STR_OBF) && n < max)
		out[n++] = data_read();
	return n;
}

/* Linux's i8042 probe, then atkbd's: every answer as they expect it. */
Test(i8042, the_linux_probe_sequence_gets_the_answers_linux_expects)
{
	uint8_t b[16];

	cr_assert_eq(flush(), 0, "i8042_controller_check: nothing waiting");
	cr_assert(status() & STR_UNLOCKED, "no keylock");
	command(0xaa);
	cr_assert_eq(answer(), 0x55, "controller self-test");
	cr_assert(status() & STR_SYS);
	uint8_t ctr = read_ctr();
	cr_assert_eq(read_ctr(), ctr, "a stable CTR");
	cr_assert(ctr & CTR_XLATE, "translating, as firmware leaves it: Linux keeps it");
	ctr = (uint8_t)((ctr | CTR_KBDDIS) & ~CTR_KBDINT);
	write_ctr(ctr);
	cr_assert_eq(read_ctr(), ctr);
	flush();
	/* x86: A20 through the output port, then the null command for SMM firmware. */
	command(0xd1);
	data_write(0xdf);
	command(0xff);
	cr_assert_eq(resets, 0, "neither resets");

	/* i8042_check_mux and i8042_check_aux: AUX_LOOP fails at once, AUX_TEST says no port. */
	flush();
	command(0xd3);
	data_write(0xf0);
	cr_assert(status() & STR_OBF, "an answer, not a 0.5 s timeout");
	cr_assert_not(status() & STR_AUXDATA, "not from an AUX port: Linux's auxerr");
	flush();
	command(0xd3);
	data_write(0x5a);
	cr_assert_not(status() & STR_AUXDATA);
	command(0xa9);
	uint8_t aux = answer();
	cr_assert(aux && aux != 0xfa && aux != 0xff, "AUX test %#x: Linux gives up on AUX", aux);
	command(0xab);
	cr_assert_eq(answer(), 0x00, "keyboard interface test");

	/* i8042_enable_kbd_port, then atkbd_probe and atkbd_activate over IRQ 1. */
	ctr = (uint8_t)((ctr & ~CTR_KBDDIS) | CTR_KBDINT);
	write_ctr(ctr);
	rec_clear(rec);
	data_write(0xf2);
	cr_assert_eq(kbd_bytes(b, 16), 3);
	cr_assert(b[0] == 0xfa && b[1] == 0xab && b[2] == 0x41, "ACK and a translated MF2 ID: "
		  "%02x %02x %02x", b[0], b[1], b[2]);
	cr_assert_eq(raises(), 3, "one edge per byte");
	data_write(0xf5);
	cr_assert_eq(kbd_bytes(b, 16), 1);
	cr_assert_eq(b[0], 0xfa, "deactivate");
	data_write(0xed);
	cr_assert_eq(kbd_bytes(b, 16), 1);
	data_write(0x00);
	cr_assert_eq(kbd_bytes(b, 16), 1);
	cr_assert_eq(b[0], 0xfa, "LEDs and their argument both acknowledged");
	data_write(0xf3);
	data_write(0x00);
	cr_assert_eq(kbd_bytes(b, 16), 2);
	cr_assert(b[0] == 0xfa && b[1] == 0xfa, "typematic rate");
	data_write(0xf4);
	cr_assert_eq(kbd_bytes(b, 16), 1);
	cr_assert_eq(b[0], 0xfa, "enable");
	data_write(0xff);
	cr_assert_eq(kbd_bytes(b, 16), 2);
	cr_assert(b[0] == 0xfa && b[1] == 0xaa, "reset: ACK, then its self-test passed");
	data_write(0xe5);
	cr_assert_eq(kbd_bytes(b, 16), 1);
	cr_assert_eq(b[0], 0xfe, "an unknown keyboard command: resend");
	cr_assert_eq(resets, 0);
}

static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11,
				    0xf0, 0x14 };

Test(i8042, ctrl_alt_del_through_a_translating_controller_is_set_1)
{
	uint8_t b[32];

	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
	cr_assert_eq(raises(), 1, "IRQ 1 for the first byte");
	unsigned n = kbd_bytes(b, sizeof(b));
	cr_assert_eq(n, sizeof(cad_set1));
	cr_assert_eq(memcmp(b, cad_set1, n), 0, "Ctrl, Alt, Delete down, then up");
	cr_assert_eq(raises(), n, "an edge per byte: Linux reads one per interrupt");
	cr_assert_not(status() & STR_OBF, "nothing more");
}

Test(i8042, ctrl_alt_del_untranslated_is_set_2)
{
	uint8_t b[32];

	write_ctr((uint8_t)(read_ctr() & ~CTR_XLATE));
	data_write(0xf0);                   /* the scan code set: ask */
	data_write(0x00);
	cr_assert_eq(kbd_bytes(b, sizeof(b)), 3);
	cr_assert(b[0] == 0xfa && b[1] == 0xfa && b[2] == 2, "set 2");
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
	unsigned n = kbd_bytes(b, sizeof(b));
	cr_assert_eq(n, sizeof(cad_set2));
	cr_assert_eq(memcmp(b, cad_set2, n), 0);
	/* The guest picks set 1 without translation: set 1 it gets. */
	data_write(0xf0);
	data_write(0x01);
	cr_assert_eq(kbd_bytes(b, sizeof(b)), 2);
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
	n = kbd_bytes(b, sizeof(b));
	cr_assert_eq(n, sizeof(cad_set1));
	cr_assert_eq(memcmp(b, cad_set1, n), 0);
}

Test(i8042, no_interrupt_while_the_guest_has_it_off)
{
	write_ctr((uint8_t)(read_ctr() & ~CTR_KBDINT));
	rec_clear(rec);
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
	cr_assert_eq(raises(), 0);
	cr_assert(status() & STR_OBF, "polled, the byte is there");
	cr_assert_eq(data_read(), cad_set1[0]);
}

Test(i8042, keys_wait_while_the_keyboard_interface_is_off)
{
	command(0xad);
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
	cr_assert_not(status() & STR_OBF, "held in the keyboard");
	command(0xae);
	cr_assert(status() & STR_OBF);
	cr_assert_eq(data_read(), cad_set1[0]);
}

Test(i8042, a_disabled_keyboard_sends_nothing)
{
	uint8_t b[8];

	data_write(0xf5);
	kbd_bytes(b, sizeof(b));
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), -EAGAIN);
	cr_assert_not(status() & STR_OBF);
	data_write(0xf4);
	kbd_bytes(b, sizeof(b));
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
}

/* The guest's controller commands while keys wait: the keys are not lost. */
Test(i8042, a_controller_answer_loses_no_key)
{
	uint8_t b[32];

	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
	uint8_t ctr = read_ctr();
	cr_assert(ctr & CTR_XLATE, "the CTR, not a scan code: %#x", ctr);
	unsigned n = kbd_bytes(b, sizeof(b));
	cr_assert_eq(n, sizeof(cad_set1));
	cr_assert_eq(memcmp(b, cad_set1, n), 0);
}

Test(i8042, the_output_is_bounded)
{
	uint8_t b[64];

	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0, "one in the output, 15 in the keyboard");
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), -ENOBUFS, "all or nothing");
	cr_assert_leq(kbc.kbd_count, I8042_KBD_BUFFER);
	/* A guest that asks for its ID over and over and never reads. */
	for (int i = 0; i < 1000; i++)
		data_write(0xf2);
	cr_assert_leq(kbc.kbd_count, I8042_KBD_BUFFER);
	unsigned n = kbd_bytes(b, sizeof(b));
	cr_assert_leq(n, I8042_KBD_BUFFER + 1, "%u bytes", n);
	cr_assert_eq(memcmp(b, cad_set1, sizeof(cad_set1)), 0, "what came first, intact");
}

Test(i8042, the_reset_pulses_reset)
{
	command(0xfe);
	cr_assert_eq(resets, 1, "the CPU reset pulse");
	command(0xff);
	cr_assert_eq(resets, 1, "pulses nothing");
	command(0xf0);
	cr_assert_eq(resets, 2, "pulses every line, reset among them");
	command(0xd1);
	data_write(0xde);
	cr_assert_eq(resets, 3, "the output port's reset line driven low");
	command(0xd0);
	cr_assert_eq(answer(), 0xde);
}

/* A hostile guest: every command, random data, reads of an empty buffer. */
Test(i8042, garbage_breaks_nothing)
{
	uint32_t x = 12345;

	cr_assert_eq(data_read(), data_read(), "an empty buffer reads the same, harmlessly");
	for (unsigned i = 0; i < 100000; i++) {
		x = x * 1103515245u + 12345u;
		uint8_t v = (uint8_t)(x >> 16);
		switch ((x >> 28) % 4) {
		case 0:
			command(v);
			break;
		case 1:
			data_write(v);
			break;
		case 2:
			data_read();
			break;
		default:
			status();
			break;
		}
		rec_clear(rec);
		cr_assert_leq(kbc.kbd_count, I8042_KBD_BUFFER);
		cr_assert_lt(kbc.kbd_head, I8042_KBD_BUFFER);
	}
	cr_assert_gt(resets, 0, "reset pulses among them, each only asked for");
	/* And a clean probe still works. */
	flush();
	command(0xaa);
	cr_assert_eq(answer(), 0x55);
	write_ctr(CTR_KBDINT | CTR_XLATE);
	data_write(0xf4);                   /* whatever argument the keyboard still waited for */
	flush();
	data_write(0xff);
	uint8_t b[8];
	cr_assert_eq(kbd_bytes(b, sizeof(b)), 2);
	cr_assert(b[0] == 0xfa && b[1] == 0xaa);
	cr_assert_eq(i8042_send_ctrl_alt_del(&kbc), 0);
	cr_assert_eq(kbd_bytes(b, sizeof(b)), sizeof(cad_set1));
}

/* send_ctrl_alt_del comes from another thread than the vCPU's: the lock holds it together. */
static void *sender(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++)
		(void)i8042_send_ctrl_alt_del(&kbc);
	return NULL;
}

Test(i8042, keys_from_another_thread_arrive_whole, .timeout = 20)
{
	pthread_t t;
	uint8_t seen[8];
	unsigned at = 0, sequences = 0;

	cr_assert_eq(pthread_create(&t, NULL, sender, NULL), 0);
	for (int i = 0; i < 200000; i++) {
		rec_clear(rec);
		if (!(status() & STR_OBF))
			continue;
		seen[at] = data_read();
		cr_assert_eq(seen[at], cad_set1[at], "byte %u of a sequence", at);
		if (++at == sizeof(cad_set1)) {
			at = 0;
			sequences++;
		}
	}
	pthread_join(t, NULL);
	while (status() & STR_OBF) {
		rec_clear(rec);
		cr_assert_eq(data_read(), cad_set1[at]);
		if (++at == sizeof(cad_set1)) {
			at = 0;
			sequences++;
		}
	}
	cr_assert_eq(at, 0, "no sequence cut short");
	cr_assert_gt(sequences, 0);
}
