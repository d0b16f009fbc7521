/* virtio-rng behind virtio-pci, driven by virtio_fuzz.h's guest. */
#include "devices/virtio_rng.h"
#include "virtio_fuzz.h"

static struct vf rig;           /* large; fully reset by vf_init for each input */
static struct virtio_rng rng;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct error err = { 0 };

	vf_init(&rig);
	if (virtio_rng_init(&rng, &rig.mem, &rig.loop, -1, &err))
		fz_fail("virtio_rng_init: %s", err.msg);
	vf_plug(&rig, &rng.vdev);
	vf_run(&rig, &f, NULL);
	vf_finish(&rig);
	vf_fini(&rig);
	virtio_rng_destroy(&rng);
	return 0;
}
