/*
 * inbound_parts.h - joining the parts of concatenated inbound (MO)
 * messages; pure: no I/O, no event_base, no clock (the caller passes the
 * time).
 *
 * A handset cuts a long text into parts that share a reference (the UDH's
 * concatenation IE, smpp_udh_parse()); the SMSC delivers them in any
 * order, and delivers one again when our deliver_sm_resp did not reach it.
 * This module holds the decoded text of each part under its message key
 * (smsc, source, destination, reference, part count) until every part has
 * arrived, then hands back the joined text once.  A part already held, or
 * a part of a message joined within max_age, is a duplicate.
 *
 * Memory is bounded: at most max_pending messages wait, holding at most
 * max_bytes of text between them; past either bound the oldest waiting
 * message is dropped (the dropped callback says so).  A message still
 * incomplete after max_age is dropped by inbound_parts_expire().  The
 * durable copy of the parts (kept across a restart) is the caller's: it
 * stores each part before acknowledging it, adds stored parts back after
 * a restart, and deletes them once joined or dropped.
 */
#ifndef INBOUND_PARTS_H
#define INBOUND_PARTS_H

#include <stddef.h>
#include <stdint.h>

struct inbound_parts;

/* The longest text one part may carry (UTF-8 octets, NUL excluded): a
 * message_payload of SMPP_MAX_PAYLOAD octets decodes to at most 3 UTF-8
 * octets per 2 octets of UCS-2, or 3 per GSM septet (€). */
#define INBOUND_PART_TEXT_MAX 6144
/* The longest message key inbound_parts_key() writes, NUL included. */
#define INBOUND_KEY_MAX 160

/* Why a waiting message was dropped, for the dropped callback. */
enum inbound_drop {
	INBOUND_DROP_FULL = 0,  /* max_pending or max_bytes reached */
	INBOUND_DROP_AGED,      /* still incomplete after max_age */
};

/* Create an empty table.  max_pending >= 1 messages, max_bytes >= 1 of
 * part text in all, max_age_ms >= 0.  dropped(arg, key, why), which may be
 * NULL, fires for each waiting message dropped, from inside
 * inbound_parts_add() or inbound_parts_expire(); key is valid during the
 * call only.  Never returns NULL (allocation aborts). */
struct inbound_parts *inbound_parts_new(int max_pending, size_t max_bytes,
    int64_t max_age_ms,
    void (*dropped)(void *arg, const char *key, enum inbound_drop why),
    void *arg);
/* Free the table and every text it holds.  NULL is ignored. */
void inbound_parts_free(struct inbound_parts *);

/* The message key of a part, written into out (INBOUND_KEY_MAX octets):
 * each string as its length, ':' and itself, so no address can make two
 * keys equal; then the reference and the part count.  The same key for
 * every part of one message; the caller may use it as a store key. */
void inbound_parts_key(const char *smsc, const char *source,
    const char *destination, uint16_t ref, uint8_t total,
    char out[INBOUND_KEY_MAX]);

enum inbound_part_result {
	INBOUND_PART_HELD = 0,  /* kept; parts still missing */
	INBOUND_PART_DUP,       /* already held, or its message was joined
	                           within max_age: ignored */
	INBOUND_PART_DONE,      /* the last missing part: *joined is set */
	INBOUND_PART_INVALID,   /* seq 0 or past total, total 0, text NULL or
	                           longer than INBOUND_PART_TEXT_MAX */
};
/* Add part seq (1..total) of the message key (inbound_parts_key()), its
 * decoded text, received at now_ms.  On INBOUND_PART_DONE *joined is the
 * whole text, the parts' texts in order (malloc'd; the caller frees it),
 * and the message leaves the table (it is remembered as joined, for
 * duplicates, for max_age); otherwise *joined is NULL.  Adding may drop
 * the oldest waiting message to keep within the bounds.  A one-part
 * message (total 1) is DONE at once and not remembered: without a
 * reference every message from one handset has the same key, so the
 * caller dedupes those by their content. */
enum inbound_part_result inbound_parts_add(struct inbound_parts *,
    const char *key, uint8_t total, uint8_t seq, const char *text,
    int64_t now_ms, char **joined);
/* Drop the waiting messages whose first part came more than max_age_ms
 * before now_ms (dropped fires for each), and forget joined messages as
 * old.  Returns the count of waiting messages dropped. */
int inbound_parts_expire(struct inbound_parts *, int64_t now_ms);
/* Messages waiting for parts, and the part text they hold (octets). */
int inbound_parts_pending(const struct inbound_parts *);
size_t inbound_parts_bytes(const struct inbound_parts *);

#endif
