/*
 * fuzz_receipt.c - libFuzzer target for the receipt text parser, the
 * message-id normaliser and the short_message text codec, all of which
 * read bytes an SMSC chose.
 *
 * Besides "no crash, no sanitizer report" it checks invariants:
 *  - a parsed receipt has a printable id and one of the eight stat words;
 *  - hex -> decimal -> hex gives back the hex id without leading zeros;
 *  - text that encodes decodes back to the same UTF-8.
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_receipt
 *	tests/fuzz_receipt -max_total_time=30 tests/data/fuzz_receipt
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smpp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_receipt(const uint8_t *data, size_t size)
{
	static const char *stats[] = { "DELIVRD", "EXPIRED", "DELETED",
	    "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD", "ENROUTE" };
	struct smpp_receipt r;
	int ok = 0;

	if (smpp_receipt_parse_text(data, size, &r) != 0)
		return;
	if (r.message_id[0] == '\0' || strlen(r.message_id) > 65)
		abort();
	for (const char *p = r.message_id; *p; p++)
		if (*p < 0x21 || *p > 0x7E)
			abort();
	for (size_t i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
		ok |= strcmp(r.stat, stats[i]) == 0;
	if (!ok || r.err < -1 || r.network_error != -1)
		abort();
}

static void
check_msgid(const char *s)
{
	const char *t = s + strspn(s, " \t\r\n");
	char a[256], b[256], c[256], small[5];

	for (int mode = 0; mode < 3; mode++) {
		(void)smpp_msgid_normalise(s, mode, small, sizeof(small));
		(void)smpp_msgid_normalise(s, mode, a, sizeof(a));
	}
	/* hex -> decimal -> hex is the identity on the hex value. */
	if (smpp_msgid_normalise(s, 1, a, sizeof(a)) == 0 &&
	    strncmp(t, "0x", 2) != 0 && strncmp(t, "0X", 2) != 0) {
		for (const char *p = a; *p; p++)
			if (*p < '0' || *p > '9')
				abort();
		if (smpp_msgid_normalise(a, 2, b, sizeof(b)) != 0 ||
		    smpp_msgid_normalise(s, 0, c, sizeof(c)) != 0 ||
		    strcmp(b, c) != 0)
			abort();
	}
}

static void
check_text(const uint8_t *data, size_t size, const char *s)
{
	static uint8_t enc[4096];
	static char dec[16384];
	uint8_t dc;
	size_t units;
	int n, m;

	/* Decode arbitrary octets under the first octet as data_coding. */
	if (size > 0)
		(void)smpp_text_decode(data[0], size > 1 && (data[1] & 1),
		    data + 1, size - 1, dec, sizeof(dec));
	/* Encode the same bytes as UTF-8; valid text must round-trip. */
	for (int latin1 = 0; latin1 < 2; latin1++) {
		int parts = smpp_text_parts(s, latin1);
		n = smpp_text_encode(s, latin1, enc, sizeof(enc), &dc, &units);
		if ((n < 0) != (parts < 0))
			abort();
		if (n < 0)
			continue;
		m = smpp_text_decode(dc, latin1, enc, (size_t)n, dec,
		    sizeof(dec));
		if (m < 0 || strcmp(dec, s) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 2048)
		return 0;
	check_receipt(data, size);
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_msgid(s);
	check_text(data, size, s);
	free(s);
	return 0;
}
