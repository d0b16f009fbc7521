#include "machine/terminal.h"

#include <errno.h>
#include <unistd.h>

int terminal_make_raw(struct terminal *term, int fd)
{
	struct termios raw;

	term->fd = fd;
	term->raw = false;
	if (!isatty(fd))
		return 0;
	if (tcgetattr(fd, &term->saved))
		return -errno;
	raw = term->saved;
	cfmakeraw(&raw);
	/* Keep output post-processing: the host terminal still turns LF into CRLF. */
	raw.c_oflag |= OPOST;
	if (tcsetattr(fd, TCSANOW, &raw))
		return -errno;
	term->raw = true;
	return 0;
}

void terminal_restore(struct terminal *term)
{
	if (!term->raw)
		return;
	/* TCSADRAIN: the guest's last words reach the screen before cooked mode returns. */
	tcsetattr(term->fd, TCSADRAIN, &term->saved);
	term->raw = false;
}
