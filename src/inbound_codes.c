/*
 * inbound_codes.c - the codes an inbound message's text carries; pure.
 *
 * The message.received event lists them so that a QA test reading a code
 * a real network looped back need not parse the text: every run of 4..12
 * ASCII digits (OTPs are 4 to 10 digits; 12 leaves room for vendors that
 * group them), nothing longer (an international number) or shorter.
 */
#include <string.h>

#include "inbound_codes.h"

int
inbound_codes(const char *text, char codes[][INBOUND_CODE_MAX + 1], int max)
{
	const char *p = text;
	int n = 0;

	if (text == NULL)
		return 0;
	while (*p != '\0' && n < max) {
		size_t run = 0;

		while (p[run] >= '0' && p[run] <= '9')
			run++;
		if (run >= 4 && run <= INBOUND_CODE_MAX) {
			memcpy(codes[n], p, run);
			codes[n][run] = '\0';
			n++;
		}
		p += run > 0 ? run : 1;
	}
	return n;
}
