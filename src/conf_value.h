/*
 * conf_value.h - the typed values of the configuration file: one
 * converter per type of value, between conf.c and conf_value.c only.
 *
 * conf.c owns the key tables, the sections and the parser; each line of
 * a table names the converter for its key's type.  conf_value.c holds
 * the converters: what each type accepts, where it stores it and how it
 * says what is wrong.  A converter reports through conf_kerr(), which
 * conf.c provides, so every message carries the file, the key's line,
 * its section and its name the same way as the parser's own.
 */
#ifndef CONF_VALUE_H
#define CONF_VALUE_H

#include <stddef.h>

#include "conf.h"

/* Size suffixes, in the tables' bounds and in the values ("1G"). */
#define KB 1024LL
#define MB (1024LL * KB)
#define GB (1024LL * MB)
#define TB (1024LL * GB)

struct kctx;
struct parser;                  /* conf.c's: opaque here */
struct sect;                    /* conf.c's: opaque here */

/*
 * A converter: the raw value v of one key into its field(s) in the struct
 * at base (a struct conf, conf_smsc, conf_route, conf_key or
 * conf_template).  Returns 0; or reports the problem through conf_kerr(),
 * naming the key and its line, leaves the fields untouched and returns
 * -1.  v is only read; strings stored are copies that belong to the
 * struct conf, freed by conf_free().
 */
typedef int conv_fn(struct kctx *k, const char *v, char *base);

/* One key of a section's table: name, type, bounds, default, field. */
struct kdef {
	const char *name;
	conv_fn *conv;            /* the type of the value */
	long long min, max;       /* bounds of the value, or of its length */
	const char *def;          /* NULL: no default (required or unset) */
	int required;
	size_t off, off2;         /* its field(s) in the section's struct */
	const char *const *vals;  /* conv_enum, conv_enumstr */
};

/* Where a value came from, for its error messages, and the configuration
 * it goes into: conv_smsclist and conv_tmplname look up sections by name,
 * all of which conf.c has named before any value is converted. */
struct kctx {
	struct parser *p;
	const struct sect *s;     /* NULL: a section absent from the file */
	const struct kdef *kd;
	int line;
	const struct conf *conf;
};

/*
 * The converters, by the field they fill at off (off2 where given).  What
 * each accepts is written at its definition in conf_value.c.
 */
conv_fn conv_int;        /* int, min..max */
conv_fn conv_size;       /* uint64_t octets, min..max, K/M/G/T suffixes */
conv_fn conv_str;        /* char *, printable, spaces, length min..max */
conv_fn conv_word;       /* char *, printable, no spaces, min..max */
conv_fn conv_path;       /* char *, no control characters, min..max */
conv_fn conv_enum;       /* int, the index of v in vals */
conv_fn conv_enumstr;    /* char *, one of vals */
conv_fn conv_hostport;   /* char * host; int port at off2 */
conv_fn conv_sender;     /* char *, an SMS source address */
conv_fn conv_country;    /* char *, ISO 3166 alpha-2 */
conv_fn conv_countries;  /* char ** ISO alpha-2 list; int count at off2 */
conv_fn conv_prefixes;   /* char ** prefixes; int count at off2 */
conv_fn conv_smsclist;   /* int * SMSC indexes; int count at off2 */
conv_fn conv_token;      /* char *, never echoed, min..max */
conv_fn conv_url;        /* char *, http:// or https://, at most max */
conv_fn conv_lang;       /* char *, a language with built-in templates */
conv_fn conv_phonetypes; /* int, bits 1 << enum phone_type */
conv_fn conv_template;   /* char *, a message text with its code */
conv_fn conv_tmplname;   /* char *, the name of a [template NAME] */
conv_fn conv_testnumbers; /* struct conf_test_range *; int count at off2 */
conv_fn conv_digits;     /* char *, digits only, length min..max */
conv_fn conv_smppstatus; /* uint32_t, an SMPP status name (not ESME_ROK) */
conv_fn conv_rate;       /* struct conf_rate, N/PERIOD with N min..max */

/* From conf.c, for the converters. */

/* Record a problem with k's key at k's line: "FILE:LINE: [kind NAME]
 * key: message", message formatted as by printf. */
void conf_kerr(const struct kctx *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The [template NAME] section of c called name, or NULL. */
const struct conf_template *conf_template_find(const struct conf *c,
    const char *name);

#endif
