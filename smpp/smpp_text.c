/*
 * smpp_text.c - UTF-8 text to and from short_message octets; pure.
 *
 * An OTP text goes out in the cheapest alphabet every character fits:
 * the GSM 03.38 default alphabet (3GPP TS 23.038), unpacked one septet per
 * octet as most SMSCs want it in SMPP (SMPP-NOTES §5.3), with the
 * extension characters (form feed ^ { } \ [ ~ ] | €) written as an ESC
 * (0x1B) pair that the handset counts as two septets.  A route whose SMSC
 * reads data_coding 0x00 as Latin-1 gets Latin-1 instead.  Anything else
 * goes as UCS-2, big-endian UTF-16 with surrogate pairs for characters
 * outside the BMP (emoji), which handsets count as two units.
 *
 * A text too long for one SMS is cut into the parts of a concatenated
 * message (smpp_text_split) at character boundaries, so the handset never
 * sees half an ESC pair or half a surrogate pair.  smpp_segments_make()
 * turns that into the bodies of the submit_sm themselves: one, one
 * message_payload for an SMSC that splits long texts itself, or one per
 * part behind the concatenation UDH.
 *
 * Input UTF-8 is validated strictly (no overlong forms, no surrogates, no
 * truncated sequences, nothing above U+10FFFF): a template that is not
 * valid UTF-8 is a configuration error, not something to guess about.
 *
 * Inbound (MO) messages come the other way: smpp_text_decode() reads
 * short_message octets by data_coding (and the SMSC's idea of 0x00), and
 * smpp_udh_parse() finds the text behind a user data header and the
 * concatenation reference its part carries, so the owner can join parts.
 *
 * Nothing here allocates or does I/O; the caller owns every buffer (a
 * struct smpp_segments carries its own).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smpp.h"

#define GSM_ESC 0x1B

/* Segment sizes (SMPP-NOTES §5.4, §6): one part, or per part of a
 * concatenated message with an 8-bit reference UDH. */
#define GSM_SINGLE  160
#define GSM_MULTI   153
#define UCS2_SINGLE 70
#define UCS2_MULTI  67

/* The concatenation UDH in front of each part of a longer text (TS 23.040
 * §9.2.3.24.1): UDHL 5, IEI 0x00 (concatenated SMS, 8-bit reference),
 * IEDL 3, then reference, part count, part number from 1.  esm_class's
 * UDHI bit (SMPP 3.4 §5.2.12) tells the SMSC it is there. */
#define UDH_LEN          6
#define UDH_IEI_CONCAT8  0x00
#define ESM_UDHI         0x40

/* GSM 03.38 basic table: septet -> Unicode.  0x1B (ESC) maps to nothing. */
static const uint16_t gsm_basic[128] = {
	0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
	0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
	0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
	0x03A3, 0x0398, 0x039E, 0xFFFF, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
	0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
	0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
	0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
	0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
	0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
	0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
	0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
	0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
	0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
	0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
	0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
	0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* GSM 03.38 extension table: the septet after ESC -> Unicode. */
static const struct {
	uint8_t septet;
	uint16_t ucs;
} gsm_ext[] = {
	{ 0x0A, 0x000C }, { 0x14, 0x005E }, { 0x28, 0x007B },
	{ 0x29, 0x007D }, { 0x2F, 0x005C }, { 0x3C, 0x005B },
	{ 0x3D, 0x007E }, { 0x3E, 0x005D }, { 0x40, 0x007C },
	{ 0x65, 0x20AC },
};

#define NEXT 10 /* entries in gsm_ext */

/* Read one code point from UTF-8 at s (NUL-terminated).  Returns the
 * number of octets used (1-4) and sets *cp, 0 at the terminating NUL, or
 * -1 for anything that is not strictly valid UTF-8. */
static int
utf8_next(const uint8_t *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	int n, i;

	if (c == 0)
		return 0;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return -1; /* continuation, C0/C1 overlong lead, F5-FF */
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1; /* includes the NUL of a truncated sequence */
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*cp = c;
	return n;
}

/* Append cp as UTF-8 at out[*pos]; -1 when it does not fit (keeping room
 * for the final NUL). */
static int
utf8_put(uint32_t cp, char *out, size_t outsize, size_t *pos)
{
	uint8_t b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xC0 | (cp >> 6));
		b[1] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xE0 | (cp >> 12));
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xF0 | (cp >> 18));
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (uint8_t)(0x80 | (cp & 0x3F));
		n = 4;
	}
	if (*pos + n + 1 > outsize)
		return -1;
	memcpy(out + *pos, b, n);
	*pos += n;
	return 0;
}

/* The GSM form of cp: returns 1 (basic, *sept set), 2 (extension, *sept
 * is the septet after ESC) or 0 (not in GSM 03.38). */
static int
gsm_of(uint32_t cp, uint8_t *sept)
{
	int i;

	/* Fast path: most printable ASCII sits at its own code. */
	if (cp >= 0x20 && cp < 0x7F && gsm_basic[cp] == cp) {
		*sept = (uint8_t)cp;
		return 1;
	}
	for (i = 0; i < 128; i++) {
		if (i != GSM_ESC && gsm_basic[i] == cp) {
			*sept = (uint8_t)i;
			return 1;
		}
	}
	for (i = 0; i < NEXT; i++) {
		if (gsm_ext[i].ucs == cp) {
			*sept = gsm_ext[i].septet;
			return 2;
		}
	}
	return 0;
}

/* Decide the charset for a whole text.  Returns 0 and sets *cs, or -1 for
 * invalid UTF-8. */
static int
pick_charset(const uint8_t *s, int default_is_latin1, enum smpp_charset *cs)
{
	int fits_gsm = 1, fits_latin1 = 1, n;
	uint32_t cp;
	uint8_t sept;

	while ((n = utf8_next(s, &cp)) > 0) {
		if (fits_gsm && gsm_of(cp, &sept) == 0)
			fits_gsm = 0;
		if (cp > 0xFF)
			fits_latin1 = 0;
		s += n;
	}
	if (n < 0)
		return -1;
	if (default_is_latin1)
		*cs = fits_latin1 ? SMPP_CS_LATIN1 : SMPP_CS_UCS2;
	else
		*cs = fits_gsm ? SMPP_CS_GSM : SMPP_CS_UCS2;
	return 0;
}

/* Units one code point takes in charset cs (the text is known to fit). */
static int
units_of(uint32_t cp, enum smpp_charset cs)
{
	uint8_t sept;

	switch (cs) {
	case SMPP_CS_GSM:
		return gsm_of(cp, &sept);
	case SMPP_CS_LATIN1:
		return 1;
	case SMPP_CS_UCS2:
	default:
		return cp >= 0x10000 ? 2 : 1;
	}
}

int
smpp_text_encode(const char *utf8, int default_is_latin1, uint8_t *out,
    size_t outsize, uint8_t *data_coding, size_t *units)
{
	const uint8_t *s = (const uint8_t *)utf8;
	enum smpp_charset cs;
	size_t len = 0, nunits = 0;
	uint32_t cp;
	uint8_t sept;
	int n, k;

	if (utf8 == NULL || pick_charset(s, default_is_latin1, &cs) == -1)
		return -1;
	*data_coding = cs == SMPP_CS_UCS2 ? 0x08 : 0x00;
	while ((n = utf8_next(s, &cp)) > 0) {
		s += n;
		switch (cs) {
		case SMPP_CS_GSM:
			k = gsm_of(cp, &sept);
			nunits += (size_t)k;
			if (len + (size_t)k > outsize)
				goto toolong;
			if (k == 2)
				out[len++] = GSM_ESC;
			out[len++] = sept;
			break;
		case SMPP_CS_LATIN1:
			nunits++;
			if (len + 1 > outsize)
				goto toolong;
			out[len++] = (uint8_t)cp;
			break;
		case SMPP_CS_UCS2:
			if (cp >= 0x10000) {
				uint32_t v = cp - 0x10000;
				uint16_t hi = (uint16_t)(0xD800 | (v >> 10));
				uint16_t lo = (uint16_t)(0xDC00 | (v & 0x3FF));
				nunits += 2;
				if (len + 4 > outsize)
					goto toolong;
				out[len++] = (uint8_t)(hi >> 8);
				out[len++] = (uint8_t)hi;
				out[len++] = (uint8_t)(lo >> 8);
				out[len++] = (uint8_t)lo;
			} else {
				nunits++;
				if (len + 2 > outsize)
					goto toolong;
				out[len++] = (uint8_t)(cp >> 8);
				out[len++] = (uint8_t)cp;
			}
			break;
		}
	}
	*units = nunits;
	return (int)len;

toolong:
	/* Still tell the caller how long the text is, for its error. */
	while ((n = utf8_next(s, &cp)) > 0) {
		s += n;
		nunits += (size_t)units_of(cp, cs);
	}
	*units = nunits;
	return -1;
}

/* Decode GSM 03.38 septets.  An ESC before a septet the extension table
 * does not know reads as that septet's basic character (TS 23.038's
 * advice for receivers); a trailing ESC is dropped. */
static int
decode_gsm(const uint8_t *in, size_t len, char *out, size_t outsize,
    size_t *pos)
{
	size_t i;
	int j;

	for (i = 0; i < len; i++) {
		uint32_t cp;
		if (in[i] > 0x7F)
			return -1;
		if (in[i] == GSM_ESC) {
			if (++i == len)
				break;
			if (in[i] > 0x7F)
				return -1;
			cp = in[i] == GSM_ESC ? 0x20 : gsm_basic[in[i]];
			for (j = 0; j < NEXT; j++) {
				if (gsm_ext[j].septet == in[i]) {
					cp = gsm_ext[j].ucs;
					break;
				}
			}
		} else {
			cp = gsm_basic[in[i]];
		}
		if (utf8_put(cp, out, outsize, pos) == -1)
			return -1;
	}
	return 0;
}

/* Decode big-endian UTF-16; an unpaired surrogate reads as U+FFFD. */
static int
decode_ucs2(const uint8_t *in, size_t len, char *out, size_t outsize,
    size_t *pos)
{
	size_t i;

	if (len % 2 != 0)
		return -1;
	for (i = 0; i < len; i += 2) {
		uint32_t cp = (uint32_t)in[i] << 8 | in[i + 1];
		if (cp >= 0xD800 && cp <= 0xDBFF && i + 3 < len) {
			uint32_t lo = (uint32_t)in[i + 2] << 8 | in[i + 3];
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				    (lo - 0xDC00);
				i += 2;
			} else {
				cp = 0xFFFD;
			}
		} else if (cp >= 0xD800 && cp <= 0xDFFF) {
			cp = 0xFFFD;
		}
		if (utf8_put(cp, out, outsize, pos) == -1)
			return -1;
	}
	return 0;
}

int
smpp_text_decode(uint8_t data_coding, int default_is_latin1,
    const uint8_t *in, size_t len, char *out, size_t outsize)
{
	size_t pos = 0, i;
	int r = 0;

	if (out == NULL || outsize == 0 || (in == NULL && len > 0))
		return -1;
	/* Handsets' MO also come with a message class (TS 23.038 §4):
	 * general data coding 0x10-0x1F, uncompressed, alphabet in bits 3-2
	 * (00 GSM, 10 UCS-2; 01 is 8-bit data), and 0xF0-0xFF, bit 2 clear
	 * for GSM (set: 8-bit data, refused below).  These name GSM itself,
	 * never the SMSC's default. */
	if ((data_coding & 0xF0) == 0x10) {
		data_coding = (data_coding & 0x0C) == 0x00 ? 0x00 :
		    (data_coding & 0x0C) == 0x08 ? 0x08 : 0x04;
		default_is_latin1 = 0;
	} else if ((data_coding & 0xF0) == 0xF0) {
		data_coding = (data_coding & 0x04) == 0 ? 0x00 : 0x04;
		default_is_latin1 = 0;
	}
	/* 0x00 is whatever this SMSC calls its default alphabet. */
	if (data_coding == 0x00 && default_is_latin1)
		data_coding = 0x03;
	switch (data_coding) {
	case 0x00:
		r = decode_gsm(in, len, out, outsize, &pos);
		break;
	case 0x03:
		for (i = 0; i < len && r == 0; i++)
			r = utf8_put(in[i], out, outsize, &pos);
		break;
	case 0x01:
		for (i = 0; i < len && r == 0; i++)
			r = in[i] > 0x7F ? -1 :
			    utf8_put(in[i], out, outsize, &pos);
		break;
	case 0x08:
		r = decode_ucs2(in, len, out, outsize, &pos);
		break;
	default:
		r = -1;
		break;
	}
	if (r == -1) {
		out[0] = '\0';
		return -1;
	}
	out[pos] = '\0';
	return (int)pos;
}

int
smpp_text_parts(const char *utf8, int default_is_latin1)
{
	const uint8_t *s = (const uint8_t *)utf8;
	enum smpp_charset cs;
	size_t total = 0, single, multi, used;
	uint32_t cp;
	int n, parts;

	if (utf8 == NULL || pick_charset(s, default_is_latin1, &cs) == -1)
		return -1;
	single = cs == SMPP_CS_UCS2 ? UCS2_SINGLE : GSM_SINGLE;
	multi = cs == SMPP_CS_UCS2 ? UCS2_MULTI : GSM_MULTI;
	for (const uint8_t *p = s; (n = utf8_next(p, &cp)) > 0; p += n)
		total += (size_t)units_of(cp, cs);
	if (total <= single)
		return 1;
	/* Fill parts greedily; an ESC pair or a surrogate pair that would
	 * straddle a boundary moves whole to the next part. */
	parts = 1;
	used = 0;
	while ((n = utf8_next(s, &cp)) > 0) {
		size_t k = (size_t)units_of(cp, cs);
		if (used + k > multi) {
			parts++;
			used = 0;
		}
		used += k;
		s += n;
	}
	return parts;
}

/* Octets of the character starting at octet i of an encoded stream: an ESC
 * pair (GSM) or a surrogate pair (UCS-2) is one indivisible step. */
static size_t
step_at(const uint8_t *p, size_t i, size_t len, enum smpp_charset cs)
{
	switch (cs) {
	case SMPP_CS_GSM:
		return p[i] == GSM_ESC && i + 1 < len ? 2 : 1;
	case SMPP_CS_LATIN1:
		return 1;
	case SMPP_CS_UCS2:
	default:
		return p[i] >= 0xD8 && p[i] <= 0xDB && i + 3 < len ? 4 : 2;
	}
}

int
smpp_text_split(const char *utf8, int default_is_latin1,
    uint8_t parts[][SMPP_SEGMENT_OCTETS], size_t *lens, int max_parts,
    uint8_t *data_coding)
{
	uint8_t *base = (uint8_t *)parts;
	enum smpp_charset cs;
	size_t units, single, multi, used, i, k, off;
	int n, count;

	if (utf8 == NULL || max_parts < 1)
		return -1;
	/* Encode the whole text into the parts array as one stream: a text
	 * that needs more than max_parts * 160 octets needs more than
	 * max_parts parts in any alphabet. */
	n = smpp_text_encode(utf8, default_is_latin1, base,
	    (size_t)max_parts * SMPP_SEGMENT_OCTETS, data_coding, &units);
	if (n < 0)
		return -1;
	if (*data_coding == 0x08)
		cs = SMPP_CS_UCS2;
	else
		cs = default_is_latin1 ? SMPP_CS_LATIN1 : SMPP_CS_GSM;
	/* Units and octets are proportional within an alphabet (2 per
	 * UCS-2 unit, 1 otherwise), so the limits are counted in octets. */
	single = cs == SMPP_CS_UCS2 ? 2 * UCS2_SINGLE : GSM_SINGLE;
	multi = cs == SMPP_CS_UCS2 ? 2 * UCS2_MULTI : GSM_MULTI;
	if ((size_t)n <= single) {
		lens[0] = (size_t)n;
		return 1;
	}
	/* Cut greedily, as smpp_text_parts() counts. */
	count = 0;
	used = 0;
	for (i = 0; i < (size_t)n; i += k) {
		k = step_at(base, i, (size_t)n, cs);
		if (used + k > multi) {
			if (count + 1 == max_parts)
				return -1;
			lens[count++] = used;
			used = 0;
		}
		used += k;
	}
	lens[count++] = used;
	/* Move each part from its stream offset to parts[i], last part
	 * first.  Part i starts at or below i * 153 <= i * 160, so it only
	 * moves up, and never onto a part still to be moved. */
	off = (size_t)n;
	for (i = (size_t)count; i-- > 0;) {
		off -= lens[i];
		memmove(parts[i], base + off, lens[i]);
	}
	return count;
}

int
smpp_segments_make(const char *utf8, int default_is_latin1,
    int long_payload, uint8_t ref, int max_parts, struct smpp_segments *out)
{
	uint8_t (*part)[SMPP_SEGMENT_OCTETS] =
	    (uint8_t (*)[SMPP_SEGMENT_OCTETS])out->buf;
	size_t units;
	int n, len, i;

	memset(out, 0, sizeof(*out));
	if (max_parts < 1 || max_parts > SMPP_SEGMENTS_MAX)
		return -1;
	n = smpp_text_split(utf8, default_is_latin1, part, out->len,
	    max_parts, &out->data_coding);
	if (n < 1)
		goto fail;
	if (n > 1 && long_payload) {
		/* The whole stream again, now in one piece: at most
		 * max_parts * 153 octets, so it fits buf. */
		len = smpp_text_encode(utf8, default_is_latin1, out->buf,
		    sizeof(out->buf), &out->data_coding, &units);
		if (len < 0)
			goto fail;
		memset(out->len, 0, sizeof(out->len));
		out->len[0] = (size_t)len;
		out->use_payload = 1;
		out->n = 1;
		return 1;
	}
	if (n > 1) {
		/* Parts hold at most 153 octets, so the UDH fits in front. */
		for (i = 0; i < n; i++) {
			memmove(part[i] + UDH_LEN, part[i], out->len[i]);
			part[i][0] = UDH_LEN - 1;	/* UDHL */
			part[i][1] = UDH_IEI_CONCAT8;
			part[i][2] = 3;			/* IEDL */
			part[i][3] = ref;
			part[i][4] = (uint8_t)n;
			part[i][5] = (uint8_t)(i + 1);
			out->len[i] += UDH_LEN;
		}
		out->esm_class = ESM_UDHI;
	}
	out->n = n;
	return n;

fail:
	smpp_segments_clear(out);
	return -1;
}

void
smpp_segments_clear(struct smpp_segments *seg)
{
	explicit_bzero(seg, sizeof(*seg));
}

/* The 16-bit reference concatenation IE (TS 23.040 §9.2.3.24.8). */
#define UDH_IEI_CONCAT16 0x08

int
smpp_udh_parse(const uint8_t *body, size_t len, int udhi,
    struct smpp_concat *c)
{
	size_t udhl, i;

	memset(c, 0, sizeof(*c));
	if (!udhi)
		return 0;
	if (body == NULL || len < 1)
		return -1;
	udhl = body[0];
	if (1 + udhl > len)
		return -1;
	/* IEs: IEI, IEDL, IEDL octets of data, within body[1..1+udhl). */
	for (i = 1; i < 1 + udhl;) {
		uint8_t iei, iedl;
		const uint8_t *d;

		if (i + 2 > 1 + udhl)
			return -1;
		iei = body[i];
		iedl = body[i + 1];
		if (i + 2 + iedl > 1 + udhl)
			return -1;
		d = body + i + 2;
		if (iei == UDH_IEI_CONCAT8 && iedl == 3 && d[1] != 0 &&
		    d[2] != 0 && d[2] <= d[1]) {
			c->present = 1;
			c->ref16 = 0;
			c->ref = d[0];
			c->total = d[1];
			c->seq = d[2];
		} else if (iei == UDH_IEI_CONCAT16 && iedl == 4 && d[2] != 0 &&
		    d[3] != 0 && d[3] <= d[2]) {
			c->present = 1;
			c->ref16 = 1;
			c->ref = (uint16_t)(d[0] << 8 | d[1]);
			c->total = d[2];
			c->seq = d[3];
		}
		i += 2 + (size_t)iedl;
	}
	return (int)(1 + udhl);
}
