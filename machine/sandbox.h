/* Seccomp-BPF per thread: each of ringvm's threads may make only the system calls it needs. */
#ifndef RINGVM_SANDBOX_H
#define RINGVM_SANDBOX_H

#include "services/error.h"

enum sandbox_role {
	SANDBOX_MAIN,       /* the main thread: the first I/O loop, then the teardown */
	SANDBOX_VCPU,       /* a vCPU thread: KVM_RUN and the device models it runs */
	SANDBOX_IOTHREAD,   /* an extra I/O thread: its io_uring loop */
};

enum sandbox_mode {
	SANDBOX_KILL,       /* a forbidden call ends ringvm with one line naming it (default) */
	SANDBOX_LOG,        /* a forbidden call is let through and logged by the kernel (audit) */
	SANDBOX_OFF,
};

/* Parses "kill", "log" or "off"; -EINVAL otherwise. */
int sandbox_parse_mode(const char *text, enum sandbox_mode *out);

/* On the calling thread, for good: installs role's allow-list, acting on the rest as mode says. */
int sandbox_apply(enum sandbox_role role, enum sandbox_mode mode, struct error *err);

#endif
