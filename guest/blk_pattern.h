/*
 * The pattern the block tests leave on a disk, so that the host can check
 * it: sector LBA holds LBA as a little-endian 64-bit number in bytes 0-7, the
 * seed in bytes 8-15, ~LBA in bytes 504-511 and zeros between. Three stores
 * per sector to make and three loads to check: the zeros are never written
 * by the guest (its buffers start zeroed and only the tags change), and a
 * sector read back in the wrong place or cut short loses a tag.
 */
#ifndef RINGVM_GUEST_BLK_PATTERN_H
#define RINGVM_GUEST_BLK_PATTERN_H

#include <stdint.h>

/* The seed: blk.seed=N, default 1; NULL or what was wrong with the word. */
const char *blk_pattern_seed(uint64_t *seed);

/* Tags sectors [lba, lba + sectors) in buf, whose bytes between the tags must be zero. */
void blk_pattern_fill(void *buf, uint64_t lba, uint32_t sectors, uint64_t seed);

/* The first of the sectors in buf whose tags are wrong, or sectors when all are right. */
uint32_t blk_pattern_check(const void *buf, uint64_t lba, uint32_t sectors, uint64_t seed);

#endif
