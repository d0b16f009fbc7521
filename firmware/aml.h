/* Just enough AML (ACPI's bytecode) for ringvm's DSDT: names, scopes, devices, buffers. */
#ifndef RINGVM_AML_H
#define RINGVM_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX 4096

struct aml {
	uint8_t data[AML_MAX];
	size_t len;
	int overflow;               /* set when something did not fit */
};

/* Appends raw bytes. */
void aml_bytes(struct aml *a, const void *bytes, size_t len);

/* Name(NAME, Integer): the smallest integer encoding. */
void aml_name_int(struct aml *a, const char name[4], uint64_t value);

/* Name(NAME, "string"): a _HID that is no EISA ID, as "LNRO0005". */
void aml_name_string(struct aml *a, const char name[4], const char *value);

/* Name(NAME, Buffer(bytes)): a resource template is such a buffer. */
void aml_name_buffer(struct aml *a, const char name[4], const void *bytes, size_t len);

/* Name(NAME, Package(){ integers }). */
void aml_name_package(struct aml *a, const char name[4], const uint64_t *values, unsigned n);

/* Wraps what was appended since mark in Device(NAME) or Scope(PATH) (a 4-byte name or "\\_SB_"). */
void aml_wrap_device(struct aml *a, size_t mark, const char name[4]);
void aml_wrap_scope(struct aml *a, size_t mark, const char *path);

/* EISA ID ("PNP0A03") as the 32-bit value _HID takes. */
uint32_t aml_eisa_id(const char *id);

#endif
