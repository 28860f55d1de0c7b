/*
 * testmode.h - test mode (SPEC "Test mode and test numbers"): the sends of
 * `role = test` keys and to [test NAME] numbers are captured here instead
 * of reaching an SMSC, answered by a scripted receipt, and read back by
 * GET /v1/test/messages (api_test.c).
 *
 * flow.c decides what is captured and builds the verification as for any
 * send; testmode_capture() turns it into an accepted one (a send on the
 * pseudo SMSC TESTMODE_SMSC, its receipt map entry, the captured text in
 * the store) and schedules the scripted receipt, which dlr_scripted()
 * (dlr.h) applies exactly as an SMSC's receipt.  Readers waiting for a
 * number's next message (long polls) are woken once the capture commits.
 *
 * The module owns its timers and its waiters; the store, the receipt
 * matcher and the base are borrowed and must outlive it.  Loop thread
 * only.
 */
#ifndef TESTMODE_H
#define TESTMODE_H

#include <stddef.h>
#include <stdint.h>

#include "verify.h"

struct dlr;
struct event_base;
struct store;
struct testmode;
struct verif;

/* The SMSC name captured sends are recorded under (no [smsc] may be
 * called that: it has a character SMSC names cannot have). */
#define TESTMODE_SMSC "test:capture"
/* Waiting readers at once (long polls); more are refused. */
#define TESTMODE_WAIT_MAX 256
/* The longest wait, seconds. */
#define TESTMODE_WAIT_SECS 30

struct testmode_stats {
	uint64_t captured;        /* messages captured */
	uint64_t refused;         /* sends failed by a [test] refuse */
	uint64_t receipts;        /* scripted receipts applied */
	uint64_t resumed;         /* receipts scheduled again at start-up */
	int waiting;              /* readers waiting now */
};

/* A test mode over store on base; dlr applies the scripted receipts;
 * secret opens the captured texts (it is copied). */
struct testmode *testmode_new(struct event_base *, struct store *,
    struct dlr *, const uint8_t *secret);
/* At start-up: schedule again the scripted receipts of captured messages
 * that were not yet applied when the daemon stopped (due ones at once).
 * Returns how many, or -1 when the store cannot be read. */
int testmode_resume(struct testmode *);
/* Wake every waiting reader (their callbacks run now) and cancel the
 * receipts not yet due: before the store closes. */
void testmode_stop(struct testmode *);
/* Free tm (NULL is allowed); testmode_stop() it first. */
void testmode_free(struct testmode *);
void testmode_stats(const struct testmode *, struct testmode_stats *);
/* Count a send failed by a [test] refuse (flow.c fails it). */
void testmode_count_refused(struct testmode *);

/* Capture v, a pending verification just staged with its sealed text:
 * it gains a send on TESTMODE_SMSC (accepted now), send_state sent and
 * its sealed text erased, and is staged again, with its receipt map
 * entry and the captured (still sealed) text.  A receipt with delivery
 * (enum conf_test_delivery; CONF_TEST_NONE: none) follows after delay
 * seconds.  Readers waiting for v's number are woken after the commit.
 * STORE_OK, or the store's error (the batch failed). */
int testmode_capture(struct testmode *, struct verif *v, int delivery,
    int delay);

/* A captured message, as GET /v1/test/messages shows it. */
struct testmode_message {
	char id[32];              /* the verification's */
	char phone[17];
	char *text;               /* malloc'd; NULL when it cannot be read */
	char code[16];            /* the first run of 4..12 digits; "" none */
	int64_t sent_at_ms;
	const char *delivery;     /* "pending", "delivered", "undeliverable",
	                           * "expired", ... ; "unknown" once purged */
};
/* The messages captured for phone at or after since_ms, newest first, at
 * most max: a malloc'd array into *out (free it with
 * testmode_messages_free()).  Returns the count, or -1 when the store
 * fails. */
int testmode_messages(struct testmode *, const char *phone, int64_t since_ms,
    int max, struct testmode_message **out);
void testmode_messages_free(struct testmode_message *, int n);

/* The first run of 4 to 12 digits in text into code (size octets), or
 * "": 0 or -1.  Pure. */
int testmode_code_of(const char *text, char *code, size_t size);

struct testmode_wait;
/* Called once: woken is 1 after a capture for the number committed, 0 at
 * the time limit or at testmode_stop(). */
typedef void (*testmode_wait_cb)(void *arg, int woken);
/* Wait up to secs seconds (1..TESTMODE_WAIT_SECS) for the next capture to
 * phone.  Returns 0, or -1 when TESTMODE_WAIT_MAX readers wait already
 * (cb is not called). */
int testmode_wait(struct testmode *, const char *phone, int secs,
    testmode_wait_cb cb, void *arg);

#endif
