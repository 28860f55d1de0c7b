/*
 * conf_value.c - the typed values of the configuration file: one
 * converter per type of value, and the checks they share.
 *
 * conf.c reads the file and names, in each key's line of its tables, the
 * converter for the key's type (conf_value.h); this file says what each
 * type accepts.  A converter turns one raw value, as written or as the
 * key's default, into its field(s) in a struct of the configuration,
 * stores only copies (the struct conf owns them), and reports whatever
 * is wrong through conf_kerr() with the key's line.  Values of passwords
 * and tokens are never echoed in those messages.  Nothing here keeps
 * state between calls: each converter reads its value, its key's table
 * line, and - for names of other sections - the configuration so far.
 *
 * [template NAME] texts are checked here as a send would use them: a
 * text that has no code placeholder, or that with the longest code (12
 * digits) would not fit CONF_TEMPLATE_PARTS SMS parts, is refused when
 * the file is read rather than by every request that picks it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_value.h"
#include "phone.h"
#include "smpp.h"
#include "template.h"
#include "util.h"

#define CONF_TEMPLATE_PARTS 4           /* SMS parts a template may need */
#define CONF_MAX_MINUTES 1440           /* [verify] expiry 86400 s at most */

#define KERR(k, ...) conf_kerr((k), __VA_ARGS__)

/* Strict decimal: optional '-', digits, nothing else, no overflow. */
static int
parse_ll(const char *s, long long *out, int *overflow)
{
	const char *d = s[0] == '-' ? s + 1 : s;
	char *end;
	long long v;

	*overflow = 0;
	if (*d < '0' || *d > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0')
		return -1;
	if (errno == ERANGE) {
		*overflow = 1;
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * A size: an integer with an optional K, M, G or T suffix (any case),
 * split into *n and the suffix's multiple *mult.  0, or -1 when it is not
 * such a number, with *overflow set when only its digits are too many.
 */
static int
parse_size(const char *v, long long *n, long long *mult, int *overflow)
{
	size_t len = strlen(v);
	char *digits;
	int rc;

	*mult = 1;
	if (len > 0 && strchr("KkMmGgTt", v[len - 1]) != NULL) {
		switch (toupper((unsigned char)v[len - 1])) {
		case 'K': *mult = KB; break;
		case 'M': *mult = MB; break;
		case 'G': *mult = GB; break;
		default: *mult = TB; break;
		}
		len--;
	}
	digits = xmalloc(len + 1);
	memcpy(digits, v, len);
	digits[len] = '\0';
	rc = parse_ll(digits, n, overflow);
	free(digits);
	return rc;
}

/* v octets as the shortest exact K, M, G or T size ("1G"), else digits. */
static void
fmt_size(long long v, char *buf, size_t size)
{
	static const char suffix[] = "TGMK";
	static const long long unit[] = { TB, GB, MB, KB };
	int i;

	for (i = 0; i < 4; i++)
		if (v >= unit[i] && v % unit[i] == 0) {
			snprintf(buf, size, "%lld%c", v / unit[i], suffix[i]);
			return;
		}
	snprintf(buf, size, "%lld", v);
}

/* 1 when s is printable ASCII; a space only when allow_space. */
static int
printable(const char *s, int allow_space)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c > 0x7e || (c == ' ' && !allow_space))
			return 0;
	}
	return 1;
}

/* 1 when s holds a control character (C0 or DEL). */
static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* 1 for an SMS source address: up to 11 letters, digits, spaces, '.',
 * '_' or '-' with a letter among them, or up to 15 digits after an
 * optional '+'. */
static int
sender_valid(const char *s)
{
	size_t n = strlen(s), i;
	int letters = 0;

	if (n == 0)
		return 0;
	if (s[0] == '+' || strspn(s, "0123456789") == n) {
		const char *d = s[0] == '+' ? s + 1 : s;

		return *d != '\0' && strlen(d) <= 15 &&
		    strspn(d, "0123456789") == strlen(d);
	}
	if (n > 11)
		return 0;
	for (i = 0; i < n; i++) {
		if (isalpha((unsigned char)s[i]) && (unsigned char)s[i] < 0x80)
			letters++;
		else if (!isdigit((unsigned char)s[i]) &&
		    strchr(" ._-", s[i]) == NULL)
			return 0;
	}
	return letters > 0;
}

/* 1 for a number prefix: '+' and up to 15 digits. */
static int
prefix_valid(const char *s)
{
	size_t n = strlen(s);

	return s[0] == '+' && n <= 16 &&
	    strspn(s + 1, "0123456789") == n - 1;
}

/* Split v on blanks into a malloc'd array of malloc'd words. */
static char **
split_words(const char *v, int *count)
{
	char **w = NULL;
	int n = 0;

	while (*v != '\0') {
		size_t len;

		v += strspn(v, " \t");
		len = strcspn(v, " \t");
		if (len == 0)
			break;
		w = xrealloc(w, (size_t)(n + 1) * sizeof(*w));
		w[n] = xmalloc(len + 1);
		memcpy(w[n], v, len);
		w[n][len] = '\0';
		n++;
		v += len;
	}
	*count = n;
	return w;
}

/* Free split_words()' answer of n words. */
static void
free_words(char **w, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

/* The index of the first earlier word w[0..i-1] equal to w[i], or -1. */
static int
earlier_word(char **w, int i)
{
	int j;

	for (j = 0; j < i; j++)
		if (strcmp(w[i], w[j]) == 0)
			return j;
	return -1;
}


/*
 * A template's text as a send would use it: 0 when it is good, else -1
 * after reporting why.  The text is rendered with the longest code a
 * request may ask for (12 digits) and the most minutes a code can live
 * ([verify] expiry's bound, 86400 s), so no send can find it too long;
 * the text itself is not echoed, it may be most of a line.
 */
static int
template_text_check(struct kctx *k, const char *v)
{
	char *out;
	int parts;

	if (has_control(v)) {
		KERR(k, "must not contain control characters");
		return -1;
	}
	if (smpp_text_parts(v, 0) < 0) {
		KERR(k, "is not valid UTF-8");
		return -1;
	}
	if (!template_has_code(v)) {
		KERR(k, "has no {code} (or ##code##) placeholder: a message "
		    "without its code is never sent");
		return -1;
	}
	out = template_render(v, "000000000000", CONF_MAX_MINUTES);
	parts = out != NULL ? smpp_text_parts(out, 0) : -1;
	free(out);
	if (parts < 1 || parts > CONF_TEMPLATE_PARTS) {
		KERR(k, "too long: with a 12-digit code and %d minutes it "
		    "needs %d SMS parts, at most %d are allowed (153 GSM or "
		    "67 UCS-2 characters each)", CONF_MAX_MINUTES, parts,
		    CONF_TEMPLATE_PARTS);
		return -1;
	}
	return 0;
}

/* Store a copy of v in the char * field of k's key: returns 0. */
static int
put_str(struct kctx *k, char *base, const char *v)
{
	*(char **)(base + k->kd->off) = xstrdup(v);
	return 0;
}

/* v's length within k's bounds: 0, or -1 after reporting it. */
static int
length_check(struct kctx *k, const char *v)
{
	const struct kdef *kd = k->kd;
	long long n = (long long)strlen(v);

	if (n >= kd->min && n <= kd->max)
		return 0;
	if (kd->min == 0)
		KERR(k, "must be at most %lld characters", kd->max);
	else
		KERR(k, "must be %lld..%lld characters", kd->min, kd->max);
	return -1;
}

/* The index of v in k's vals: 0 or more, or -1 after reporting the
 * values it may take ("'v' is not a, b or c"). */
static int
enum_index(struct kctx *k, const char *v)
{
	const char *const *vals = k->kd->vals;
	char buf[300] = "";
	int i;

	for (i = 0; vals[i] != NULL; i++)
		if (strcmp(v, vals[i]) == 0)
			return i;
	for (i = 0; vals[i] != NULL; i++) {
		if (i > 0)
			strcat(buf, vals[i + 1] ? ", " : " or ");
		strcat(buf, vals[i]);
	}
	KERR(k, "'%s' is not %s", v, buf);
	return -1;
}

/* v as printable ASCII, with or without spaces, of length min..max:
 * stored as a copy and 0, or -1 after reporting it. */
static int
put_printable(struct kctx *k, const char *v, char *base, int allow_space)
{
	if (!printable(v, allow_space)) {
		KERR(k, "must be printable ASCII%s",
		    allow_space ? "" : " without spaces");
		return -1;
	}
	if (length_check(k, v) != 0)
		return -1;
	return put_str(k, base, v);
}

/*
 * The converters, one per type of value, named in the key tables.  Each
 * turns v, the raw value of k's key, into its field at off (and off2,
 * where it says so) in the struct at base, and returns 0; or reports the
 * problem through KERR, naming the key and its line, leaves the fields
 * untouched and returns -1.
 */

/* int within min..max, in strict decimal. */
int
conv_int(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;
	long long n;
	int over;

	if (parse_ll(v, &n, &over) != 0 && !over) {
		KERR(k, "'%s' is not an integer", v);
		return -1;
	}
	if (over || n < kd->min || n > kd->max) {
		KERR(k, "%s is out of range %lld..%lld", v, kd->min, kd->max);
		return -1;
	}
	*(int *)(base + kd->off) = (int)n;
	return 0;
}

/* uint64_t octets within min..max: an integer with a K, M, G or T
 * suffix (powers of 1024); the bounds are reported with suffixes. */
int
conv_size(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;
	long long n, mult;
	char lo[32], hi[32];
	int over;

	if (parse_size(v, &n, &mult, &over) != 0 && !over) {
		KERR(k, "'%s' is not a size (an integer with an optional K, "
		    "M, G or T suffix)", v);
		return -1;
	}
	if (over || n < 0 || n > kd->max / mult || n * mult < kd->min ||
	    n * mult > kd->max) {
		fmt_size(kd->min, lo, sizeof(lo));
		fmt_size(kd->max, hi, sizeof(hi));
		KERR(k, "%s is out of range %s..%s", v, lo, hi);
		return -1;
	}
	*(uint64_t *)(base + kd->off) = (uint64_t)(n * mult);
	return 0;
}

/* char *: printable ASCII, spaces allowed, length min..max.  Not echoed:
 * passwords are of this type. */
int
conv_str(struct kctx *k, const char *v, char *base)
{
	return put_printable(k, v, base, 1);
}

/* char *: printable ASCII without spaces, length min..max. */
int
conv_word(struct kctx *k, const char *v, char *base)
{
	return put_printable(k, v, base, 0);
}

/* char *: a file name, any octets but control characters, length
 * min..max. */
int
conv_path(struct kctx *k, const char *v, char *base)
{
	if (has_control(v)) {
		KERR(k, "must not contain control characters");
		return -1;
	}
	if (length_check(k, v) != 0)
		return -1;
	return put_str(k, base, v);
}

/* int: the index of v in vals (the enum's order). */
int
conv_enum(struct kctx *k, const char *v, char *base)
{
	int i = enum_index(k, v);

	if (i < 0)
		return -1;
	*(int *)(base + k->kd->off) = i;
	return 0;
}

/* char *: v itself, when it is one of vals. */
int
conv_enumstr(struct kctx *k, const char *v, char *base)
{
	if (enum_index(k, v) < 0)
		return -1;
	return put_str(k, base, v);
}

/* "host:port" (IPv6 as "[::1]:8080"): char * host at off, int port at
 * off2.  min..max are the port's bounds as reported; util_hostport()
 * checks them. */
int
conv_hostport(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;
	char host[256];
	int port;

	if (util_hostport(v, host, sizeof(host), &port) != 0) {
		KERR(k, "'%s' is not host:port (IPv6 as [::1]:8080, port "
		    "%lld..%lld)", v, kd->min, kd->max);
		return -1;
	}
	*(char **)(base + kd->off) = xstrdup(host);
	*(int *)(base + kd->off2) = port;
	return 0;
}

/* char *: an SMS source address, alphanumeric or a number. */
int
conv_sender(struct kctx *k, const char *v, char *base)
{
	if (!sender_valid(v)) {
		KERR(k, "'%s' is not a sender: up to 11 letters, digits, "
		    "spaces, '.', '_' or '-' with at least one letter, or up "
		    "to 15 digits with an optional '+'", v);
		return -1;
	}
	return put_str(k, base, v);
}

/* char *: ISO 3166 alpha-2, two upper-case ASCII letters. */
int
conv_country(struct kctx *k, const char *v, char *base)
{
	if (strlen(v) != 2 || !isupper((unsigned char)v[0]) ||
	    !isupper((unsigned char)v[1]) ||
	    (unsigned char)v[0] > 0x7f || (unsigned char)v[1] > 0x7f) {
		KERR(k, "'%s' is not a country: two upper-case letters (ISO "
		    "3166 alpha-2, e.g. US)", v);
		return -1;
	}
	return put_str(k, base, v);
}

/* Blank-separated countries, each two upper-case letters that name a
 * region libphonenumber knows (US, GB...), none twice: char ** at off,
 * their count at off2.  An empty value is no list (every country); it
 * never gets here (apply_section() skips it).  Every bad word is
 * reported. */
int
conv_countries(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;
	char **w;
	int i, nw, bad = 0;

	w = split_words(v, &nw);
	for (i = 0; i < nw; i++) {
		if (strlen(w[i]) != 2 || !isupper((unsigned char)w[i][0]) ||
		    !isupper((unsigned char)w[i][1]) ||
		    !phone_region_valid(w[i])) {
			KERR(k, "'%s' is not a country: two upper-case letters "
			    "(ISO 3166 alpha-2, e.g. US GB FR)", w[i]);
			bad = 1;
		} else if (earlier_word(w, i) >= 0) {
			KERR(k, "%s given twice", w[i]);
			bad = 1;
		}
	}
	if (bad || nw == 0) {
		free_words(w, nw);
		return bad ? -1 : 0;
	}
	*(char ***)(base + kd->off) = w;
	*(int *)(base + kd->off2) = nw;
	return 0;
}

/* Blank-separated number prefixes, each '+' and up to 15 digits, none
 * twice: char ** at off, their count (at least 1) at off2.  Every bad
 * word is reported. */
int
conv_prefixes(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;
	char **w;
	int i, nw, bad = 0;

	w = split_words(v, &nw);
	if (nw == 0) {
		KERR(k, "needs at least one prefix");
		bad = 1;
	}
	for (i = 0; i < nw; i++) {
		if (!prefix_valid(w[i])) {
			KERR(k, "'%s' is not a prefix: '+' and up to 15 "
			    "digits", w[i]);
			bad = 1;
		}
		if (earlier_word(w, i) >= 0) {
			KERR(k, "%s given twice", w[i]);
			bad = 1;
		}
	}
	if (bad) {
		free_words(w, nw);
		return -1;
	}
	*(char ***)(base + kd->off) = w;
	*(int *)(base + kd->off2) = nw;
	return 0;
}

/* Blank-separated names of [smsc NAME] sections, anywhere in the file,
 * none twice: int * (indexes into conf.smscs) at off, their count (at
 * least 1) at off2.  Every bad name is reported. */
int
conv_smsclist(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;
	char **w;
	int i, nw, bad = 0, *idx;

	w = split_words(v, &nw);
	if (nw == 0) {
		KERR(k, "needs at least one SMSC");
		bad = 1;
	}
	idx = xcalloc((size_t)nw + 1, sizeof(*idx));
	for (i = 0; i < nw; i++) {
		idx[i] = conf_smsc_index(k->conf, w[i]);
		if (idx[i] < 0) {
			KERR(k, "unknown SMSC '%s' (no [smsc %s] section)",
			    w[i], w[i]);
			bad = 1;
		}
		if (earlier_word(w, i) >= 0) {
			KERR(k, "SMSC '%s' named twice", w[i]);
			bad = 1;
		}
	}
	free_words(w, nw);
	if (bad) {
		free(idx);
		return -1;
	}
	*(int **)(base + kd->off) = idx;
	*(int *)(base + kd->off2) = nw;
	return 0;
}

/* char *: an API token, printable ASCII without spaces, length
 * min..max.  The token itself is never echoed, only its length. */
int
conv_token(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;

	if (!printable(v, 0)) {
		KERR(k, "must be printable ASCII without spaces");
		return -1;
	}
	if ((long long)strlen(v) < kd->min || (long long)strlen(v) > kd->max) {
		KERR(k, "must be %lld..%lld characters (it has %zu)", kd->min,
		    kd->max, strlen(v));
		return -1;
	}
	return put_str(k, base, v);
}

/* char *: an http:// or https:// URL with something after the scheme,
 * printable without spaces, at most max octets; echoed up to 80. */
int
conv_url(struct kctx *k, const char *v, char *base)
{
	if ((strncmp(v, "http://", 7) != 0 &&
	    strncmp(v, "https://", 8) != 0) ||
	    strlen(v) <= (v[4] == 's' ? 8u : 7u) || !printable(v, 0) ||
	    (long long)strlen(v) > k->kd->max) {
		KERR(k, "'%.*s' is not an http:// or https:// URL", 80, v);
		return -1;
	}
	return put_str(k, base, v);
}

/* char *: a language with built-in templates. */
int
conv_lang(struct kctx *k, const char *v, char *base)
{
	if (!template_lang_valid(v)) {
		KERR(k, "'%s' is not a language with built-in templates (de "
		    "en es fr it pt ru)", v);
		return -1;
	}
	return put_str(k, base, v);
}

/* int: bits 1 << enum phone_type, from blank-separated type names; none
 * is 0.  The first unknown name is reported. */
int
conv_phonetypes(struct kctx *k, const char *v, char *base)
{
	char **w;
	int i, nw, t, bits = 0;

	w = split_words(v, &nw);
	for (i = 0; i < nw; i++) {
		if ((t = phone_type_by_name(w[i])) < 0) {
			KERR(k, "'%s' is not a number type (fixed_line mobile "
			    "fixed_line_or_mobile toll_free premium_rate "
			    "shared_cost voip personal_number pager uan "
			    "voicemail)", w[i]);
			free_words(w, nw);
			return -1;
		}
		bits |= 1 << t;
	}
	free_words(w, nw);
	*(int *)(base + k->kd->off) = bits;
	return 0;
}

/* char *: a message text as template_text_check() accepts it. */
int
conv_template(struct kctx *k, const char *v, char *base)
{
	if (template_text_check(k, v) != 0)
		return -1;
	return put_str(k, base, v);
}

/* char *: the name of a [template NAME] section, anywhere in the file,
 * that is not a language's. */
int
conv_tmplname(struct kctx *k, const char *v, char *base)
{
	/* A language's section already applies to every key that asks
	 * for the language: naming it here would only hide which of the
	 * two settings wins. */
	if (template_lang_valid(v)) {
		KERR(k, "'%s' is a language: [template %s] replaces its "
		    "built-in text for every key; write language = %s "
		    "instead", v, v, v);
		return -1;
	}
	if (conf_template_find(k->conf, v) == NULL) {
		KERR(k, "unknown template '%s' (no [template %s] section)", v,
		    v);
		return -1;
	}
	return put_str(k, base, v);
}

/* The seconds of a period "N" + s, m, h or d into *out (INT64_MAX for
 * one too large): 0, or -1 when it is not one. */
static int
parse_period(const char *v, long long *out)
{
	static const char units[] = "smhd";
	static const long long mult[] = { 1, 60, 3600, 86400 };
	size_t len = strlen(v);
	const char *u;
	char digits[24];
	long long n;
	int over;

	if (len < 2 || len - 1 >= sizeof(digits) ||
	    (u = strchr(units, v[len - 1])) == NULL || v[0] == '-')
		return -1;
	memcpy(digits, v, len - 1);
	digits[len - 1] = '\0';
	if (parse_ll(digits, &n, &over) != 0 && !over)
		return -1;
	/* Too many digits is a number all the same: out of range. */
	*out = over || n > INT32_MAX ? INT64_MAX : n * mult[u - units];
	return 0;
}

/*
 * struct conf_rate: "N/PERIOD", at most N in any PERIOD (a sliding
 * window), N within min..max and PERIOD a number of seconds, minutes,
 * hours or days ("10m") from 1 s to 30 days; or "0" (or "0/PERIOD"): off.
 */
int
conv_rate(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;
	struct conf_rate r = { 0, 0 };
	const char *slash = strchr(v, '/');
	char nbuf[24];
	long long n, period;
	int over;

	if (strcmp(v, "0") == 0)
		goto store;
	if (slash == NULL || (size_t)(slash - v) >= sizeof(nbuf)) {
		KERR(k, "'%s' is not N/PERIOD (e.g. 5/10m: at most 5 in any "
		    "10 minutes; PERIOD is a number with s, m, h or d) or 0 "
		    "(off)", v);
		return -1;
	}
	memcpy(nbuf, v, (size_t)(slash - v));
	nbuf[slash - v] = '\0';
	if (parse_ll(nbuf, &n, &over) != 0 && !over) {
		KERR(k, "'%s': N must be a whole number (N/PERIOD, e.g. "
		    "5/10m)", v);
		return -1;
	}
	if (parse_period(slash + 1, &period) != 0) {
		KERR(k, "'%s': PERIOD must be a number with s, m, h or d "
		    "(e.g. 30s, 10m, 1h, 1d)", v);
		return -1;
	}
	if (!over && n == 0)
		goto store;             /* 0/PERIOD: off, as 0 */
	if (over || n < kd->min || n > kd->max) {
		KERR(k, "'%s': N is out of range %lld..%lld (or 0: off)", v,
		    kd->min, kd->max);
		return -1;
	}
	if (period < 1 || period > CONF_RATE_PERIOD_MAX) {
		KERR(k, "'%s': PERIOD is out of range 1s..%dd", v,
		    CONF_RATE_PERIOD_MAX / 86400);
		return -1;
	}
	r.n = (int)n;
	r.period = (int)period;
store:
	*(struct conf_rate *)(base + kd->off) = r;
	return 0;
}

/* 1 for an E.164 number: '+', a non-zero digit, then digits, 8 to 16
 * octets in all. */
static int
e164_valid(const char *s, size_t n)
{
	return n >= 8 && n <= 16 && s[0] == '+' && s[1] >= '1' &&
	    s[1] <= '9' && strspn(s + 1, "0123456789") == n - 1;
}

/* [test] numbers: blank-separated E.164 numbers and ranges A-B (both
 * ends E.164 of the same length, A <= B): struct conf_test_range * at
 * off, their count (at least 1) at off2.  Every bad word is reported. */
int
conv_testnumbers(struct kctx *k, const char *v, char *base)
{
	const struct kdef *kd = k->kd;
	struct conf_test_range *r;
	char **w;
	const char *dash;
	size_t la, lb;
	int i, nw, bad = 0;

	w = split_words(v, &nw);
	if (nw == 0) {
		KERR(k, "needs at least one number or range");
		bad = 1;
	}
	r = xcalloc(nw > 0 ? (size_t)nw : 1, sizeof(*r));
	for (i = 0; i < nw; i++) {
		dash = strchr(w[i], '-');
		la = dash != NULL ? (size_t)(dash - w[i]) : strlen(w[i]);
		lb = dash != NULL ? strlen(dash + 1) : la;
		if (!e164_valid(w[i], la) ||
		    !e164_valid(dash != NULL ? dash + 1 : w[i], lb)) {
			KERR(k, "'%s' is not a number or a range: E.164 "
			    "(+15005550006) or A-B (+15005550000-+15005550099)",
			    w[i]);
			bad = 1;
			continue;
		}
		memcpy(r[i].lo, w[i], la);
		memcpy(r[i].hi, dash != NULL ? dash + 1 : w[i], lb);
		if (la != lb || strcmp(r[i].lo, r[i].hi) > 0) {
			KERR(k, "range '%s': both ends must have as many "
			    "digits, the first not above the second", w[i]);
			bad = 1;
		}
	}
	free_words(w, nw);
	if (bad) {
		free(r);
		return -1;
	}
	*(struct conf_test_range **)(base + kd->off) = r;
	*(int *)(base + kd->off2) = nw;
	return 0;
}

/* char *: digits only, min..max of them (a fixed code). */
int
conv_digits(struct kctx *k, const char *v, char *base)
{
	size_t n = strlen(v);

	if (strspn(v, "0123456789") != n || (long long)n < k->kd->min ||
	    (long long)n > k->kd->max) {
		KERR(k, "must be %lld to %lld digits", k->kd->min,
		    k->kd->max);
		return -1;
	}
	return put_str(k, base, v);
}

/* uint32_t: a command_status by its SMPP name (smpp_strstatus()'s, e.g.
 * ESME_RTHROTTLED), not ESME_ROK. */
int
conv_smppstatus(struct kctx *k, const char *v, char *base)
{
	uint32_t s;

	/* Every named status is below 0x500 (SMPP 3.4 §5.1.3 and the
	 * vendor range the table names). */
	for (s = 1; s < 0x500; s++) {
		if (strcmp(smpp_strstatus(s), v) == 0) {
			*(uint32_t *)(base + k->kd->off) = s;
			return 0;
		}
	}
	KERR(k, "'%s' is not an SMPP status name (ESME_RTHROTTLED, "
	    "ESME_RINVDSTADR, ...)", v);
	return -1;
}
