#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "machine/vm.h"

/*
 * vm_request_stop without KVM: a VM with only what a stop touches (its stop
 * record, its loop, its vCPUs' request state), which is all the stop path needs.
 */
static struct vm *vm;

static void setup(void)
{
	struct error err = { 0 };

	vm = calloc(1, sizeof(*vm));
	cr_assert_not_null(vm);
	pthread_mutex_init(&vm->stop.lock, NULL);
	cr_assert_eq(loop_init(&vm->loop, 8, &err), 0, "%s", err.msg);
	loop_start(&vm->loop);
	vm->nr_vcpus = 2;
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	cr_assert_not_null(vm->vcpus);
}

static void teardown(void)
{
	loop_cancel_all(&vm->loop, 2000);
	loop_destroy(&vm->loop);
	pthread_mutex_destroy(&vm->stop.lock);
	free(vm->vcpus);
	free(vm);
}

TestSuite(vm_stop, .init = setup, .fini = teardown, .timeout = 10);

static void *stop_from_vcpu(void *arg)
{
	(void)arg;
	usleep(50000);              /* the loop is asleep in the kernel by now */
	vm_request_stop(vm, STOP_GUEST_POWEROFF, 0);
	vm_request_stop(vm, STOP_ERROR, 1);     /* a second request while the first is pending */
	return NULL;
}

Test(vm_stop, a_request_from_a_vcpu_thread_wakes_the_blocked_loop)
{
	pthread_t th;

	pthread_create(&th, NULL, stop_from_vcpu, NULL);
	cr_assert_eq(loop_run(&vm->loop), 0, "loop_run has no timeout: only the request ends it");
	pthread_join(th, NULL);
	cr_assert_eq(vm->stop.reason, STOP_GUEST_POWEROFF, "the first request wins");
	cr_assert_eq(vm->stop.status, 0);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		cr_assert(atomic_load(&vm->vcpus[i].requests.bits) & VCPU_REQ_STOP, "vCPU %u told", i);
	/* The second request posted nothing: the loop has nothing left to run. */
	cr_assert_eq(loop_poll(&vm->loop, 100), 0);
}

/* A signal reaches vm_request_stop on the loop's own thread, before the loop waits. */
Test(vm_stop, a_request_on_the_loop_thread_is_not_lost)
{
	vm_request_stop(vm, STOP_SIGNAL, 128 + 15);
	vm_request_stop(vm, STOP_USER_QUIT, 0);
	cr_assert_eq(loop_run(&vm->loop), 0);
	cr_assert_eq(vm->stop.reason, STOP_SIGNAL);
	cr_assert_eq(vm->stop.status, 128 + 15);
}
