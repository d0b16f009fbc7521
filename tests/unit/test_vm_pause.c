#include <criterion/criterion.h>
#include <stdlib.h>
#include <unistd.h>

#include "machine/vm.h"

/*
 * PATCH /vm's pause without KVM: vCPU threads that run vcpu_thread's request checks
 * (STOP, then PAUSE, which parks) around a counter instead of KVM_RUN.
 */
static struct vm *vm;
static pthread_t threads[2];
static _Atomic unsigned long runs[2];
static bool parked_called;

static void *fake_vcpu(void *arg)
{
	struct vcpu *vcpu = arg;

	vcpu_requests_bind(&vcpu->requests);
	for (;;) {
		if (vcpu_check_request(&vcpu->requests, VCPU_REQ_STOP))
			break;
		if (vcpu_check_request(&vcpu->requests, VCPU_REQ_PAUSE))
			vm_park_vcpu(vm);
		if (vcpu_check_request(&vcpu->requests, VCPU_REQ_STOP))
			break;
		atomic_fetch_add(&runs[vcpu->index], 1);   /* "the guest ran" */
		usleep(200);
	}
	return NULL;
}

static void setup(void)
{
	struct error err = { 0 };

	vm = calloc(1, sizeof(*vm));
	cr_assert_not_null(vm);
	pthread_mutex_init(&vm->stop.lock, NULL);
	pthread_mutex_init(&vm->pause.lock, NULL);
	pthread_cond_init(&vm->pause.resume, NULL);
	cr_assert_eq(loop_init(&vm->loop, 8, &err), 0, "%s", err.msg);
	loop_start(&vm->loop);
	vm->nr_vcpus = 2;
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	cr_assert_not_null(vm->vcpus);
	parked_called = false;
	for (unsigned i = 0; i < 2; i++) {
		vm->vcpus[i].index = i;
		atomic_store(&runs[i], 0);
		pthread_create(&threads[i], NULL, fake_vcpu, &vm->vcpus[i]);
	}
}

static void teardown(void)
{
	vm_request_stop(vm, STOP_SIGNAL, 143);
	for (unsigned i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	loop_cancel_all(&vm->loop, 2000);
	loop_destroy(&vm->loop);
	free(vm->vcpus);
	free(vm);
}

TestSuite(vm_pause, .init = setup, .fini = teardown, .timeout = 10);

static void on_parked(void *ctx)
{
	*(bool *)ctx = true;
}

static void wait_parked(void)
{
	for (int i = 0; i < 200 && !parked_called; i++)
		loop_poll(&vm->loop, 10);
	cr_assert(parked_called, "every vCPU parked and the loop heard of it");
}

Test(vm_pause, pause_parks_every_vcpu_and_resume_lets_them_run)
{
	usleep(5000);
	vm_pause(vm, on_parked, &parked_called);
	wait_parked();
	cr_assert_eq(vm->pause.parked, 2);
	unsigned long before[2] = { atomic_load(&runs[0]), atomic_load(&runs[1]) };
	usleep(20000);
	cr_assert_eq(atomic_load(&runs[0]), before[0], "vCPU 0 ran while paused");
	cr_assert_eq(atomic_load(&runs[1]), before[1], "vCPU 1 ran while paused");
	vm_resume(vm);
	usleep(20000);
	cr_assert_gt(atomic_load(&runs[0]), before[0]);
	cr_assert_gt(atomic_load(&runs[1]), before[1]);
	/* A second pause works the same. */
	parked_called = false;
	vm_pause(vm, on_parked, &parked_called);
	wait_parked();
	vm_resume(vm);
}

Test(vm_pause, a_stop_releases_parked_vcpus)
{
	vm_pause(vm, on_parked, &parked_called);
	wait_parked();
	/* teardown's stop must get both threads out of their wait: join would hang otherwise. */
}

Test(vm_pause, a_resume_before_every_vcpu_parked_cancels_the_answer)
{
	vm_pause(vm, on_parked, &parked_called);
	vm_resume(vm);
	for (int i = 0; i < 20; i++)
		loop_poll(&vm->loop, 5);
	cr_assert(!parked_called, "a resumed pause is not answered as paused");
	usleep(10000);
	unsigned long before = atomic_load(&runs[0]);
	usleep(10000);
	cr_assert_gt(atomic_load(&runs[0]), before, "running again");
}
