#include "blk_pattern.h"

#include "cmdline.h"

#define WORDS_PER_SECTOR 64     /* 512 bytes of uint64_t */
#define DEFAULT_SEED     1

const char *blk_pattern_seed(uint64_t *seed)
{
	uint32_t value = DEFAULT_SEED;
	const char *err = cmdline_get_uint("blk.seed", UINT32_MAX, &value);

	*seed = value;
	return err;
}

void blk_pattern_fill(void *buf, uint64_t lba, uint32_t sectors, uint64_t seed)
{
	uint64_t *w = buf;

	for (uint64_t end = lba + sectors; lba < end; lba++, w += WORDS_PER_SECTOR) {
		w[0] = lba;
		w[1] = seed;
		w[WORDS_PER_SECTOR - 1] = ~lba;
	}
}

uint32_t blk_pattern_check(const void *buf, uint64_t lba, uint32_t sectors, uint64_t seed)
{
	const uint64_t *w = buf;
	uint32_t i;

	for (i = 0; i < sectors; i++, lba++, w += WORDS_PER_SECTOR)
		if (w[0] != lba || w[1] != seed || w[WORDS_PER_SECTOR - 1] != ~lba)
			break;
	return i;
}
