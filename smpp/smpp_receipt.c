/*
 * smpp_receipt.c - delivery receipt text and message-id normalising; pure.
 *
 * The receipt text of SMPP 3.4 Appendix B ("id:... sub:... dlvrd:...
 * submit date:... done date:... stat:... err:... text:...") is vendor
 * specific, so it is read tolerantly (SMPP-NOTES §8.1): keys in any case
 * and any order, unknown keys skipped, sub/dlvrd/dates/err optional; only
 * id and stat are required.  The "text:" field echoes the first characters
 * of our message, i.e. the OTP code: parsing stops there and nothing of it
 * is copied anywhere, which also means a code text that happens to contain
 * "stat:UNDELIV" cannot override the real state.
 *
 * smpp_msgid_normalise() turns a submit_sm_resp or receipt message id into
 * the form receipts are matched on (SMPP-NOTES §8.4).  Base conversion is
 * done on the digit string itself, so ids of any length (>= 2^63, longer
 * than 64 bits) convert exactly; the caller's out buffer is the only work
 * area.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smpp.h"

/* Receipt keys we read.  KEY_TEXT ends the parse. */
enum receipt_key {
	KEY_NONE = 0,
	KEY_ID,
	KEY_SUB,
	KEY_DLVRD,
	KEY_SUBMIT_DATE,
	KEY_DONE_DATE,
	KEY_STAT,
	KEY_ERR,
	KEY_TEXT,
};

static const struct {
	const char *stat;
	enum smpp_msg_state state;
} receipt_stats[] = {
	{ "DELIVRD", SMPP_MSG_DELIVERED },
	{ "EXPIRED", SMPP_MSG_EXPIRED },
	{ "DELETED", SMPP_MSG_DELETED },
	{ "UNDELIV", SMPP_MSG_UNDELIVERABLE },
	{ "ACCEPTD", SMPP_MSG_ACCEPTED },
	{ "UNKNOWN", SMPP_MSG_UNKNOWN },
	{ "REJECTD", SMPP_MSG_REJECTED },
	{ "ENROUTE", SMPP_MSG_ENROUTE },
};

static int
is_space(uint8_t c)
{
	/* NUL counts as a separator: the text is not a C string. */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0';
}

static uint8_t
to_upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* Does the word w (lower case) start at p, case-insensitively? */
static int
word_at(const uint8_t *p, size_t len, const char *w)
{
	size_t n = strlen(w), i;

	if (len < n)
		return 0;
	for (i = 0; i < n; i++)
		if (to_upper(p[i]) != to_upper((uint8_t)w[i]))
			return 0;
	return 1;
}

/* Recognise a key at p.  Returns the key and sets *klen to the octets up to
 * and including the ':', or KEY_NONE.  "submit date" and "done date" may
 * have any run of spaces or one '_' between their words. */
static enum receipt_key
key_at(const uint8_t *p, size_t len, size_t *klen)
{
	static const struct {
		const char *first, *second;
		enum receipt_key key;
	} keys[] = {
		{ "id", NULL, KEY_ID },
		{ "sub", NULL, KEY_SUB },
		{ "dlvrd", NULL, KEY_DLVRD },
		{ "submit", "date", KEY_SUBMIT_DATE },
		{ "done", "date", KEY_DONE_DATE },
		{ "stat", NULL, KEY_STAT },
		{ "err", NULL, KEY_ERR },
		{ "text", NULL, KEY_TEXT },
	};
	size_t i, n;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!word_at(p, len, keys[i].first))
			continue;
		n = strlen(keys[i].first);
		if (keys[i].second != NULL) {
			size_t gap = n;
			if (gap < len && p[gap] == '_')
				gap++;
			else
				while (gap < len && p[gap] == ' ')
					gap++;
			if (gap == n || !word_at(p + gap, len - gap,
			    keys[i].second))
				continue;
			n = gap + strlen(keys[i].second);
		}
		if (n < len && p[n] == ':') {
			*klen = n + 1;
			return keys[i].key;
		}
	}
	return KEY_NONE;
}

/* Parse a receipt's err: value: decimal digits only (at most 9). */
static int
parse_err(const uint8_t *v, size_t n)
{
	int e = 0;
	size_t i;

	if (n == 0 || n > 9)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		e = e * 10 + (v[i] - '0');
	}
	return e;
}

/* Map a stat: value to its state.  Returns 0 or -1 (unknown word). */
static int
parse_stat(const uint8_t *v, size_t n, struct smpp_receipt *out)
{
	size_t i;

	if (n != 7)
		return -1;
	for (i = 0; i < sizeof(receipt_stats) / sizeof(receipt_stats[0]);
	    i++) {
		if (word_at(v, n, receipt_stats[i].stat)) {
			memcpy(out->stat, receipt_stats[i].stat, 8);
			out->state = receipt_stats[i].state;
			return 0;
		}
	}
	return -1;
}

int
smpp_receipt_parse_text(const uint8_t *text, size_t len,
    struct smpp_receipt *out)
{
	int have_id = 0, have_stat = 0, have_err = 0;
	size_t i = 0, klen, vlen, k;
	enum receipt_key key;

	memset(out, 0, sizeof(*out));
	out->state = SMPP_MSG_UNKNOWN_STATE;
	out->err = -1;
	out->network_error = -1;
	if (text == NULL)
		return -1;
	while (i < len) {
		while (i < len && is_space(text[i]))
			i++;
		if (i == len)
			break;
		key = key_at(text + i, len - i, &klen);
		if (key == KEY_TEXT)
			break; /* the code's echo: never read */
		if (key != KEY_NONE) {
			i += klen;
			/* "id: 123": allow spaces after the colon unless
			 * another key follows (an empty "sub:"). */
			for (k = i; k < len && text[k] == ' '; k++)
				;
			if (k > i && k < len &&
			    key_at(text + k, len - k, &vlen) == KEY_NONE)
				i = k;
		}
		/* The value (or an unknown word) runs to the next space. */
		for (vlen = 0; i + vlen < len && !is_space(text[i + vlen]);
		    vlen++)
			;
		switch (key) {
		case KEY_ID:
			if (have_id)
				break;
			if (vlen == 0 || vlen >= sizeof(out->message_id))
				return -1;
			for (k = 0; k < vlen; k++)
				if (text[i + k] < 0x21 || text[i + k] > 0x7E)
					return -1;
			memcpy(out->message_id, text + i, vlen);
			out->message_id[vlen] = '\0';
			have_id = 1;
			break;
		case KEY_STAT:
			if (have_stat)
				break;
			if (parse_stat(text + i, vlen, out) == -1)
				return -1;
			have_stat = 1;
			break;
		case KEY_ERR:
			if (!have_err)
				out->err = parse_err(text + i, vlen);
			have_err = 1;
			break;
		default:
			/* sub, dlvrd, dates: not needed for matching. */
			break;
		}
		i += vlen;
	}
	if (!have_id || !have_stat) {
		memset(out, 0, sizeof(*out));
		out->err = -1;
		out->network_error = -1;
		return -1;
	}
	return 0;
}

/* Value of a digit in base (10 or 16), or -1. */
static int
digit_value(uint8_t c, int base)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Convert the digit string s[0..n) from base `from` to base `to` into out
 * as text.  out doubles as the little-endian digit accumulator.  Returns
 * 0 or -1 (a bad digit, or out too small). */
static int
convert_base(const uint8_t *s, size_t n, int from, int to, char *out,
    size_t outsize)
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t *acc = (uint8_t *)out;
	size_t ndig = 0, i, j;

	if (outsize < 2)
		return -1;
	for (i = 0; i < n; i++) {
		int d = digit_value(s[i], from);
		unsigned carry;
		if (d < 0)
			return -1;
		carry = (unsigned)d;
		/* acc = acc * from + d */
		for (j = 0; j < ndig; j++) {
			unsigned v = acc[j] * (unsigned)from + carry;
			acc[j] = (uint8_t)(v % (unsigned)to);
			carry = v / (unsigned)to;
		}
		while (carry > 0) {
			if (ndig + 1 >= outsize)
				return -1; /* keep room for the NUL */
			acc[ndig++] = (uint8_t)(carry % (unsigned)to);
			carry /= (unsigned)to;
		}
	}
	if (ndig == 0)
		acc[ndig++] = 0; /* the value zero */
	for (i = 0, j = ndig - 1; i < j; i++, j--) {
		uint8_t t = acc[i];
		acc[i] = acc[j];
		acc[j] = t;
	}
	for (i = 0; i < ndig; i++)
		out[i] = hex[acc[i]];
	out[ndig] = '\0';
	return 0;
}

int
smpp_msgid_normalise(const char *id, int mode, char *out, size_t outsize)
{
	const uint8_t *s = (const uint8_t *)id;
	size_t n, i;

	if (id == NULL || out == NULL || outsize == 0)
		return -1;
	out[0] = '\0';
	/* Trim. */
	n = strlen(id);
	while (n > 0 && is_space(s[0])) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (n == 0)
		return -1;
	switch (mode) {
	case 0:
		while (n > 1 && s[0] == '0') {
			s++;
			n--;
		}
		if (n >= outsize)
			return -1;
		for (i = 0; i < n; i++)
			out[i] = (char)to_upper(s[i]);
		out[n] = '\0';
		return 0;
	case 1:
		if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			s += 2;
			n -= 2;
		}
		if (convert_base(s, n, 16, 10, out, outsize) == -1)
			goto bad;
		return 0;
	case 2:
		if (convert_base(s, n, 10, 16, out, outsize) == -1)
			goto bad;
		return 0;
	default:
		return -1;
	}
bad:
	out[0] = '\0';
	return -1;
}
