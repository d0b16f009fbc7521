/* Ending the guest: the status goes to the VMM through the debug-exit port. */
#ifndef RINGVM_GUEST_EXIT_H
#define RINGVM_GUEST_EXIT_H

#define EXIT_PASS      0
#define EXIT_FAIL      1
#define EXIT_EXCEPTION 3

/* Drains the UART, writes status to the exit port, and halts if the VMM carries on. */
_Noreturn void guest_exit(int status);

#endif
