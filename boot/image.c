#include "boot/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "services/size.h"

int boot_image_read(const char *path, const char *what, uint64_t max_size,
		    struct boot_image *img, struct error *err)
{
	struct stat st;
	char limit[32];

	*img = (struct boot_image){ .name = path };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_sys(err, errno, "cannot open %s '%s'", what, path);
	int r = 0;
	if (fstat(fd, &st)) {
		r = error_sys(err, errno, "cannot stat %s '%s'", what, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = error_set(err, EINVAL, "%s '%s' is not a regular file", what, path);
		goto out;
	}
	if (st.st_size == 0) {
		r = error_set(err, EINVAL, "%s '%s' is empty", what, path);
		goto out;
	}
	if ((uint64_t)st.st_size > max_size) {
		r = error_set(err, EFBIG, "%s '%s' (%lld bytes) does not fit in %s of guest RAM",
			      what, path, (long long)st.st_size, size_format(max_size, limit, sizeof(limit)));
		goto out;
	}
	uint8_t *data = malloc((size_t)st.st_size);
	if (!data) {
		r = error_set(err, ENOMEM, "out of memory reading %s '%s'", what, path);
		goto out;
	}
	size_t done = 0;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, data + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A file that shrank under us reads short: report it rather than boot half. */
			r = n < 0 ? error_sys(err, errno, "cannot read %s '%s'", what, path)
				  : error_set(err, EIO, "%s '%s' shrank while being read", what, path);
			free(data);
			goto out;
		}
		done += (size_t)n;
	}
	img->data = data;
	img->size = done;
	img->owned = true;
out:
	close(fd);
	return r;
}

void boot_image_free(struct boot_image *img)
{
	if (img->owned)
		free((void *)img->data);
	img->data = NULL;
	img->owned = false;
}
