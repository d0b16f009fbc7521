/* A failure's one-line description, carried up to the one place that prints it. */
#ifndef RINGVM_ERROR_H
#define RINGVM_ERROR_H

#define ERROR_MSG_MAX 320

struct error {
	int code;                  /* positive errno of the first failure, 0 if none */
	char msg[ERROR_MSG_MAX];   /* what failed, in words a user can act on */
};

/* Records a failure (the first one wins) and returns -errnum. */
int error_set(struct error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like error_set, with ": strerror(errnum)" appended to the message. */
int error_sys(struct error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
