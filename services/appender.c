#include "services/appender.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/util.h"

struct appender_line {
	struct loop_op op;
	struct appender *a;
	size_t len;
	char text[];
};

int appender_open(struct appender *a, struct loop *loop, const char *path, const char *what,
		  struct error *err)
{
	/* Read-write and non-blocking, as Firecracker opens them: a FIFO opens with no reader yet. */
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);

	if (fd < 0)
		return error_sys(err, errno, "%s: cannot open '%s'", what, path);
	appender_close(a);
	*a = (struct appender){ .loop = loop, .fd = fd };
	return 0;
}

static void appender_done(struct loop_op *op, int res, unsigned flags)
{
	struct appender_line *line = container_of(op, struct appender_line, op);

	(void)flags;
	line->a->in_flight--;
	if (res == (int)line->len)
		line->a->written++;
	else
		line->a->failed++;     /* a short write to a FIFO is one lost line, not a retry */
	free(line);
}

bool appender_write(struct appender *a, const char *text)
{
	size_t len = strlen(text);

	if (a->fd < 0 || a->in_flight >= APPENDER_MAX_IN_FLIGHT || loop_closing(a->loop)) {
		a->dropped++;
		return false;
	}
	struct appender_line *line = malloc(sizeof(*line) + len);
	if (!line) {
		a->dropped++;
		return false;
	}
	line->op.complete = appender_done;
	line->a = a;
	line->len = len;
	memcpy(line->text, text, len);
	a->in_flight++;
	/* Offset -1: the file's position, which O_APPEND keeps at its end. */
	io_uring_prep_write(loop_sqe(a->loop, &line->op), a->fd, line->text, (unsigned)len, (__u64)-1);
	return true;
}

void appender_close(struct appender *a)
{
	if (a->fd > 0)
		close(a->fd);
	a->fd = -1;
}
