#include "devices/i8042.h"

#include <errno.h>
#include <string.h>

/* No uapi header has the 8042's registers (Linux keeps them in drivers/input/serio/i8042.h). */
#define STR_OBF       0x01    /* status: output buffer full */
#define STR_SYS       0x04    /* the system flag, from the command byte */
#define STR_CMD       0x08    /* the last write was a command */
#define STR_UNLOCKED  0x10    /* keyboard not inhibited (no keylock) */

#define CTR_KBDINT    0x01    /* command byte: IRQ 1 when the output buffer fills */
#define CTR_SYSFLAG   0x04
#define CTR_KBDDIS    0x10    /* keyboard interface off: its bytes wait in the keyboard */
#define CTR_AUXDIS    0x20
#define CTR_XLATE     0x40    /* set 2 from the keyboard reaches the host as set 1 */

#define CMD_READ_CTR   0x20
#define CMD_WRITE_CTR  0x60
#define CMD_AUX_OFF    0xa7
#define CMD_AUX_ON     0xa8
#define CMD_AUX_TEST   0xa9
#define CMD_SELF_TEST  0xaa
#define CMD_KBD_TEST   0xab
#define CMD_KBD_OFF    0xad
#define CMD_KBD_ON     0xae
#define CMD_READ_OUTP  0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_WRITE_KBD_OUT 0xd2
#define CMD_WRITE_AUX_OUT 0xd3
#define CMD_WRITE_AUX  0xd4
#define CMD_PULSE      0xf0   /* 0xf0-0xff: pulse the output lines whose bit is 0 */

#define OUTP_RESET    0x01    /* the CPU reset line, active low */
#define OUTP_A20      0x02

#define SELF_TEST_OK  0x55
#define AUX_CLOCK_STUCK 0x01  /* AUX interface test: no port, its clock line never moves */

#define KBD_SET_LEDS  0xed
#define KBD_ECHO      0xee
#define KBD_SCAN_SET  0xf0
#define KBD_IDENTIFY  0xf2
#define KBD_TYPEMATIC 0xf3
#define KBD_ENABLE    0xf4
#define KBD_DISABLE   0xf5    /* and restore the defaults */
#define KBD_DEFAULTS  0xf6
#define KBD_RESET     0xff
#define KBD_ACK       0xfa
#define KBD_RESEND    0xfe    /* what a keyboard answers to what it does not know */
#define KBD_BAT_OK    0xaa
#define KBD_ID        0xab    /* an MF2 keyboard: 0xab, then 0x83 (0x41 translated) */

/* Ctrl, Alt, Delete pressed, then released in the opposite order. */
static const uint8_t cad_set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
static const uint8_t cad_set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71, 0xf0, 0x11,
				    0xf0, 0x14 };

/* IRQ 1 follows the output buffer, as the 8042's output line does. */
static void update_irq(struct i8042 *k)
{
	/* A refused change is the irq layer's to count, report, and try again next time. */
	int r = irq_set_level(k->irq, k->out_full && (k->ctr & CTR_KBDINT));
	(void)r;
}

/* The keyboard's next byte into the output buffer, when it is empty and the interface on. */
static void refill(struct i8042 *k)
{
	if (k->out_full || !k->kbd_count || (k->ctr & CTR_KBDDIS))
		return;
	k->out = k->kbd[k->kbd_head];
	k->kbd_head = (k->kbd_head + 1) % I8042_KBD_BUFFER;
	k->kbd_count--;
	k->out_full = k->out_from_kbd = true;
}

/* The keyboard sends a byte; one that finds its buffer full is lost, as on a real one. */
static void kbd_push(struct i8042 *k, uint8_t byte)
{
	if (k->kbd_count == I8042_KBD_BUFFER)
		return;
	k->kbd[(k->kbd_head + k->kbd_count++) % I8042_KBD_BUFFER] = byte;
}

static void kbd_clear(struct i8042 *k)
{
	k->kbd_head = k->kbd_count = 0;
}

/*
 * The controller answers a command. The output buffer is one byte; a keyboard byte
 * still unread there goes back to the front of the keyboard's buffer rather than
 * be lost, if there is room.
 */
static void respond(struct i8042 *k, uint8_t byte)
{
	if (k->out_full && k->out_from_kbd && k->kbd_count < I8042_KBD_BUFFER) {
		k->kbd_head = (k->kbd_head + I8042_KBD_BUFFER - 1) % I8042_KBD_BUFFER;
		k->kbd[k->kbd_head] = k->out;
		k->kbd_count++;
	}
	k->out = byte;
	k->out_full = true;
	k->out_from_kbd = false;
}

static void kbd_defaults(struct i8042 *k)
{
	k->kbd_set = 2;
	k->kbd_pending = 0;
}

/* The argument of a keyboard command that takes one. */
static void kbd_argument(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	if (cmd != KBD_SCAN_SET) {
		kbd_push(k, KBD_ACK);               /* LEDs, typematic rate: nothing to do */
		return;
	}
	if (v == 0) {
		kbd_push(k, KBD_ACK);
		kbd_push(k, k->kbd_set);
	} else if (v == 1 || v == 2) {
		k->kbd_set = v;
		kbd_push(k, KBD_ACK);
	} else {
		kbd_push(k, KBD_RESEND);            /* set 3 is not offered: Linux stays with 2 */
	}
}

/* A byte the guest writes to the keyboard. */
static void kbd_write(struct i8042 *k, uint8_t v)
{
	if (k->kbd_pending) {
		uint8_t cmd = k->kbd_pending;
		k->kbd_pending = 0;
		kbd_argument(k, cmd, v);
		return;
	}
	switch (v) {
	case KBD_SET_LEDS:
	case KBD_SCAN_SET:
	case KBD_TYPEMATIC:
		k->kbd_pending = v;
		kbd_push(k, KBD_ACK);
		break;
	case KBD_ECHO:
		kbd_push(k, KBD_ECHO);
		break;
	case KBD_IDENTIFY:
		kbd_push(k, KBD_ACK);
		kbd_push(k, KBD_ID);
		kbd_push(k, (k->ctr & CTR_XLATE) ? 0x41 : 0x83);
		break;
	case KBD_ENABLE:
		kbd_clear(k);
		k->kbd_scanning = true;
		kbd_push(k, KBD_ACK);
		break;
	case KBD_DISABLE:
	case KBD_DEFAULTS:
		kbd_clear(k);
		kbd_defaults(k);
		k->kbd_scanning = v == KBD_DEFAULTS;
		kbd_push(k, KBD_ACK);
		break;
	case KBD_RESET:
		kbd_clear(k);
		kbd_defaults(k);
		k->kbd_scanning = true;
		kbd_push(k, KBD_ACK);
		kbd_push(k, KBD_BAT_OK);
		break;
	default:
		/* 0xf7-0xfd (set 3's key types) are taken and mean nothing in sets 1 and 2. */
		kbd_push(k, v >= 0xf7 && v <= 0xfd ? KBD_ACK : KBD_RESEND);
		break;
	}
}

static void pulse_reset(struct i8042 *k)
{
	if (k->on_reset)
		k->on_reset(k->ctx);
}

/* The data byte of a controller command that takes one. */
static void command_data(struct i8042 *k, uint8_t cmd, uint8_t v)
{
	switch (cmd) {
	case CMD_WRITE_CTR:
		k->ctr = v;
		break;
	case CMD_WRITE_OUTP:
		k->output_port = v;
		if (!(v & OUTP_RESET))
			pulse_reset(k);
		break;
	case CMD_WRITE_KBD_OUT:
		respond(k, v);
		k->out_from_kbd = true;
		break;
	case CMD_WRITE_AUX_OUT:
		/*
		 * There is no AUX port to loop it through. The byte comes back on the
		 * keyboard's side, as an error (resend): Linux's AUX and multiplexer
		 * probes see no AUX data and give up at once, not after a 0.5 s timeout.
		 */
		respond(k, KBD_RESEND);
		break;
	default:
		break;      /* CMD_WRITE_AUX, 0x61-0x7f: no device, no RAM there */
	}
}

static void command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	if (cmd == CMD_READ_CTR) {
		respond(k, k->ctr);
	} else if (cmd > CMD_READ_CTR && cmd < CMD_WRITE_CTR) {
		respond(k, 0);                      /* the rest of the controller's RAM */
	} else if ((cmd >= CMD_WRITE_CTR && cmd < 0x80) || cmd == CMD_WRITE_OUTP ||
		   cmd == CMD_WRITE_KBD_OUT || cmd == CMD_WRITE_AUX_OUT || cmd == CMD_WRITE_AUX) {
		k->pending = cmd;
	} else if (cmd >= CMD_PULSE) {
		if (!(cmd & OUTP_RESET))
			pulse_reset(k);
	} else {
		switch (cmd) {
		case CMD_AUX_OFF:
			k->ctr |= CTR_AUXDIS;
			break;
		case CMD_AUX_ON:
			k->ctr &= ~CTR_AUXDIS;
			break;
		case CMD_AUX_TEST:
			respond(k, AUX_CLOCK_STUCK);
			break;
		case CMD_SELF_TEST:
			k->ctr |= CTR_SYSFLAG;
			respond(k, SELF_TEST_OK);
			break;
		case CMD_KBD_TEST:
			respond(k, 0);              /* no clock or data line stuck */
			break;
		case CMD_KBD_OFF:
			k->ctr |= CTR_KBDDIS;
			break;
		case CMD_KBD_ON:
			k->ctr &= ~CTR_KBDDIS;
			break;
		case CMD_READ_OUTP:
			respond(k, k->output_port);
			break;
		default:
			break;                      /* unknown: ignored, as by an 8042 */
		}
	}
}

static uint8_t status(const struct i8042 *k)
{
	return (uint8_t)((k->out_full ? STR_OBF : 0) | ((k->ctr & CTR_SYSFLAG) ? STR_SYS : 0) |
			 (k->last_was_command ? STR_CMD : 0) | STR_UNLOCKED);
}

void i8042_init(struct i8042 *k, struct irq_source *irq, void (*on_reset)(void *ctx), void *ctx)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->irq = irq;
	k->on_reset = on_reset;
	k->ctx = ctx;
	k->ctr = CTR_KBDINT | CTR_SYSFLAG | CTR_AUXDIS | CTR_XLATE;
	k->output_port = OUTP_RESET | OUTP_A20;
	kbd_defaults(k);
	k->kbd_scanning = true;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

void i8042_data_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->last_was_command = false;
		if (k->pending) {
			uint8_t cmd = k->pending;
			k->pending = 0;
			command_data(k, cmd, data[0]);
		} else {
			/* As on a PC, writing to the keyboard turns its interface back on. */
			k->ctr &= ~CTR_KBDDIS;
			kbd_write(k, data[0]);
		}
	} else {
		memset(data, 0, len);
		data[0] = k->out;           /* an empty buffer reads as its last byte */
		k->out_full = false;
		/* The line drops with the read, so that the next byte makes a new edge. */
		update_irq(k);
	}
	refill(k);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

void i8042_command_access(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			  bool is_write)
{
	struct i8042 *k = opaque;

	(void)offset;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->last_was_command = true;
		command(k, data[0]);
		refill(k);
		update_irq(k);
	} else {
		memset(data, 0, len);
		data[0] = status(k);
	}
	pthread_mutex_unlock(&k->lock);
}

int i8042_send_ctrl_alt_del(struct i8042 *k)
{
	int r = 0;

	pthread_mutex_lock(&k->lock);
	/* Set 2 through a translating controller, or set 1, reaches the guest as set 1. */
	bool set1 = k->kbd_set == 1 || (k->ctr & CTR_XLATE);
	const uint8_t *codes = set1 ? cad_set1 : cad_set2;
	unsigned n = set1 ? sizeof(cad_set1) : sizeof(cad_set2);
	if (!k->kbd_scanning) {
		r = -EAGAIN;
	} else if (k->kbd_count + n > I8042_KBD_BUFFER) {
		r = -ENOBUFS;               /* all of it or nothing: never a key left held */
	} else {
		for (unsigned i = 0; i < n; i++)
			kbd_push(k, codes[i]);
		refill(k);
		update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}
