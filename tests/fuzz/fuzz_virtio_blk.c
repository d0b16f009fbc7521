/*
 * virtio-blk behind virtio-pci, on a 1 MiB image file, driven by virtio_fuzz.h's guest.
 * The image is made once per process (static, below): inputs only change its contents.
 */
#include <fcntl.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "virtio_fuzz.h"

static char image_path[64];     /* the process's image, made by LLVMFuzzerInitialize */
static struct vf rig;           /* large; fully reset by vf_init for each input */
static struct virtio_blk blk;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	snprintf(image_path, sizeof(image_path), "/tmp/ringvm-fuzz-blk-XXXXXX");
	int fd = mkstemp(image_path);
	if (fd < 0 || ftruncate(fd, 1 << 20))
		fz_fail("cannot make the disk image %s", image_path);
	close(fd);
	return 0;
}

__attribute__((destructor)) static void remove_image(void)
{
	if (image_path[0])
		unlink(image_path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct error err = { 0 };
	uint8_t shape = fz_u8(&f);
	struct disk_config cfg = { .queues = 1 + (shape & 3), .readonly = shape & 4 };
	struct blk_image img;

	strcpy(cfg.path, image_path);
	strcpy(cfg.serial, "fuzz-serial");
	vf_init(&rig);
	if (virtio_blk_open(&img, &cfg, &err))
		fz_fail("open %s: %s", image_path, err.msg);
	struct loop *loops[] = { &rig.loop };
	if (virtio_blk_init(&blk, &cfg, &img, 1, 0, &rig.mem, loops, 1, -1, &err))
		fz_fail("virtio_blk_init: %s", err.msg);
	vf_plug(&rig, &blk.vdev);
	vf_run(&rig, &f, NULL);
	vf_finish(&rig);
	vf_fini(&rig);
	virtio_blk_destroy(&blk);
	return 0;
}
