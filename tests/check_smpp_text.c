/*
 * check_smpp_text.c - smpp_text.c and smpp_receipt.c: which alphabet each
 * OTP template goes out in and that it reads back the same, how many parts
 * a text needs and how it is cut into them, the submit_sm bodies made of
 * them (concatenation UDH or one message_payload), receipt texts as SMSCs
 * really write them, and message-id normalising across hex and decimal.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "smpp.h"

/* Encode, check charset and units, decode, compare with the input. */
static void
roundtrip(const char *text, int latin1, uint8_t want_dc, size_t want_units)
{
	uint8_t buf[512], dc = 0xFF;
	char back[1024];
	size_t units = 0;
	int n, m;

	n = smpp_text_encode(text, latin1, buf, sizeof(buf), &dc, &units);
	ck_assert_msg(n >= 0, "encode refused \"%s\"", text);
	ck_assert_msg(dc == want_dc, "\"%s\": data_coding %u, want %u", text,
	    dc, want_dc);
	if (want_units != 0)
		ck_assert_uint_eq(units, want_units);
	m = smpp_text_decode(dc, latin1, buf, (size_t)n, back, sizeof(back));
	ck_assert_int_ge(m, 0);
	ck_assert_str_eq(back, text);
	ck_assert_int_eq(m, (int)strlen(text));
}

START_TEST(templates_pick_the_right_alphabet)
{
	/* GSM: every character is in the basic table. */
	roundtrip("Your verification code is 123456. It expires in 10 "
	    "minutes.", 0, 0x00, 59);
	roundtrip("Ihr Bestätigungscode lautet 123456. Er ist 10 Minuten "
	    "gültig.", 0, 0x00, 61);
	roundtrip("Votre code de vérification est 123456.", 0, 0x00, 38);
	roundtrip("Il tuo codice di verifica è 123456.", 0, 0x00, 35);
	/* UCS-2: ó, ç, ã and Cyrillic are not GSM. */
	roundtrip("Su código de verificación es 123456.", 0, 0x08, 36);
	roundtrip("O seu código de verificação é 123456.", 0, 0x08, 37);
	roundtrip("Ваш код подтверждения: 123456.", 0, 0x08, 30);
}
END_TEST

START_TEST(gsm_octets_are_the_septets)
{
	uint8_t buf[32], dc;
	size_t units;
	int n;

	n = smpp_text_encode("@£$Ä_ß", 0, buf, sizeof(buf), &dc, &units);
	ck_assert_int_eq(n, 6);
	ck_assert_int_eq(dc, 0x00);
	ck_assert_mem_eq(buf, "\x00\x01\x02\x5B\x11\x1E", 6);
}
END_TEST

START_TEST(extension_chars_count_two)
{
	uint8_t buf[32], dc;
	size_t units;
	int n;

	n = smpp_text_encode("a{€}b", 0, buf, sizeof(buf), &dc, &units);
	ck_assert_int_eq(dc, 0x00);
	ck_assert_int_eq(n, 8);
	ck_assert_uint_eq(units, 8);
	ck_assert_mem_eq(buf, "a\x1B\x28\x1B\x65\x1B\x29" "b", 8);
	roundtrip("[x] ~ | \\ ^ \f", 0, 0x00, 20);
	/* 80 euro signs fill exactly one part (160 septets), 81 do not. */
	{
		char t[400] = "";
		for (int i = 0; i < 80; i++)
			strcat(t, "€");
		ck_assert_int_eq(smpp_text_parts(t, 0), 1);
		strcat(t, "€");
		ck_assert_int_eq(smpp_text_parts(t, 0), 2);
	}
}
END_TEST

START_TEST(backtick_forces_ucs2)
{
	uint8_t buf[64], dc;
	size_t units;
	int n;

	n = smpp_text_encode("code `1234`", 0, buf, sizeof(buf), &dc, &units);
	ck_assert_int_eq(dc, 0x08);
	ck_assert_int_eq(n, 22);
	ck_assert_uint_eq(units, 11);
	ck_assert_mem_eq(buf, "\x00" "c\x00" "o", 4);
	roundtrip("code `1234`", 0, 0x08, 11);
}
END_TEST

START_TEST(latin1_when_the_smsc_default_is_latin1)
{
	uint8_t buf[64], dc;
	size_t units;
	char back[64];
	int n;

	n = smpp_text_encode("código ç", 1, buf, sizeof(buf), &dc, &units);
	ck_assert_int_eq(dc, 0x00);
	ck_assert_int_eq(n, 8);
	ck_assert_uint_eq(units, 8);
	ck_assert_int_eq(buf[1], 0xF3);
	ck_assert_int_eq(buf[7], 0xE7);
	ck_assert_int_eq(smpp_text_decode(0x00, 1, buf, 8, back,
	    sizeof(back)), 10);
	ck_assert_str_eq(back, "código ç");
	/* data_coding 0x03 is Latin-1 whatever the flag says. */
	ck_assert_int_eq(smpp_text_decode(0x03, 0, buf, 8, back,
	    sizeof(back)), 10);
	ck_assert_str_eq(back, "código ç");
	/* € is not Latin-1: UCS-2. */
	roundtrip("5 €", 1, 0x08, 3);
}
END_TEST

START_TEST(emoji_are_surrogate_pairs)
{
	uint8_t buf[64], dc;
	size_t units;
	int n;

	n = smpp_text_encode("ok \xF0\x9F\x98\x80", 0, buf, sizeof(buf), &dc,
	    &units);
	ck_assert_int_eq(dc, 0x08);
	ck_assert_int_eq(n, 10);
	ck_assert_uint_eq(units, 5);
	ck_assert_mem_eq(buf + 6, "\xD8\x3D\xDE\x00", 4);
	roundtrip("Код \xF0\x9F\x94\x91 123456", 0, 0x08, 13);
}
END_TEST

START_TEST(invalid_utf8_is_refused)
{
	static const char *bad[] = {
		"\xC0\xAF",             /* overlong '/' */
		"\xE0\x80\xAF",         /* overlong, 3 octets */
		"\xF0\x80\x80\xAF",     /* overlong, 4 octets */
		"\xED\xA0\x80",         /* surrogate D800 */
		"abc\xE2\x82",          /* truncated € */
		"\xF4\x90\x80\x80",     /* above U+10FFFF */
		"\x80",                 /* lone continuation */
		"\xFF",
		"ok \xC3",              /* truncated at the end */
	};
	uint8_t buf[64], dc;
	size_t units;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(smpp_text_encode(bad[i], 0, buf, sizeof(buf),
		    &dc, &units) == -1, "accepted bad[%zu]", i);
		ck_assert_int_eq(smpp_text_parts(bad[i], 0), -1);
		ck_assert_int_eq(smpp_text_parts(bad[i], 1), -1);
	}
}
END_TEST

START_TEST(encode_refuses_what_does_not_fit)
{
	uint8_t buf[8], dc;
	size_t units = 0;

	ck_assert_int_eq(smpp_text_encode("12345678", 0, buf, 8, &dc,
	    &units), 8);
	ck_assert_int_eq(smpp_text_encode("123456789", 0, buf, 8, &dc,
	    &units), -1);
	ck_assert_uint_eq(units, 9);
	/* An ESC pair is not cut in half at the end of the buffer. */
	ck_assert_int_eq(smpp_text_encode("1234567€", 0, buf, 8, &dc,
	    &units), -1);
	ck_assert_int_eq(smpp_text_encode("жжжж", 0, buf, 8, &dc, &units), 8);
	ck_assert_int_eq(smpp_text_encode("жжжжж", 0, buf, 8, &dc, &units),
	    -1);
}
END_TEST

/* A string of n copies of s. */
static char *
repeat(const char *s, int n)
{
	size_t l = strlen(s);
	char *t = malloc(l * (size_t)n + 1);

	for (int i = 0; i < n; i++)
		memcpy(t + l * (size_t)i, s, l);
	t[l * (size_t)n] = '\0';
	return t;
}

static int
parts_of(const char *s, int n)
{
	char *t = repeat(s, n);
	int p = smpp_text_parts(t, 0);

	free(t);
	return p;
}

START_TEST(part_counts)
{
	ck_assert_int_eq(smpp_text_parts("", 0), 1);
	ck_assert_int_eq(parts_of("a", 160), 1);
	ck_assert_int_eq(parts_of("a", 161), 2);
	ck_assert_int_eq(parts_of("a", 306), 2);
	ck_assert_int_eq(parts_of("a", 307), 3);
	ck_assert_int_eq(parts_of("ж", 70), 1);
	ck_assert_int_eq(parts_of("ж", 71), 2);
	ck_assert_int_eq(parts_of("ж", 134), 2);
	ck_assert_int_eq(parts_of("ж", 135), 3);
}
END_TEST

START_TEST(pairs_are_never_split)
{
	char *a = repeat("a", 152), *z = repeat("ж", 66), t[1024];

	/* 152 + 2 + 152 = 306 septets would be two parts of 153 if the
	 * ESC pair could straddle the boundary; it cannot, so three. */
	snprintf(t, sizeof(t), "%s€%s", a, a);
	ck_assert_int_eq(smpp_text_parts(t, 0), 3);
	/* The same without the boundary problem: two. */
	snprintf(t, sizeof(t), "%s€%s", a, a + 1);
	ck_assert_int_eq(smpp_text_parts(t, 0), 2);
	/* 66 + 2 + 66 = 134 UTF-16 units with a surrogate pair at 67. */
	snprintf(t, sizeof(t), "%s\xF0\x9F\x98\x80%s", z, z);
	ck_assert_int_eq(smpp_text_parts(t, 0), 3);
	free(a);
	free(z);
}
END_TEST

/* ---- splitting into parts ---- */

#define MAXP 8

struct split {
	uint8_t parts[MAXP][160];
	size_t lens[MAXP];
	uint8_t dc;
	int n;
};

/* Split t, check the count against smpp_text_parts(), each part against
 * the per-part limit, and that the parts read back as t. */
static void
split_check(const char *t, int latin1, struct split *sp)
{
	char back[4096], one[1024];
	size_t pos = 0, limit;
	int i, m;

	memset(sp, 0xAA, sizeof(*sp));
	sp->n = smpp_text_split(t, latin1, sp->parts, sp->lens, MAXP,
	    &sp->dc);
	ck_assert_int_ge(sp->n, 1);
	ck_assert_int_eq(sp->n, smpp_text_parts(t, latin1));
	if (sp->dc == 0x08)
		limit = sp->n == 1 ? 140 : 134;
	else
		limit = sp->n == 1 ? 160 : 153;
	back[0] = '\0';
	for (i = 0; i < sp->n; i++) {
		ck_assert_uint_le(sp->lens[i], limit);
		/* Each part reads as text on its own: nothing is cut. */
		m = smpp_text_decode(sp->dc, latin1, sp->parts[i],
		    sp->lens[i], one, sizeof(one));
		ck_assert_int_ge(m, 0);
		ck_assert_uint_lt(pos + (size_t)m, sizeof(back));
		memcpy(back + pos, one, (size_t)m + 1);
		pos += (size_t)m;
	}
	ck_assert_str_eq(back, t);
}

START_TEST(split_gsm)
{
	struct split sp;
	char *t;

	t = repeat("a", 160);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 1);
	ck_assert_uint_eq(sp.lens[0], 160);
	ck_assert_int_eq(sp.dc, 0x00);
	ck_assert_mem_eq(sp.parts[0], t, 160);
	free(t);

	t = repeat("a", 161);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 2);
	ck_assert_uint_eq(sp.lens[0], 153);
	ck_assert_uint_eq(sp.lens[1], 8);
	free(t);

	t = repeat("a", 306);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 2);
	ck_assert_uint_eq(sp.lens[0], 153);
	ck_assert_uint_eq(sp.lens[1], 153);
	free(t);

	t = repeat("a", 307);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 3);
	ck_assert_uint_eq(sp.lens[2], 1);
	free(t);

	/* Distinct characters land in the right part, in order. */
	t = repeat("0123456789", 40);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 3);
	ck_assert_mem_eq(sp.parts[1], t + 153, 153);
	ck_assert_mem_eq(sp.parts[2], t + 306, 94);
	free(t);

	/* The empty text is one empty part. */
	split_check("", 0, &sp);
	ck_assert_int_eq(sp.n, 1);
	ck_assert_uint_eq(sp.lens[0], 0);
}
END_TEST

START_TEST(split_esc_pair_moves_whole)
{
	char *a = repeat("a", 152), t[1024];
	struct split sp;

	/* '€' would take septets 153 and 154: it opens part 2 instead. */
	snprintf(t, sizeof(t), "%s€%s", a, a);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 3);
	ck_assert_uint_eq(sp.lens[0], 152);
	ck_assert_int_eq(sp.parts[1][0], 0x1B);
	ck_assert_int_eq(sp.parts[1][1], 0x65);
	ck_assert_uint_eq(sp.lens[1], 153);
	ck_assert_uint_eq(sp.lens[2], 1);
	/* The same with '{', which ends part 1 when it fits exactly. */
	snprintf(t, sizeof(t), "%.151s{%s", a, a);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 2);
	ck_assert_uint_eq(sp.lens[0], 153);
	ck_assert_int_eq(sp.parts[0][151], 0x1B);
	ck_assert_int_eq(sp.parts[0][152], 0x28);
	ck_assert_uint_eq(sp.lens[1], 152);
	free(a);
}
END_TEST

START_TEST(split_ucs2)
{
	struct split sp;
	char *t, *z;
	char u[1024];

	t = repeat("ж", 70);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 1);
	ck_assert_uint_eq(sp.lens[0], 140);
	ck_assert_int_eq(sp.dc, 0x08);
	free(t);

	t = repeat("ж", 71);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.n, 2);
	ck_assert_uint_eq(sp.lens[0], 134);
	ck_assert_uint_eq(sp.lens[1], 8);
	ck_assert_mem_eq(sp.parts[1], "\x04\x36\x04\x36", 4);
	free(t);

	/* An emoji on units 67 and 68 moves whole to part 2. */
	z = repeat("ж", 66);
	snprintf(u, sizeof(u), "%s\xF0\x9F\x98\x80%s", z, z);
	split_check(u, 0, &sp);
	ck_assert_int_eq(sp.n, 3);
	ck_assert_uint_eq(sp.lens[0], 132);
	ck_assert_mem_eq(sp.parts[1], "\xD8\x3D\xDE\x00", 4);
	ck_assert_uint_eq(sp.lens[1], 134);
	ck_assert_uint_eq(sp.lens[2], 2);
	free(z);

	/* One non-GSM character makes every part UCS-2: 201 units are
	 * three parts of 67, 202 are four. */
	t = repeat("a", 101);
	snprintf(u, sizeof(u), "%.100s`%.100s", t, t);
	split_check(u, 0, &sp);
	ck_assert_int_eq(sp.dc, 0x08);
	ck_assert_int_eq(sp.n, 3);
	snprintf(u, sizeof(u), "%.100s`%s", t, t);
	split_check(u, 0, &sp);
	ck_assert_int_eq(sp.n, 4);
	free(t);
}
END_TEST

START_TEST(split_latin1)
{
	struct split sp;
	char *t = repeat("ç", 161);

	/* Latin-1 counts like GSM: 160 in one part, then 153 per part. */
	split_check(t, 1, &sp);
	ck_assert_int_eq(sp.dc, 0x00);
	ck_assert_int_eq(sp.n, 2);
	ck_assert_uint_eq(sp.lens[0], 153);
	ck_assert_uint_eq(sp.lens[1], 8);
	ck_assert_int_eq(sp.parts[1][0], 0xE7);
	free(t);
	t = repeat("ç", 160);
	split_check(t, 1, &sp);
	ck_assert_int_eq(sp.n, 1);
	free(t);
	/* Without the flag it is UCS-2 (GSM has only the upper-case Ç),
	 * so 70/67 units: three parts. */
	t = repeat("ç", 161);
	split_check(t, 0, &sp);
	ck_assert_int_eq(sp.dc, 0x08);
	ck_assert_int_eq(sp.n, 3);
	free(t);
}
END_TEST

START_TEST(split_refuses)
{
	uint8_t parts[3][160], dc;
	size_t lens[3];
	char *t;

	t = repeat("a", 459); /* 3 * 153 */
	ck_assert_int_eq(smpp_text_split(t, 0, parts, lens, 3, &dc), 3);
	free(t);
	t = repeat("a", 460);
	ck_assert_int_eq(smpp_text_split(t, 0, parts, lens, 3, &dc), -1);
	ck_assert_int_eq(smpp_text_split(t, 0, parts, lens, 2, &dc), -1);
	free(t);
	/* Far too long for the stream buffer as well. */
	t = repeat("a", 5000);
	ck_assert_int_eq(smpp_text_split(t, 0, parts, lens, 3, &dc), -1);
	free(t);
	t = repeat("a", 161);
	ck_assert_int_eq(smpp_text_split(t, 0, parts, lens, 1, &dc), -1);
	ck_assert_int_eq(smpp_text_split(t, 0, parts, lens, 0, &dc), -1);
	free(t);
	ck_assert_int_eq(smpp_text_split("ok \xC3", 0, parts, lens, 3, &dc),
	    -1);
	ck_assert_int_eq(smpp_text_split(NULL, 0, parts, lens, 3, &dc), -1);
}
END_TEST

/* ---- the bodies of the submit_sm (smpp_segments_make) ---- */

/* Read every body of sg back as text: check each part's concatenation UDH
 * (reference ref, n parts, numbered from 1) when esm_class says there is
 * one, decode what follows, and join. */
static void
seg_join(const struct smpp_segments *sg, int latin1, uint8_t ref, char *out,
    size_t outsize)
{
	char one[2048];
	size_t pos = 0;
	int i, m;

	out[0] = '\0';
	for (i = 0; i < sg->n; i++) {
		const uint8_t *b = smpp_segments_body(sg, i);
		size_t len = sg->len[i];

		if (sg->esm_class & 0x40) {
			ck_assert_uint_gt(len, 6);
			ck_assert_uint_le(len, 6 + (sg->data_coding == 0x08 ?
			    134 : 153));
			ck_assert_int_eq(b[0], 0x05);
			ck_assert_int_eq(b[1], 0x00);
			ck_assert_int_eq(b[2], 0x03);
			ck_assert_int_eq(b[3], ref);
			ck_assert_int_eq(b[4], sg->n);
			ck_assert_int_eq(b[5], i + 1);
			b += 6;
			len -= 6;
		}
		m = smpp_text_decode(sg->data_coding, latin1, b, len, one,
		    sizeof(one));
		ck_assert_int_ge(m, 0);
		ck_assert_uint_lt(pos + (size_t)m, outsize);
		memcpy(out + pos, one, (size_t)m + 1);
		pos += (size_t)m;
	}
}

static int
all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* Make t's bodies (at most 4 parts), check the form they came in, and
 * that they read back as t. */
static void
seg_check(const char *t, int latin1, int long_payload, uint8_t ref,
    int want_n, int want_payload, uint8_t want_dc, uint8_t want_esm,
    struct smpp_segments *sg)
{
	char back[4096];

	ck_assert_int_eq(smpp_segments_make(t, latin1, long_payload, ref, 4,
	    sg), want_n);
	ck_assert_int_eq(sg->n, want_n);
	ck_assert_int_eq(sg->use_payload, want_payload);
	ck_assert_int_eq(sg->data_coding, want_dc);
	ck_assert_int_eq(sg->esm_class, want_esm);
	seg_join(sg, latin1, ref, back, sizeof(back));
	ck_assert_str_eq(back, t);
}

START_TEST(seg_single_part)
{
	static const struct {
		const char *text;
		int latin1;
		uint8_t dc;
		size_t len;
		const char *octets;
	} cases[] = {
		/* GSM septets, the extension characters as ESC pairs. */
		{ "Your code is 123456. @£$ {ok}", 0, 0x00, 31,
		    "Your code is 123456.\x20\x00\x01\x02\x20\x1B\x28ok"
		    "\x1B\x29" },
		/* UCS-2, big-endian. */
		{ "Код 12", 0, 0x08, 12,
		    "\x04\x1A\x04\x3E\x04\x34\x00\x20\x00\x31\x00\x32" },
		/* An SMSC that reads 0x00 as Latin-1: one octet each... */
		{ "Código 1", 1, 0x00, 8, "C\xF3" "digo 1" },
		/* ...where a GSM one needs UCS-2 (ó is not GSM). */
		{ "Código 1", 0, 0x08, 16, "\x00\x43\x00\xF3\x00\x64\x00\x69"
		    "\x00\x67\x00\x6F\x00\x20\x00\x31" },
	};
	struct smpp_segments sg;
	char *a;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		/* One body, no UDH; long_payload changes nothing. */
		for (int lp = 0; lp < 2; lp++) {
			seg_check(cases[k].text, cases[k].latin1, lp, 7, 1, 0,
			    cases[k].dc, 0, &sg);
			ck_assert_uint_eq(sg.len[0], cases[k].len);
			ck_assert_mem_eq(smpp_segments_body(&sg, 0),
			    cases[k].octets, cases[k].len);
		}
	}
	/* Nor does a full 160-septet part. */
	a = repeat("a", 160);
	seg_check(a, 0, 1, 7, 1, 0, 0x00, 0, &sg);
	ck_assert_uint_eq(sg.len[0], 160);
	ck_assert_mem_eq(smpp_segments_body(&sg, 0), a, 160);
	free(a);
	smpp_segments_clear(&sg);
}
END_TEST

START_TEST(seg_three_parts_gsm)
{
	char *t = repeat("0123456789", 40);	/* 400 septets: 153+153+94 */
	struct smpp_segments sg, copy;
	const uint8_t *b;

	seg_check(t, 0, 0, 0xA7, 3, 0, 0x00, 0x40, &sg);
	ck_assert_uint_eq(sg.len[0], 6 + 153);
	ck_assert_uint_eq(sg.len[1], 6 + 153);
	ck_assert_uint_eq(sg.len[2], 6 + 94);
	b = smpp_segments_body(&sg, 0);
	ck_assert_mem_eq(b, "\x05\x00\x03\xA7\x03\x01", 6);
	ck_assert_mem_eq(b + 6, t, 153);
	b = smpp_segments_body(&sg, 1);
	ck_assert_mem_eq(b, "\x05\x00\x03\xA7\x03\x02", 6);
	ck_assert_mem_eq(b + 6, t + 153, 153);
	b = smpp_segments_body(&sg, 2);
	ck_assert_mem_eq(b, "\x05\x00\x03\xA7\x03\x03", 6);
	ck_assert_mem_eq(b + 6, t + 306, 94);
	/* A copy reads the same: bodies are found by offset. */
	copy = sg;
	smpp_segments_clear(&sg);
	ck_assert_mem_eq(smpp_segments_body(&copy, 2) + 6, t + 306, 94);
	smpp_segments_clear(&copy);
	free(t);
}
END_TEST

START_TEST(seg_payload)
{
	char *t = repeat("0123456789", 40);
	struct smpp_segments sg;

	/* Three parts' worth in one message_payload: the plain encoding,
	 * no UDH, esm_class 0. */
	seg_check(t, 0, 1, 0xA7, 1, 1, 0x00, 0, &sg);
	ck_assert_uint_eq(sg.len[0], 400);
	ck_assert_mem_eq(smpp_segments_body(&sg, 0), t, 400);
	free(t);
	/* The longest text allowed, in each alphabet, fits the struct. */
	t = repeat("a", 4 * 153);
	seg_check(t, 0, 1, 1, 1, 1, 0x00, 0, &sg);
	ck_assert_uint_eq(sg.len[0], 612);
	free(t);
	t = repeat("ç", 4 * 153);
	seg_check(t, 1, 1, 1, 1, 1, 0x00, 0, &sg);
	ck_assert_uint_eq(sg.len[0], 612);
	free(t);
	t = repeat("ж", 4 * 67);
	seg_check(t, 0, 1, 1, 1, 1, 0x08, 0, &sg);
	ck_assert_uint_eq(sg.len[0], 4 * 67 * 2);
	ck_assert_mem_eq(smpp_segments_body(&sg, 0), "\x04\x36\x04\x36", 4);
	free(t);
	smpp_segments_clear(&sg);
}
END_TEST

START_TEST(seg_too_many_parts)
{
	char *t = repeat("a", 4 * 153 + 1);
	struct smpp_segments sg;

	/* Five parts: refused in both forms, and nothing of it is left. */
	memset(&sg, 0xAA, sizeof(sg));
	ck_assert_int_eq(smpp_segments_make(t, 0, 0, 1, 4, &sg), -1);
	ck_assert_int_eq(sg.n, 0);
	ck_assert(all_zero(&sg, sizeof(sg)));
	ck_assert_int_eq(smpp_segments_make(t, 0, 1, 1, 4, &sg), -1);
	ck_assert(all_zero(&sg, sizeof(sg)));
	/* A lower bound from the caller. */
	ck_assert_int_eq(smpp_segments_make(t + 154, 0, 0, 1, 4, &sg), 3);
	ck_assert_int_eq(smpp_segments_make(t + 154, 0, 0, 1, 2, &sg), -1);
	ck_assert_int_eq(smpp_segments_make(t + 154, 0, 1, 1, 2, &sg), -1);
	ck_assert_int_eq(smpp_segments_make(t + 453, 0, 0, 1, 1, &sg), 1);
	/* max_parts out of range, text NULL or not UTF-8. */
	ck_assert_int_eq(smpp_segments_make("ok", 0, 0, 1, 0, &sg), -1);
	ck_assert_int_eq(smpp_segments_make("ok", 0, 0, 1,
	    SMPP_SEGMENTS_MAX + 1, &sg), -1);
	ck_assert_int_eq(smpp_segments_make(NULL, 0, 0, 1, 4, &sg), -1);
	ck_assert_int_eq(smpp_segments_make("ok \xC3", 0, 0, 1, 4, &sg), -1);
	ck_assert(all_zero(&sg, sizeof(sg)));
	free(t);
}
END_TEST

START_TEST(seg_parts_read_back)
{
	static const struct {
		const char *unit;
		int times, latin1, parts;
		uint8_t dc;
	} cases[] = {
		{ "€ code {1} ", 30, 0, 3, 0x00 },	/* ESC pairs */
		{ "ça 1 ", 70, 1, 3, 0x00 },		/* Latin-1 */
		{ "код \xF0\x9F\x98\x80 ", 30, 0, 4, 0x08 },	/* surrogates */
		{ "x", 161, 0, 2, 0x00 },
	};
	struct smpp_segments sg, pl;
	size_t off;
	char *t;

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		t = repeat(cases[k].unit, cases[k].times);
		seg_check(t, cases[k].latin1, 0, (uint8_t)(200 + k),
		    cases[k].parts, 0, cases[k].dc, 0x40, &sg);
		/* The payload form is the parts without their UDH. */
		seg_check(t, cases[k].latin1, 1, 0, 1, 1, cases[k].dc, 0, &pl);
		off = 0;
		for (int i = 0; i < sg.n; i++) {
			ck_assert_mem_eq(smpp_segments_body(&pl, 0) + off,
			    smpp_segments_body(&sg, i) + 6, sg.len[i] - 6);
			off += sg.len[i] - 6;
		}
		ck_assert_uint_eq(pl.len[0], off);
		smpp_segments_clear(&pl);
		smpp_segments_clear(&sg);
		free(t);
	}
}
END_TEST

START_TEST(seg_clear_erases_the_code)
{
	struct smpp_segments sg;

	ck_assert_int_eq(smpp_segments_make("Your code is 424242", 0, 0, 9, 4,
	    &sg), 1);
	ck_assert_ptr_nonnull(memmem(sg.buf, sizeof(sg.buf), "424242", 6));
	smpp_segments_clear(&sg);
	ck_assert_int_eq(sg.n, 0);
	ck_assert(all_zero(&sg, sizeof(sg)));
	smpp_segments_clear(&sg);
	ck_assert(all_zero(&sg, sizeof(sg)));
}
END_TEST

START_TEST(decode_other_codings)
{
	char out[64];

	ck_assert_int_eq(smpp_text_decode(0x01, 0, (const uint8_t *)"Hi 1",
	    4, out, sizeof(out)), 4);
	ck_assert_str_eq(out, "Hi 1");
	ck_assert_int_eq(smpp_text_decode(0x01, 0, (const uint8_t *)"\xE9",
	    1, out, sizeof(out)), -1);
	ck_assert_int_eq(smpp_text_decode(0x02, 0, (const uint8_t *)"x", 1,
	    out, sizeof(out)), -1);
	ck_assert_int_eq(smpp_text_decode(0x04, 0, (const uint8_t *)"x", 1,
	    out, sizeof(out)), -1);
	/* Odd UCS-2 length. */
	ck_assert_int_eq(smpp_text_decode(0x08, 0, (const uint8_t *)"\x00"
	    "a\x00", 3, out, sizeof(out)), -1);
	/* GSM octets above 0x7F are not septets. */
	ck_assert_int_eq(smpp_text_decode(0x00, 0, (const uint8_t *)"\x80",
	    1, out, sizeof(out)), -1);
	/* An empty message decodes to "". */
	ck_assert_int_eq(smpp_text_decode(0x08, 0, NULL, 0, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	/* Output too small. */
	ck_assert_int_eq(smpp_text_decode(0x01, 0, (const uint8_t *)"abcd",
	    4, out, 4), -1);
}
END_TEST

/* ---- receipts ---- */

static int
parse(const char *s, struct smpp_receipt *r)
{
	return smpp_receipt_parse_text((const uint8_t *)s, strlen(s), r);
}

/* Nothing of the code "271828" (the text: field) anywhere in the struct. */
static void
no_code_in(const struct smpp_receipt *r)
{
	ck_assert_ptr_null(memmem(r, sizeof(*r), "271828", 6));
	ck_assert_ptr_null(memmem(r, sizeof(*r), "code", 4));
}

START_TEST(receipt_standard)
{
	struct smpp_receipt r;

	ck_assert_int_eq(parse("id:0123456789 sub:001 dlvrd:001 submit "
	    "date:2401011200 done date:2401011201 stat:DELIVRD err:000 "
	    "text:Your code is 271828", &r), 0);
	ck_assert_str_eq(r.message_id, "0123456789");
	ck_assert_int_eq(r.state, SMPP_MSG_DELIVERED);
	ck_assert_str_eq(r.stat, "DELIVRD");
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(r.network_error, -1);
	ck_assert_int_eq(r.from_tlv, 0);
	no_code_in(&r);
}
END_TEST

START_TEST(receipt_lower_case_and_long_dates)
{
	struct smpp_receipt r;

	ck_assert_int_eq(parse("ID:abc-1 SUB:001 DLVRD:000 Submit Date:"
	    "240101120059 Done Date:240101120130 Stat:undeliv Err:001 "
	    "Text:Your code is 123456", &r), 0);
	ck_assert_str_eq(r.message_id, "abc-1");
	ck_assert_int_eq(r.state, SMPP_MSG_UNDELIVERABLE);
	ck_assert_str_eq(r.stat, "UNDELIV");
	ck_assert_int_eq(r.err, 1);
	no_code_in(&r);
}
END_TEST

START_TEST(receipt_missing_fields_any_order)
{
	struct smpp_receipt r;

	ck_assert_int_eq(parse("stat:EXPIRED id:42", &r), 0);
	ck_assert_str_eq(r.message_id, "42");
	ck_assert_int_eq(r.state, SMPP_MSG_EXPIRED);
	ck_assert_int_eq(r.err, -1);
	/* Non-numeric err. */
	ck_assert_int_eq(parse("id:42 stat:REJECTD err:X1", &r), 0);
	ck_assert_int_eq(r.state, SMPP_MSG_REJECTED);
	ck_assert_int_eq(r.err, -1);
	/* Extra fields, tabs, CRLF, a space after the colon. */
	ck_assert_int_eq(parse("foo:bar\tid: 7F\r\nvendor:1 stat:ACCEPTD\r\n",
	    &r), 0);
	ck_assert_str_eq(r.message_id, "7F");
	ck_assert_int_eq(r.state, SMPP_MSG_ACCEPTED);
	/* An empty sub: does not swallow the next key. */
	ck_assert_int_eq(parse("sub: id:9 stat:ENROUTE", &r), 0);
	ck_assert_str_eq(r.message_id, "9");
	ck_assert_int_eq(r.state, SMPP_MSG_ENROUTE);
}
END_TEST

START_TEST(receipt_every_stat)
{
	static const struct {
		const char *stat;
		enum smpp_msg_state state;
	} t[] = {
		{ "DELIVRD", SMPP_MSG_DELIVERED }, { "EXPIRED", SMPP_MSG_EXPIRED },
		{ "DELETED", SMPP_MSG_DELETED }, { "UNDELIV", SMPP_MSG_UNDELIVERABLE },
		{ "ACCEPTD", SMPP_MSG_ACCEPTED }, { "UNKNOWN", SMPP_MSG_UNKNOWN },
		{ "REJECTD", SMPP_MSG_REJECTED }, { "ENROUTE", SMPP_MSG_ENROUTE },
	};
	struct smpp_receipt r;
	char buf[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(buf, sizeof(buf), "id:1 stat:%s err:000", t[i].stat);
		ck_assert_int_eq(parse(buf, &r), 0);
		ck_assert_int_eq(r.state, t[i].state);
		ck_assert_str_eq(r.stat, t[i].stat);
	}
	ck_assert_int_eq(parse("id:1 stat:DELIVERED", &r), -1);
	ck_assert_int_eq(parse("id:1 stat:FOOBARX", &r), -1);
}
END_TEST

START_TEST(receipt_hex_and_long_ids)
{
	struct smpp_receipt r;
	char buf[160], id[80];

	ck_assert_int_eq(parse("id:812FC7470000001B sub:001 dlvrd:001 "
	    "stat:DELIVRD err:000", &r), 0);
	ck_assert_str_eq(r.message_id, "812FC7470000001B");
	ck_assert_int_eq(parse("id:0e999f21-5e2b-4b1c-9c1d-2f3e4a5b6c7d "
	    "stat:DELIVRD", &r), 0);
	ck_assert_str_eq(r.message_id, "0e999f21-5e2b-4b1c-9c1d-2f3e4a5b6c7d");
	memset(id, 'A', 65);
	id[65] = '\0';
	snprintf(buf, sizeof(buf), "id:%s stat:DELIVRD", id);
	ck_assert_int_eq(parse(buf, &r), 0);
	ck_assert_str_eq(r.message_id, id);
	snprintf(buf, sizeof(buf), "id:%sA stat:DELIVRD", id);
	ck_assert_int_eq(parse(buf, &r), -1);
}
END_TEST

START_TEST(receipt_garbage)
{
	struct smpp_receipt r;
	static const uint8_t bin[] = { 0x00, 0xFF, 'i', 'd', ':', 0x01, 0x02 };

	ck_assert_int_eq(parse("", &r), -1);
	ck_assert_int_eq(parse("hello world", &r), -1);
	ck_assert_int_eq(parse("id:1", &r), -1);          /* no stat */
	ck_assert_int_eq(parse("stat:DELIVRD", &r), -1);  /* no id */
	ck_assert_int_eq(parse("id: stat:DELIVRD", &r), -1); /* empty id */
	ck_assert_int_eq(parse("idx:1 stat:DELIVRD", &r), -1);
	ck_assert_int_eq(smpp_receipt_parse_text(bin, sizeof(bin), &r), -1);
	ck_assert_str_eq(r.message_id, "");
	ck_assert_int_eq(smpp_receipt_parse_text(NULL, 0, &r), -1);
}
END_TEST

START_TEST(receipt_text_field_is_ignored)
{
	struct smpp_receipt r;
	const char *s = "id:77 stat:DELIVRD err:000 text:stat:UNDELIV id:271828";

	/* The code's echo cannot change the state or the id. */
	ck_assert_int_eq(parse(s, &r), 0);
	ck_assert_int_eq(r.state, SMPP_MSG_DELIVERED);
	ck_assert_str_eq(r.message_id, "77");
	no_code_in(&r);
	/* A stat that only appears inside text: is no stat at all. */
	ck_assert_int_eq(parse("id:77 text:x stat:DELIVRD", &r), -1);
}
END_TEST

START_TEST(receipt_uses_len_not_nul)
{
	struct smpp_receipt r;
	const char *s = "id:12345 stat:DELIVRD";

	/* Cut inside the stat: no NUL there, and "DELIV" is no state. */
	ck_assert_int_eq(smpp_receipt_parse_text((const uint8_t *)s, 19, &r),
	    -1);
	/* Cut inside the id: the id is what len covers. */
	ck_assert_int_eq(smpp_receipt_parse_text((const uint8_t *)
	    "stat:DELIVRD id:12345", 18, &r), 0);
	ck_assert_str_eq(r.message_id, "12");
}
END_TEST

/* ---- message ids ---- */

static const char *
norm(const char *id, int mode)
{
	static char out[128];

	if (smpp_msgid_normalise(id, mode, out, sizeof(out)) != 0)
		return "(error)";
	return out;
}

START_TEST(msgid_as_string)
{
	ck_assert_str_eq(norm("  0e999f21-ab ", 0), "E999F21-AB");
	ck_assert_str_eq(norm("E999F21-AB", 0), "E999F21-AB");
	ck_assert_str_eq(norm("000", 0), "0");
	ck_assert_str_eq(norm("00120", 0), "120");
	ck_assert_str_eq(norm("", 0), "(error)");
	ck_assert_str_eq(norm("   ", 0), "(error)");
}
END_TEST

START_TEST(msgid_hex_to_decimal)
{
	ck_assert_str_eq(norm("812FC7470000001B", 1), "9308878062554710043");
	ck_assert_str_eq(norm("812fc7470000001b", 1), "9308878062554710043");
	ck_assert_str_eq(norm("04000000086ECD50", 1), "288230376293190992");
	ck_assert_str_eq(norm("0x4000000086ECD50", 1), "288230376293190992");
	ck_assert_str_eq(norm("FFFFFFFFFFFFFFFF", 1), "18446744073709551615");
	/* 80 bits. */
	ck_assert_str_eq(norm("FFFFFFFFFFFFFFFFFFFF", 1),
	    "1208925819614629174706175");
	ck_assert_str_eq(norm("ff", 1), "255");
	ck_assert_str_eq(norm("0000", 1), "0");
	ck_assert_str_eq(norm("12G4", 1), "(error)");
	ck_assert_str_eq(norm("0e999f21-ab", 1), "(error)");
}
END_TEST

START_TEST(msgid_decimal_to_hex)
{
	ck_assert_str_eq(norm("9308878062554710043", 2), "812FC7470000001B");
	ck_assert_str_eq(norm("288230376293190992", 2), "4000000086ECD50");
	ck_assert_str_eq(norm("0288230376293190992", 2), "4000000086ECD50");
	ck_assert_str_eq(norm("18446744073709551616", 2), "10000000000000000");
	ck_assert_str_eq(norm("1208925819614629174706175", 2),
	    "FFFFFFFFFFFFFFFFFFFF");
	ck_assert_str_eq(norm("255", 2), "FF");
	ck_assert_str_eq(norm("0", 2), "0");
	ck_assert_str_eq(norm("12A", 2), "(error)");
	ck_assert_str_eq(norm("-1", 2), "(error)");
}
END_TEST

START_TEST(msgid_out_too_small)
{
	char out[4];

	ck_assert_int_eq(smpp_msgid_normalise("255", 0, out, 4), 0);
	ck_assert_int_eq(smpp_msgid_normalise("1234", 0, out, 4), -1);
	ck_assert_int_eq(smpp_msgid_normalise("FFF", 1, out, 4), -1);
	ck_assert_int_eq(smpp_msgid_normalise("FF", 1, out, 4), 0);
	ck_assert_str_eq(out, "255");
	ck_assert_int_eq(smpp_msgid_normalise("65535", 2, out, 4), -1);
	ck_assert_int_eq(smpp_msgid_normalise("1", 3, out, 4), -1);
}
END_TEST

/* ---- inbound (MO): decoding and the user data header ---- */

START_TEST(mo_decode_gsm_with_extension_table)
{
	/* "Code {42} €5 ^" as GSM septets, extension characters behind ESC. */
	static const uint8_t in[] = { 'C', 'o', 'd', 'e', ' ', 0x1B, 0x28,
	    '4', '2', 0x1B, 0x29, ' ', 0x1B, 0x65, '5', ' ', 0x1B, 0x14, ' ',
	    0x00, 0x02, 0x11 };
	char out[64];

	ck_assert_int_ge(smpp_text_decode(0x00, 0, in, sizeof(in), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "Code {42} €5 ^ @$_");
	/* The message-class forms of GSM read the same, even on an SMSC
	 * whose default alphabet is Latin-1. */
	ck_assert_int_ge(smpp_text_decode(0xF0, 1, in, sizeof(in), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "Code {42} €5 ^ @$_");
	ck_assert_int_ge(smpp_text_decode(0x11, 0, in, sizeof(in), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "Code {42} €5 ^ @$_");
	/* 8-bit data is not text. */
	ck_assert_int_eq(smpp_text_decode(0xF4, 0, in, sizeof(in), out,
	    sizeof(out)), -1);
	ck_assert_int_eq(smpp_text_decode(0x14, 0, in, sizeof(in), out,
	    sizeof(out)), -1);
}
END_TEST

START_TEST(mo_decode_ucs2_surrogates_and_latin1)
{
	/* "Код 😀 1234" in UTF-16BE, the emoji a surrogate pair. */
	static const uint8_t u[] = { 0x04, 0x1A, 0x04, 0x3E, 0x04, 0x34, 0x00,
	    0x20, 0xD8, 0x3D, 0xDE, 0x00, 0x00, 0x20, 0x00, '1', 0x00, '2',
	    0x00, '3', 0x00, '4' };
	/* A lone high surrogate at the end reads as U+FFFD. */
	static const uint8_t lone[] = { 0x00, 'a', 0xD8, 0x3D };
	char out[64];

	ck_assert_int_ge(smpp_text_decode(0x08, 0, u, sizeof(u), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "Код 😀 1234");
	ck_assert_int_ge(smpp_text_decode(0x18, 0, u, sizeof(u), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "Код 😀 1234");
	ck_assert_int_ge(smpp_text_decode(0x08, 0, lone, sizeof(lone), out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "a\xEF\xBF\xBD");
	/* Latin-1: explicitly, or 0x00 on an SMSC whose default it is. */
	ck_assert_int_ge(smpp_text_decode(0x03, 0, (const uint8_t *)"caf\xE9",
	    4, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "café");
	ck_assert_int_ge(smpp_text_decode(0x00, 1, (const uint8_t *)"caf\xE9",
	    4, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "café");
}
END_TEST

START_TEST(mo_udh_concat8)
{
	static const uint8_t b[] = { 0x05, 0x00, 0x03, 0xA7, 0x03, 0x02, 'h',
	    'i' };
	struct smpp_concat c;

	ck_assert_int_eq(smpp_udh_parse(b, sizeof(b), 1, &c), 6);
	ck_assert_int_eq(c.present, 1);
	ck_assert_int_eq(c.ref16, 0);
	ck_assert_uint_eq(c.ref, 0xA7);
	ck_assert_uint_eq(c.total, 3);
	ck_assert_uint_eq(c.seq, 2);
	/* Without UDHI the same octets are all text. */
	ck_assert_int_eq(smpp_udh_parse(b, sizeof(b), 0, &c), 0);
	ck_assert_int_eq(c.present, 0);
}
END_TEST

START_TEST(mo_udh_concat16_among_other_ies)
{
	/* A port-addressing IE (0x05, 4 octets) before the 16-bit one. */
	static const uint8_t b[] = { 0x0C, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0,
	    0x08, 0x04, 0x12, 0x34, 0x02, 0x01, 'x' };
	struct smpp_concat c;

	ck_assert_int_eq(smpp_udh_parse(b, sizeof(b), 1, &c), 13);
	ck_assert_int_eq(c.present, 1);
	ck_assert_int_eq(c.ref16, 1);
	ck_assert_uint_eq(c.ref, 0x1234);
	ck_assert_uint_eq(c.total, 2);
	ck_assert_uint_eq(c.seq, 1);
}
END_TEST

START_TEST(mo_udh_malformed_or_unusable)
{
	/* UDHL past the body. */
	static const uint8_t longl[] = { 0x07, 0x00, 0x03, 0x01, 0x02, 0x01 };
	/* An IE past UDHL. */
	static const uint8_t longie[] = { 0x03, 0x00, 0x03, 0x01, 0x02, 0x01 };
	/* Part number past the count, count 0: ignored, text follows. */
	static const uint8_t badseq[] = { 0x05, 0x00, 0x03, 0x01, 0x02, 0x03,
	    'a' };
	static const uint8_t zero[] = { 0x05, 0x00, 0x03, 0x01, 0x00, 0x00,
	    'a' };
	struct smpp_concat c;

	ck_assert_int_eq(smpp_udh_parse(longl, sizeof(longl), 1, &c), -1);
	ck_assert_int_eq(smpp_udh_parse(longie, sizeof(longie), 1, &c), -1);
	ck_assert_int_eq(smpp_udh_parse(NULL, 0, 1, &c), -1);
	ck_assert_int_eq(smpp_udh_parse(badseq, sizeof(badseq), 1, &c), 6);
	ck_assert_int_eq(c.present, 0);
	ck_assert_int_eq(smpp_udh_parse(zero, sizeof(zero), 1, &c), 6);
	ck_assert_int_eq(c.present, 0);
}
END_TEST

START_TEST(mo_udh_reads_our_own_segments)
{
	struct smpp_segments seg;
	struct smpp_concat c;
	char text[400], out[400], joined[400] = "";
	int n, i, off;

	memset(text, 'a', 300);
	memcpy(text + 290, " 654321", 7);
	text[300] = '\0';
	n = smpp_segments_make(text, 0, 0, 0x42, 4, &seg);
	ck_assert_int_eq(n, 2);
	for (i = 0; i < n; i++) {
		off = smpp_udh_parse(smpp_segments_body(&seg, i), seg.len[i],
		    1, &c);
		ck_assert_int_eq(off, 6);
		ck_assert_int_eq(c.present, 1);
		ck_assert_uint_eq(c.ref, 0x42);
		ck_assert_uint_eq(c.total, 2);
		ck_assert_uint_eq(c.seq, i + 1);
		ck_assert_int_ge(smpp_text_decode(seg.data_coding, 0,
		    smpp_segments_body(&seg, i) + off, seg.len[i] - (size_t)off,
		    out, sizeof(out)), 0);
		strcat(joined, out);
	}
	ck_assert_str_eq(joined, text);
	smpp_segments_clear(&seg);
}
END_TEST

static Suite *
text_suite(void)
{
	Suite *s = suite_create("smpp_text");
	TCase *tc = tcase_create("encode");
	TCase *tp = tcase_create("parts");
	TCase *ts = tcase_create("segments");
	TCase *tr = tcase_create("receipt");
	TCase *tm = tcase_create("msgid");
	TCase *tmo = tcase_create("mo");

	tcase_add_test(tc, templates_pick_the_right_alphabet);
	tcase_add_test(tc, gsm_octets_are_the_septets);
	tcase_add_test(tc, extension_chars_count_two);
	tcase_add_test(tc, backtick_forces_ucs2);
	tcase_add_test(tc, latin1_when_the_smsc_default_is_latin1);
	tcase_add_test(tc, emoji_are_surrogate_pairs);
	tcase_add_test(tc, invalid_utf8_is_refused);
	tcase_add_test(tc, encode_refuses_what_does_not_fit);
	tcase_add_test(tc, decode_other_codings);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, part_counts);
	tcase_add_test(tp, pairs_are_never_split);
	tcase_add_test(tp, split_gsm);
	tcase_add_test(tp, split_esc_pair_moves_whole);
	tcase_add_test(tp, split_ucs2);
	tcase_add_test(tp, split_latin1);
	tcase_add_test(tp, split_refuses);
	suite_add_tcase(s, tp);
	tcase_add_test(ts, seg_single_part);
	tcase_add_test(ts, seg_three_parts_gsm);
	tcase_add_test(ts, seg_payload);
	tcase_add_test(ts, seg_too_many_parts);
	tcase_add_test(ts, seg_parts_read_back);
	tcase_add_test(ts, seg_clear_erases_the_code);
	suite_add_tcase(s, ts);
	tcase_add_test(tr, receipt_standard);
	tcase_add_test(tr, receipt_lower_case_and_long_dates);
	tcase_add_test(tr, receipt_missing_fields_any_order);
	tcase_add_test(tr, receipt_every_stat);
	tcase_add_test(tr, receipt_hex_and_long_ids);
	tcase_add_test(tr, receipt_garbage);
	tcase_add_test(tr, receipt_text_field_is_ignored);
	tcase_add_test(tr, receipt_uses_len_not_nul);
	suite_add_tcase(s, tr);
	tcase_add_test(tm, msgid_as_string);
	tcase_add_test(tm, msgid_hex_to_decimal);
	tcase_add_test(tm, msgid_decimal_to_hex);
	tcase_add_test(tm, msgid_out_too_small);
	suite_add_tcase(s, tm);
	tcase_add_test(tmo, mo_decode_gsm_with_extension_table);
	tcase_add_test(tmo, mo_decode_ucs2_surrogates_and_latin1);
	tcase_add_test(tmo, mo_udh_concat8);
	tcase_add_test(tmo, mo_udh_concat16_among_other_ies);
	tcase_add_test(tmo, mo_udh_malformed_or_unusable);
	tcase_add_test(tmo, mo_udh_reads_our_own_segments);
	suite_add_tcase(s, tmo);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(text_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
