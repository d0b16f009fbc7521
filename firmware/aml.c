#include "firmware/aml.h"

#include <string.h>

#define AML_NAME_OP     0x08
#define AML_SCOPE_OP    0x10
#define AML_BUFFER_OP   0x11
#define AML_PACKAGE_OP  0x12
#define AML_EXT_OP      0x5b
#define AML_DEVICE_OP   0x82
#define AML_BYTE        0x0a
#define AML_WORD        0x0b
#define AML_DWORD       0x0c
#define AML_QWORD       0x0e
#define AML_ZERO        0x00
#define AML_ONE         0x01
#define AML_STRING      0x0d

void aml_bytes(struct aml *a, const void *bytes, size_t len)
{
	if (a->len + len > AML_MAX) {
		a->overflow = 1;
		return;
	}
	memcpy(a->data + a->len, bytes, len);
	a->len += len;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_bytes(a, &v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		aml_bytes(a, &v, 4);
	} else {
		aml_byte(a, AML_QWORD);
		aml_bytes(a, &v, 8);
	}
}

/* PkgLength (ACPI 6.x, 20.2.4): counts itself; one byte up to 63, else 2-4 bytes. */
static size_t pkglength(uint8_t out[4], size_t content)
{
	if (content + 1 <= 63) {
		out[0] = (uint8_t)(content + 1);
		return 1;
	}
	for (size_t n = 2; n <= 4; n++) {
		size_t total = content + n;
		if (total < (1u << (4 + 8 * (n - 1)))) {
			out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
			for (size_t i = 1; i < n; i++)
				out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
			return n;
		}
	}
	return 0;
}

/* Inserts op, a PkgLength and a name before the bytes appended since mark. */
static void aml_wrap(struct aml *a, size_t mark, const uint8_t *op, size_t op_len,
		     const char *name, size_t name_len)
{
	size_t body = a->len - mark;
	uint8_t len[4];
	size_t n = pkglength(len, body + name_len);
	size_t head = op_len + n + name_len;

	if (!n || a->len + head > AML_MAX) {
		a->overflow = 1;
		return;
	}
	memmove(a->data + mark + head, a->data + mark, body);
	memcpy(a->data + mark, op, op_len);
	memcpy(a->data + mark + op_len, len, n);
	memcpy(a->data + mark + op_len + n, name, name_len);
	a->len += head;
}

void aml_name_int(struct aml *a, const char name[4], uint64_t value)
{
	aml_byte(a, AML_NAME_OP);
	aml_bytes(a, name, 4);
	aml_integer(a, value);
}

void aml_name_buffer(struct aml *a, const char name[4], const void *bytes, size_t len)
{
	aml_byte(a, AML_NAME_OP);
	aml_bytes(a, name, 4);
	size_t mark = a->len;
	aml_integer(a, len);
	aml_bytes(a, bytes, len);
	aml_wrap(a, mark, (const uint8_t[]){ AML_BUFFER_OP }, 1, "", 0);
}

void aml_name_package(struct aml *a, const char name[4], const uint64_t *values, unsigned n)
{
	aml_byte(a, AML_NAME_OP);
	aml_bytes(a, name, 4);
	size_t mark = a->len;
	aml_byte(a, (uint8_t)n);
	for (unsigned i = 0; i < n; i++)
		aml_integer(a, values[i]);
	aml_wrap(a, mark, (const uint8_t[]){ AML_PACKAGE_OP }, 1, "", 0);
}

void aml_wrap_device(struct aml *a, size_t mark, const char name[4])
{
	aml_wrap(a, mark, (const uint8_t[]){ AML_EXT_OP, AML_DEVICE_OP }, 2, name, 4);
}

void aml_wrap_scope(struct aml *a, size_t mark, const char *path)
{
	aml_wrap(a, mark, (const uint8_t[]){ AML_SCOPE_OP }, 1, path, strlen(path));
}

uint32_t aml_eisa_id(const char *id)
{
	/* Three letters of 5 bits each, then four hex digits; stored big-endian. */
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
		     (uint32_t)(id[2] - 0x40) << 16;
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	return __builtin_bswap32(v);
}

void aml_name_string(struct aml *a, const char name[4], const char *value)
{
	aml_byte(a, AML_NAME_OP);
	aml_bytes(a, name, 4);
	aml_byte(a, AML_STRING);
	aml_bytes(a, value, strlen(value) + 1);     /* NUL-terminated */
}
