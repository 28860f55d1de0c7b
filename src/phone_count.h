/*
 * phone_count.h - how many of something each phone number has, for the
 * few numbers that have any: dispatch.c counts the messages on the wire
 * per number (a message to a number waits while an earlier one to it is
 * on the wire).  A number is in the table only while its count is above
 * zero: at most one entry per thing counted.  Not thread-safe.
 */
#ifndef PHONE_COUNT_H
#define PHONE_COUNT_H

struct phone_count;

struct phone_count *phone_count_new(void);
void phone_count_free(struct phone_count *);
/* Add delta (0: just read) to phone's count; the new count. */
int phone_count_add(struct phone_count *, const char *phone, int delta);

#endif
