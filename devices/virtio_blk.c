#include "devices/virtio_blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/pci.h"
#include "services/log.h"
#include "services/util.h"

#define SECTOR              512ULL      /* virtio-blk's unit, whatever the block size (5.2.6) */
#define SEG_MAX             126         /* data buffers per request: the queue, less header and status */
#define MAX_RANGE_SECTORS   0x3fffff
#define ZERO_BUF            (256u << 10)    /* zero pages, never touched: no memory */
#define ZERO_IOVS           16              /* so one write of zeroes is up to 4 MiB */
/* The configuration up to write_zeroes_may_unmap and its padding; secure erase is not offered. */
#define CONFIG_SIZE         VIRTIO_CONFIG_UPTO(struct virtio_blk_config, unused1)

/* What a request's operation in flight is: it decides how a completion continues. */
enum step { STEP_ONE, STEP_DATA, STEP_FALLOCATE, STEP_FILL };

struct blk_request {
	struct vreq req;            /* the chain, and the session that took it */
	struct blk_queue *queue;
	struct loop_op op;          /* every SQE of the request completes here */
	uint32_t type;
	enum step step;
	int falloc_mode;            /* STEP_FALLOCATE's mode */
	bool unmap;                 /* WRITE_ZEROES may deallocate */
	uint64_t offset;            /* bytes into the image */
	uint8_t *status;            /* the last writable byte */
	struct iovec data[VIRTQ_CHAIN_MAX];
	unsigned nr_data;
	uint64_t data_len;          /* DISCARD and WRITE_ZEROES: the range's bytes */
	uint64_t done;              /* bytes transferred so far */
	uint64_t skipped;           /* of those, the bytes data[] was already advanced past */
	unsigned ops_left;
	int error;
};

/* --- requests ----------------------------------------------------------------- */

/* Every request ends here, whatever its session: the counters see each once. */
static void request_count(struct blk_request *r, uint8_t status)
{
	struct virtio_blk_counters *c = &r->queue->blk->counters;
	bool ok = status == VIRTIO_BLK_S_OK;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		VIRTIO_COUNT(c->reads, 1);
		if (ok)
			VIRTIO_COUNT(c->bytes_read, r->data_len);
		break;
	case VIRTIO_BLK_T_OUT:
		VIRTIO_COUNT(c->writes, 1);
		if (ok)
			VIRTIO_COUNT(c->bytes_written, r->data_len);
		break;
	case VIRTIO_BLK_T_FLUSH:
		VIRTIO_COUNT(c->flushes, 1);
		break;
	default:
		VIRTIO_COUNT(c->other, 1);
	}
	if (status == VIRTIO_BLK_S_IOERR)
		VIRTIO_COUNT(c->io_errors, 1);
	else if (status == VIRTIO_BLK_S_UNSUPP)
		VIRTIO_COUNT(c->unsupported, 1);
}

static void request_complete(struct blk_request *r, uint8_t status, uint32_t written)
{
	request_count(r, status);
	/* The status byte is the guest's memory of the session r belongs to: only while it lives. */
	if (vreq_live(&r->req))
		*r->status = status;
	vreq_complete(&r->req, written + 1);
}

static void request_submit(struct blk_request *r);
static void request_submit_range(struct blk_request *r);

/* Queues what a completed operation leaves to do; false if the request is finished. */
static bool request_continue(struct blk_request *r, int res)
{
	struct virtio_blk *blk = r->queue->blk;

	switch (r->step) {
	case STEP_ONE:
		return false;
	case STEP_DATA:
	case STEP_FILL:
		/* A short transfer (rare, but allowed) continues where it stopped. */
		if (r->error || r->done >= r->data_len || res <= 0)
			return false;
		if (r->step == STEP_DATA)
			request_submit(r);
		else
			request_submit_range(r);
		return true;
	case STEP_FALLOCATE:
		/*
		 * 9p, NFS, overlayfs: a mode the file system lacks is no fault of the
		 * guest's. Never asked again; this request goes the next way.
		 */
		if (r->error != -EOPNOTSUPP)
			return false;
		r->error = 0;
		if (r->falloc_mode & FALLOC_FL_PUNCH_HOLE)
			blk->punch_hole = false;
		else
			blk->zero_range = false;
		if (r->type == VIRTIO_BLK_T_DISCARD)
			return false;       /* a hint: nothing more is owed */
		request_submit_range(r);
		return true;
	}
	return false;
}

static void request_cqe(struct loop_op *op, int res, unsigned flags)
{
	struct blk_request *r = container_of(op, struct blk_request, op);

	(void)flags;
	if (res < 0 && !r->error)
		r->error = res;
	else if (res > 0)
		r->done += (uint64_t)res;
	if (--r->ops_left)
		return;
	if (vreq_live(&r->req) && request_continue(r, res))
		return;
	bool counted = r->step == STEP_DATA || r->step == STEP_FILL;
	uint8_t status = r->error || (counted && r->done != r->data_len) ? VIRTIO_BLK_S_IOERR :
									   VIRTIO_BLK_S_OK;
	request_complete(r, status, r->type == VIRTIO_BLK_T_IN && status == VIRTIO_BLK_S_OK ?
				    (uint32_t)r->data_len : 0);
}

/* Queues the data operation for what is left of r. */
static void request_submit(struct blk_request *r)
{
	struct virtio_blk *blk = r->queue->blk;
	uint64_t skip = r->done - r->skipped, offset = r->offset + r->done;
	bool write = r->type == VIRTIO_BLK_T_OUT;

	/* The iovec array is advanced past what a short transfer already did. */
	unsigned first = 0;
	while (first < r->nr_data && skip >= r->data[first].iov_len)
		skip -= r->data[first++].iov_len;
	r->data[first].iov_base = (uint8_t *)r->data[first].iov_base + skip;
	r->data[first].iov_len -= skip;
	r->skipped = r->done;
	r->step = STEP_DATA;
	struct io_uring_sqe *sqe = loop_sqe(r->queue->loop, &r->op);
	if (write)
		io_uring_prep_writev(sqe, blk->fd, &r->data[first], r->nr_data - first, offset);
	else
		io_uring_prep_readv(sqe, blk->fd, &r->data[first], r->nr_data - first, offset);
	r->ops_left = 1;
}

/*
 * Queues the next operation of a DISCARD or WRITE_ZEROES over what is left of its
 * range, the best way the file system still offers: WRITE_ZEROES deallocates only
 * where the driver allowed it, and writes zeroes where nothing else works.
 */
static void request_submit_range(struct blk_request *r)
{
	struct virtio_blk *blk = r->queue->blk;
	uint64_t offset = r->offset + r->done, left = r->data_len - r->done;
	struct io_uring_sqe *sqe = loop_sqe(r->queue->loop, &r->op);
	int mode = 0;

	r->ops_left = 1;
	if (r->type == VIRTIO_BLK_T_DISCARD || (r->unmap && blk->punch_hole))
		mode = FALLOC_FL_PUNCH_HOLE;
	else if (blk->zero_range)
		mode = FALLOC_FL_ZERO_RANGE;
	if (mode) {
		r->step = STEP_FALLOCATE;
		r->falloc_mode = mode | FALLOC_FL_KEEP_SIZE;
		io_uring_prep_fallocate(sqe, blk->fd, r->falloc_mode, offset, left);
		return;
	}
	r->step = STEP_FILL;
	r->nr_data = 0;
	while (left && r->nr_data < ZERO_IOVS) {
		size_t n = left < ZERO_BUF ? (size_t)left : ZERO_BUF;
		r->data[r->nr_data++] = (struct iovec){ .iov_base = blk->zeroes, .iov_len = n };
		left -= n;
	}
	io_uring_prep_writev(sqe, blk->fd, r->data, r->nr_data, offset);
}

/* Collects data buffers: writable ones but the status byte (IN), readable ones past the header. */
static void request_collect(struct blk_request *r, bool writable, uint64_t skip)
{
	const struct virtq_chain *c = &r->req.chain;
	unsigned from = writable ? c->nr_out : 0, to = writable ? c->nr_out + c->nr_in : c->nr_out;

	r->nr_data = 0;
	r->data_len = 0;
	for (unsigned i = from; i < to; i++) {
		struct iovec v = c->iov[i];
		if (writable && i == to - 1)
			v.iov_len--;                /* the status byte */
		if (skip >= v.iov_len) {
			skip -= v.iov_len;
			continue;
		}
		v.iov_base = (uint8_t *)v.iov_base + skip;
		v.iov_len -= skip;
		skip = 0;
		if (v.iov_len) {
			r->data[r->nr_data++] = v;
			r->data_len += v.iov_len;
		}
	}
}

static bool in_bounds(const struct virtio_blk *blk, uint64_t sector, uint64_t sectors)
{
	uint64_t capacity = atomic_load_explicit(&blk->capacity, memory_order_relaxed);

	return sector <= capacity && sectors <= capacity - sector;
}

/* Starts one request (the engine's start); -EINVAL if the guest broke the protocol. */
static int blk_start(void *dev, struct vreq *req)
{
	struct blk_queue *q = dev;
	struct virtio_blk *blk = q->blk;
	struct blk_request *r = container_of(req, struct blk_request, req);
	const struct virtq_chain *c = &req->chain;
	struct virtio_blk_outhdr hdr;

	r->queue = q;
	r->op.complete = request_cqe;

	/* Header first (readable), status last (writable): anything less is not a request. */
	if (c->out_len < sizeof(hdr) || c->in_len < 1) {
		snprintf(q->rq.vq->error, sizeof(q->rq.vq->error),
			 "request with %llu readable and %llu writable bytes",
			 (unsigned long long)c->out_len, (unsigned long long)c->in_len);
		return -EINVAL;
	}
	virtq_chain_read(c, 0, &hdr, sizeof(hdr));
	const struct iovec *last = &c->iov[c->nr_out + c->nr_in - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->type = hdr.type;
	r->step = STEP_ONE;
	r->done = r->skipped = 0;
	r->error = 0;
	r->ops_left = 0;
	r->offset = hdr.sector * SECTOR;

	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = hdr.type == VIRTIO_BLK_T_IN;
		/* Data only where the direction says: a read into readable memory is refused. */
		if ((in && c->out_len != sizeof(hdr)) || (!in && c->in_len != 1)) {
			snprintf(q->rq.vq->error, sizeof(q->rq.vq->error),
				 "%s request with data in the wrong direction", in ? "read" : "write");
			return -EINVAL;
		}
		request_collect(r, in, in ? 0 : sizeof(hdr));
		if (!in && blk->opt.readonly) {
			request_complete(r, VIRTIO_BLK_S_IOERR, 0);
			return 0;
		}
		if (r->data_len % SECTOR || hdr.sector > UINT64_MAX / SECTOR ||
		    !in_bounds(blk, hdr.sector, r->data_len / SECTOR)) {
			request_complete(r, VIRTIO_BLK_S_IOERR, 0);
			return 0;
		}
		if (!r->data_len) {
			request_complete(r, VIRTIO_BLK_S_OK, 0);
			return 0;
		}
		request_submit(r);
		break;
	}
	case VIRTIO_BLK_T_FLUSH: {
		struct io_uring_sqe *sqe = loop_sqe(q->loop, &r->op);
		io_uring_prep_fsync(sqe, blk->fd, IORING_FSYNC_DATASYNC);
		r->ops_left = 1;
		break;
	}
	case VIRTIO_BLK_T_GET_ID: {
		char id[BLK_SERIAL_MAX] = { 0 };
		memcpy(id, blk->opt.serial, strlen(blk->opt.serial));
		uint64_t room = c->in_len - 1;
		size_t n = room < sizeof(id) ? (size_t)room : sizeof(id);
		virtq_chain_write(c, 0, id, n);
		request_complete(r, VIRTIO_BLK_S_OK, (uint32_t)n);
		return 0;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		struct virtio_blk_discard_write_zeroes range;
		bool zeroes = hdr.type == VIRTIO_BLK_T_WRITE_ZEROES;
		if (!(zeroes ? blk->write_zeroes : blk->discard)) {
			request_complete(r, VIRTIO_BLK_S_UNSUPP, 0);
			return 0;
		}
		if (c->out_len < sizeof(hdr) + sizeof(range)) {
			request_complete(r, VIRTIO_BLK_S_IOERR, 0);
			return 0;
		}
		virtq_chain_read(c, sizeof(hdr), &range, sizeof(range));
		/* Only WRITE_ZEROES may ask to unmap; no other flag is defined. */
		if (range.flags & ~(zeroes ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0u)) {
			request_complete(r, VIRTIO_BLK_S_UNSUPP, 0);
			return 0;
		}
		if (range.num_sectors > MAX_RANGE_SECTORS ||
		    !in_bounds(blk, range.sector, range.num_sectors)) {
			request_complete(r, VIRTIO_BLK_S_IOERR, 0);
			return 0;
		}
		/* A discard the file system cannot do is a hint not taken: still a success. */
		if (!range.num_sectors || (!zeroes && !blk->punch_hole)) {
			request_complete(r, VIRTIO_BLK_S_OK, 0);
			return 0;
		}
		r->offset = range.sector * SECTOR;
		r->data_len = (uint64_t)range.num_sectors * SECTOR;
		r->unmap = range.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		request_submit_range(r);
		break;
	}
	default:
		request_complete(r, VIRTIO_BLK_S_UNSUPP, 0);
		return 0;
	}
	return 0;
}

/* --- the device ------------------------------------------------------------------ */

void virtio_blk_counters(const struct virtio_blk *blk, struct virtio_blk_counters *out)
{
	virtio_counters_snapshot(out, &blk->counters, sizeof(*out));
}

static void blk_queue_notify(void *impl, unsigned qi, struct virtq *vq)
{
	struct virtio_blk *blk = impl;

	vreq_queue_notify(&blk->queue[qi].rq, vq);
}

static void blk_config_read(void *impl, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_blk *blk = impl;
	/* Little-endian like virtio 1.x itself: the fields are stored as they are. */
	struct virtio_blk_config cfg = {
		.capacity = blk->capacity,
		.seg_max = SEG_MAX,
		.blk_size = SECTOR,
		.num_queues = (uint16_t)blk->nr_queues,
		.max_discard_sectors = MAX_RANGE_SECTORS,
		.max_discard_seg = 1,
		.discard_sector_alignment = 8,
		.max_write_zeroes_sectors = MAX_RANGE_SECTORS,
		.max_write_zeroes_seg = 1,
		.write_zeroes_may_unmap = 1,
	};

	memcpy(data, (const uint8_t *)&cfg + offset, len);
}

static void blk_config_write(void *impl, uint32_t offset, const uint8_t *data, uint32_t len)
{
	(void)impl, (void)offset, (void)data, (void)len;   /* nothing writable (no CONFIG_WCE) */
}

static int blk_activate(void *impl, uint64_t features)
{
	(void)impl, (void)features;
	return 0;
}

static bool blk_reset(void *impl, unsigned qi)
{
	struct virtio_blk *blk = impl;

	return vreq_queue_reset(&blk->queue[qi].rq);
}

static const struct virtio_device_ops blk_ops = {
	.queue_notify = blk_queue_notify,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.reset = blk_reset,
};

/*
 * Whether the file system punches holes, asked without changing the image: past
 * the end of the file, with the size kept, there is nothing to punch.
 */
static bool blk_probe_punch_hole(int fd, uint64_t size)
{
	return !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size, SECTOR);
}

int virtio_blk_open(struct blk_image *img, const struct disk_config *opt, struct error *err)
{
	const char *path = opt->path;
	int flags = (opt->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (opt->direct ? O_DIRECT : 0);
	struct stat st;
	int r = 0;

	*img = (struct blk_image){ .fd = open(path, flags) };
	if (img->fd < 0) {
		int e = errno;
		return error_set(err, e, "cannot open disk '%s': %s%s", path, strerror(e),
				 (e == EACCES || e == EROFS) && !opt->readonly ? " (readonly=on?)" : "");
	}
	if (fstat(img->fd, &st)) {
		r = error_sys(err, errno, "cannot stat disk '%s'", path);
		goto fail;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(img->fd, BLKGETSIZE64, &size)) {
			r = error_sys(err, errno, "cannot size disk '%s'", path);
			goto fail;
		}
	} else if (!S_ISREG(st.st_mode)) {
		r = error_set(err, EINVAL, "disk '%s' is neither a file nor a block device", path);
		goto fail;
	}
	/* An empty file is an empty disk (Kata's placeholders, filled later by PATCH /drives). */
	if (size && size < SECTOR) {
		r = error_set(err, EINVAL, "disk '%s' is smaller than one 512-byte sector", path);
		goto fail;
	}
	/* Two VMs writing one image corrupt it: refuse, as QEMU does. */
	if (flock(img->fd, (opt->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		r = error_set(err, errno, "disk '%s' is in use by another process", path);
		goto fail;
	}
	img->capacity = size / SECTOR;
	img->write_zeroes = S_ISREG(st.st_mode) && !opt->readonly;
	img->punch_hole = img->write_zeroes && blk_probe_punch_hole(img->fd, size);
	/* Not probed: zeroing even past the end allocates blocks there. Its first use tells. */
	img->zero_range = img->write_zeroes;
	return 0;
fail:
	virtio_blk_close(img);
	return r;
}

void virtio_blk_close(struct blk_image *img)
{
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

int virtio_blk_init(struct virtio_blk *blk, const struct disk_config *opt, struct blk_image *img,
		    unsigned nr_vcpus, unsigned index, struct guest_memory *mem,
		    struct loop *const *loops, unsigned nr_loops, int vm_fd, struct error *err)
{
	memset(blk, 0, sizeof(*blk));
	blk->fd = img->fd;
	img->fd = -1;
	blk->opt = *opt;
	atomic_init(&blk->capacity, img->capacity);
	blk->write_zeroes = img->write_zeroes;
	blk->discard = img->punch_hole;
	atomic_init(&blk->punch_hole, img->punch_hole);
	atomic_init(&blk->zero_range, img->zero_range);
	if (blk->write_zeroes) {
		void *zeroes = mmap(NULL, ZERO_BUF, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (zeroes == MAP_FAILED)
			return error_sys(err, errno, "cannot map zeroes for virtio-blk %u", index);
		blk->zeroes = zeroes;
	}
	blk->nr_queues = opt->queues ? opt->queues : (nr_vcpus < VIRTIO_MAX_QUEUES ? nr_vcpus : VIRTIO_MAX_QUEUES);
	if (!nr_loops)
		return error_set(err, EINVAL, "virtio-blk %u: no I/O thread for its queues", index);
	for (unsigned i = 0; i < blk->nr_queues; i++) {
		struct blk_queue *q = &blk->queue[i];
		q->blk = blk;
		q->index = i;
		q->loop = loops[i % nr_loops];
		if (vreq_queue_init(&q->rq, &blk->vdev, i, q->loop, sizeof(struct blk_request),
				    offsetof(struct blk_request, req), blk_start, q))
			return error_set(err, ENOMEM, "out of memory for virtio-blk %u's requests", index);
	}
	snprintf(blk->name, sizeof(blk->name), "virtio-blk %u", index);
	uint64_t features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
			    VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
			    (blk->discard ? VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) : 0) |
			    (blk->write_zeroes ? VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES) : 0) |
			    (opt->readonly ? VIRTIO_BIT(VIRTIO_BLK_F_RO) : 0) |
			    (blk->nr_queues > 1 ? VIRTIO_BIT(VIRTIO_BLK_F_MQ) : 0);
	struct virtio_device_info info = {
		.name = blk->name, .type = VIRTIO_ID_BLOCK, .pci_class = PCI_CLASS_CODE_STORAGE_OTHER,
		.features = features, .num_queues = blk->nr_queues, .config_size = CONFIG_SIZE,
	};
	int r = virtio_dev_init(&blk->vdev, &info, &blk_ops, blk, mem, loops, nr_loops, vm_fd);
	return r ? error_sys(err, -r, "cannot create virtio-blk %u", index) : 0;
}

int virtio_blk_replace_image(struct virtio_blk *blk, int fd, uint64_t size)
{
	struct stat now, next;
	int r = 0;

	/* The file it already has (a PATCH naming the same path): only the size may have changed. */
	if (!fstat(blk->fd, &now) && !fstat(fd, &next) && now.st_dev == next.st_dev &&
	    now.st_ino == next.st_ino) {
		close(fd);
		if (size < SECTOR)
			return -EINVAL;
		atomic_store(&blk->capacity, size / SECTOR);
		return 0;
	}
	if (size < SECTOR)
		r = -EINVAL;
	/* The old image's lock goes with it; the new one is taken as the first was. */
	else if (flock(fd, (blk->opt.readonly ? LOCK_SH : LOCK_EX) | LOCK_NB))
		r = -errno;
	/*
	 * One atomic step: queue threads keep using blk->fd, and requests already
	 * submitted keep the old file (the ring holds its own reference).
	 */
	else if (dup3(fd, blk->fd, O_CLOEXEC) < 0)
		r = -errno;
	close(fd);
	if (!r)
		atomic_store(&blk->capacity, size / SECTOR);
	return r;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	virtio_dev_destroy(&blk->vdev);
	for (unsigned i = 0; i < blk->nr_queues; i++)
		vreq_queue_destroy(&blk->queue[i].rq);
	if (blk->zeroes)
		munmap(blk->zeroes, ZERO_BUF);
	if (blk->fd >= 0)
		close(blk->fd);
}
