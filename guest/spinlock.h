/* Test-and-set spinlock: enough for CPUs taking turns at the console. */
#ifndef RINGVM_GUEST_SPINLOCK_H
#define RINGVM_GUEST_SPINLOCK_H

#include <stdbool.h>

#include "cpu.h"

struct spinlock {
	int locked;
};

/* Tries once to take the lock; true when it was free. */
static inline bool spin_trylock(struct spinlock *lock)
{
	return !__atomic_exchange_n(&lock->locked, 1, __ATOMIC_ACQUIRE);
}

/* Takes the lock, spinning on a plain read so waiters don't bounce the line. */
static inline void spin_lock(struct spinlock *lock)
{
	while (!spin_trylock(lock))
		while (__atomic_load_n(&lock->locked, __ATOMIC_RELAXED))
			cpu_relax();
}

/* Releases the lock. */
static inline void spin_unlock(struct spinlock *lock)
{
	__atomic_store_n(&lock->locked, 0, __ATOMIC_RELEASE);
}

#endif
