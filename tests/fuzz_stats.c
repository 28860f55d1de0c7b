/*
 * fuzz_stats.c - libFuzzer target for what the statistics read from
 * outside: the since/until parameters of GET /v1/stats
 * (stats_parse_time, stats_window) and a stored row (stats_row_decode,
 * which must refuse what it cannot read, never misread it).
 *
 * Besides "no crash, no sanitizer report" it checks the contract:
 *  - a time parsed from "-N[smhdw]" is never after now;
 *  - stats_window() leaves whole minutes, since <= the time <= until;
 *  - a row that decodes encodes to a form that decodes to the same row,
 *    within STATS_ROW_MAX octets, and merging it into itself doubles its
 *    counts (saturating).
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_stats
 *	tests/fuzz_stats -max_total_time=30
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const int64_t now = 1796083200;
	struct stats_row r, back, twice;
	uint8_t buf[STATS_ROW_MAX];
	char s[64];
	int64_t t, a, b;
	size_t n;

	/* The first 63 octets as a parameter's text. */
	n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
	memcpy(s, data, n);
	s[n] = '\0';
	if (stats_parse_time(s, now, &t) == 0) {
		if (s[0] == '-' && t > now)
			abort();
		a = b = t;
		stats_window(&a, &b);
		if (a > t || b < t || a % 60 != 0 || b % 60 != 0)
			abort();
	}

	/* The whole input as a stored row. */
	if (stats_row_decode(&r, data, size) == 0) {
		n = stats_row_encode(&r, buf);
		if (n > STATS_ROW_MAX || stats_row_decode(&back, buf, n) != 0 ||
		    memcmp(&r, &back, sizeof(r)) != 0)
			abort();
		twice = r;
		stats_row_merge(&twice, &r);
		if (twice.sends < r.sends || (r.sends < UINT64_MAX / 2 &&
		    twice.sends != 2 * r.sends))
			abort();
	}
	return 0;
}
