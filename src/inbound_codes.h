/*
 * inbound_codes.h - the codes an inbound message's text carries; pure.
 */
#ifndef INBOUND_CODES_H
#define INBOUND_CODES_H

/* The longest code, and how many inbound_codes() returns at most. */
#define INBOUND_CODE_MAX 12
#define INBOUND_CODES_MAX 8

/* Every run of 4 to INBOUND_CODE_MAX ASCII digits in text, in order (a
 * longer run, a phone number, is no code; a shorter one neither), at most
 * max of them, into codes[i] (NUL-terminated).  A run is bounded by any
 * non-digit, so "code:123456." and "G-4821" both give their digits.
 * Returns the count. */
int inbound_codes(const char *text, char codes[][INBOUND_CODE_MAX + 1],
    int max);

#endif
