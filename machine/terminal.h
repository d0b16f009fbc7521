/* The controlling terminal: raw mode while the guest owns the console, restored after. */
#ifndef RINGVM_TERMINAL_H
#define RINGVM_TERMINAL_H

#include <stdbool.h>
#include <termios.h>

struct terminal {
	int fd;
	bool raw;                   /* saved holds the settings to restore */
	struct termios saved;
};

/* Puts fd in raw mode if it is a terminal (keys go to the guest, not to signals). */
int terminal_make_raw(struct terminal *term, int fd);

/* Restores the saved settings; safe to call more than once. */
void terminal_restore(struct terminal *term);

#endif
