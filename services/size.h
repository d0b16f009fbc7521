/* Byte sizes as users write them: "512M", "2G", "4096K". */
#ifndef RINGVM_SIZE_H
#define RINGVM_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Parses a size with an optional K/M/G/T suffix (binary; "iB" or "B" may follow);
 * a bare number is in units of default_unit. Returns 0, -EINVAL or -ERANGE. */
int size_parse(const char *text, uint64_t default_unit, uint64_t *out);

/* Formats a size in the largest binary unit that divides it exactly ("512 MiB"). */
const char *size_format(uint64_t bytes, char *buf, size_t len);

#endif
