/* Warnings about what a guest did: printed, rate-limited by the caller's budget. */
#ifndef RINGVM_LOG_H
#define RINGVM_LOG_H

/* Prints "ringvm: warning: ..." if *budget allows, and spends one; the last says so. */
void log_guest_warning(unsigned *budget, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
