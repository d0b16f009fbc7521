#include "services/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

static int error_vset(struct error *err, int errnum, int with_strerror,
		      const char *fmt, va_list ap)
{
	if (errnum <= 0)
		errnum = EINVAL; /* a caller bug must still read as a failure */
	/* The first failure is the cause; what follows is usually its echo. */
	if (err->code)
		return -errnum;
	err->code = errnum;
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (with_strerror && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	return -errnum;
}

int error_set(struct error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_vset(err, errnum, 0, fmt, ap);
	va_end(ap);
	return r;
}

int error_sys(struct error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = error_vset(err, errnum, 1, fmt, ap);
	va_end(ap);
	return r;
}
