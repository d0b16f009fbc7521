/* Doorbells: guest writes KVM turns into eventfd signals without leaving the kernel. */
#ifndef RINGVM_IOEVENTFD_H
#define RINGVM_IOEVENTFD_H

#include <stdbool.h>
#include <stdint.h>

struct ioeventfd {
	int vm_fd;
	int fd;                     /* the eventfd KVM signals */
	uint64_t addr;
	uint32_t len;               /* the exact write size that rings it */
	bool pio;
	bool match;                 /* only a write of data rings it */
	uint64_t data;
	bool assigned;
};

/* Makes a write of len bytes to addr (a port if pio) signal fd; returns 0 or -errno. */
int ioeventfd_assign(struct ioeventfd *ev, int vm_fd, int fd, uint64_t addr, uint32_t len,
		     bool pio);

/* The same for writes of exactly data when match (one register, a doorbell per value). */
int ioeventfd_assign_match(struct ioeventfd *ev, int vm_fd, int fd, uint64_t addr, uint32_t len,
			   bool pio, bool match, uint64_t data);

/* Undoes ioeventfd_assign (the eventfd stays open: it is the caller's). */
int ioeventfd_deassign(struct ioeventfd *ev);

#endif
