/*
 * phone.h - phone numbers, read and normalised by libphonenumber behind
 * phone.cc (the project's only C++).
 */
#ifndef PHONE_H
#define PHONE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum phone_type {
	PHONE_FIXED_LINE = 0,
	PHONE_MOBILE,
	PHONE_FIXED_LINE_OR_MOBILE,
	PHONE_TOLL_FREE,
	PHONE_PREMIUM_RATE,
	PHONE_SHARED_COST,
	PHONE_VOIP,
	PHONE_PERSONAL_NUMBER,
	PHONE_PAGER,
	PHONE_UAN,
	PHONE_VOICEMAIL,
	PHONE_UNKNOWN,
};

enum phone_result {
	PHONE_OK = 0,       /* valid; out holds E.164 */
	PHONE_UNPARSABLE,   /* not a phone number at all */
	PHONE_INVALID,      /* parsed, but no such number is assigned */
};

/* Read number (E.164 with or without '+', "00" international prefix, or
 * national format read in region, an ISO 3166 alpha-2 code or NULL) and
 * write its E.164 form into out (at least 17 octets).  *type receives the
 * number's type when valid.  Thread-safe; pure apart from
 * libphonenumber's metadata.  Recent answers are cached. */
enum phone_result phone_normalise(const char *number, const char *region,
    char *out, size_t outsize, enum phone_type *type);
/* The cached answer of phone_normalise() for these arguments into *result
 * (and out, *type): 1, or 0 when it is not cached (nothing written).
 * Cheap: never parses. */
int phone_cached(const char *number, const char *region, char *out,
    size_t outsize, enum phone_type *type, enum phone_result *result);
/* "mobile", "fixed_line", ... */
const char *phone_strtype(enum phone_type);
/* The type called name (as phone_strtype() writes it), or -1. */
int phone_type_by_name(const char *name);
/* 1 when region is a region libphonenumber knows ("US", "GB", ...). */
int phone_region_valid(const char *region);
/* The number in the national format of its region, digits only with its
 * leading trunk prefix where the region uses one ("0501234567" for
 * +972501234567), into out.  0 or -1. */
int phone_national(const char *e164, char *out, size_t outsize);

/* The region of e164, a valid number in E.164 (phone_normalise()'s
 * answer), into out (at least 4 octets): ISO 3166 alpha-2 ("US", "GB"),
 * or "001" for a non-geographic number (+800, +882...).  0, or -1 when
 * no region claims it. */
int phone_region(const char *e164, char *out, size_t outsize);

/* phone_normalise() without its cache and without the E.164 short way:
 * every number through libphonenumber's Parse().  For tests, which check
 * that both ways agree. */
enum phone_result phone_normalise_slow(const char *number,
    const char *region, char *out, size_t outsize, enum phone_type *type);
/* libphonenumber's example number (E.164) of every region and type, as a
 * malloc'd NULL-terminated array of malloc'd strings; the count, or -1.
 * For tests. */
int phone_example_numbers(char ***out);

#ifdef __cplusplus
}
#endif

#endif
