#include "services/log.h"

#include <stdarg.h>
#include <stdio.h>

void log_guest_warning(unsigned *budget, const char *fmt, ...)
{
	va_list ap;
	char msg[256];

	if (!*budget)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line each: a hostile guest must not be able to fill the host's logs. */
	fprintf(stderr, "ringvm: warning: %s%s\n", msg,
		--*budget ? "" : " (further warnings from this device suppressed)");
}
