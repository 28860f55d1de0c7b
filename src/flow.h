/*
 * flow.h - a send and a check, whatever API they came in by.
 *
 * The native API (api_verify.c) and the three compatibility APIs
 * (api_compat.c) read their own field names and answer in their own
 * shapes; between the two, the same code reads the number, picks and
 * renders the text, stores the verification, hands it to the dispatcher
 * and checks codes.  The flows report what went wrong as an enum flow_err
 * so that each API words it its own way, naming its own fields.
 *
 * struct flow owns a verification's life after the API: send, check,
 * cancel and get, the sweep's expiries and the dispatcher's outcomes.
 * Every change of status goes through verif_enter() (verif_state.h) and
 * then flow_finish() inside flow.c, which stages the record, its webhook
 * event and drops the message from the dispatcher, in one place.  It is
 * built from the narrow handles it needs and keeps its own counters.
 * Loop thread only.
 */
#ifndef FLOW_H
#define FLOW_H

#include <stdint.h>
#include <jansson.h>

#include "phone.h"
#include "shield.h"
#include "store.h"
#include "verify.h"

struct conf;
struct dispatch;
struct flow;
struct keys;
struct phone_pool;
struct score;
struct store;
struct testmode;
struct webhook;

enum flow_err {
	FLOW_OK = 0,
	FLOW_PHONE_UNPARSABLE,    /* not a phone number at all */
	FLOW_PHONE_INVALID,       /* no such number is assigned */
	FLOW_PHONE_TYPE,          /* a type in [verify] refuse_types */
	FLOW_LANGUAGE,            /* no template for this language */
	FLOW_TEMPLATE,            /* no code placeholder, or too long */
	FLOW_TOO_LONG,            /* the message is over FLOW_MAX_PARTS */
	FLOW_SENDER,              /* not a valid source address */
	FLOW_STORE_FULL,          /* 503: the map is full */
	FLOW_STORE_ERROR,         /* 503: any other store failure */
	FLOW_STORE_CONFLICT,      /* on Redis another node changed what the
	                           * send read: run it again (http_again()) */
	FLOW_INTERNAL,            /* no random code, no sealing */
	FLOW_SHUTDOWN,            /* the daemon is stopping: do not answer */
	FLOW_NOT_FOUND,           /* no such verification for this key */
	FLOW_NOT_PENDING,         /* it is not pending any more */
	FLOW_COUNTRY,             /* 422: the number's country is not on the
	                           * allow-list ([shield] or [key] countries) */
	FLOW_NO_ROUTE,            /* 422: no [route] prefix covers the number */
	FLOW_RANGE_BLOCKED,       /* 429: the shield tripped its range */
	FLOW_RATE_LIMITED,        /* 429: a limit refuses it (fs->limit) */
};

struct flow_stats {
	uint64_t sends;           /* verifications created */
	uint64_t sends_queued;    /* answered `queued` */
	uint64_t checks_approved, checks_wrong, checks_other;
	uint64_t cancels;         /* canceled through the API */
	uint64_t expired;         /* expired by the sweep */
	uint64_t country_refused; /* sends refused: FLOW_COUNTRY */
	uint64_t no_route;        /* sends refused: FLOW_NO_ROUTE */
	struct shield_stats shield;   /* blocked sends, trips, ranges */
	uint64_t sends_limited;   /* refused by a limit (429) */
	uint64_t checks_limited;  /* refused by failed_checks_per_phone */
};

/* The flows over these handles (all borrowed; conf is replaced with
 * flow_reconf()).  secret is copied.  The shield against pumping
 * (shield.h) is the flow's own, built from conf's [shield]; the trips the
 * store holds are restored into it (those whose cooldown is over are
 * dropped from the store). */
struct flow *flow_new(const struct conf *, struct store *,
    const struct keys *, struct phone_pool *, struct dispatch *,
    struct webhook *, struct score *, const uint8_t *secret);
/* A new configuration and its fresh health figures (reload); the
 * shield takes the new [shield] (shield_reconf(): trips stand). */
void flow_reconf(struct flow *, const struct conf *, struct score *);
/* The listener is going away: from now on callbacks get FLOW_SHUTDOWN
 * (sends, cancels) or a NULL outcome (checks) and must not answer. */
void flow_stop(struct flow *);
/* Test mode (testmode.h, borrowed): from now on the sends of `role =
 * test` keys and to [test NAME] numbers are captured there, never
 * dispatched (without it they go to the dispatcher like any). */
void flow_set_testmode(struct flow *, struct testmode *);
/* The withdraw hook (cancel.h): called with every record this flow stages
 * that ends a verification (not pending any more), right after the
 * dispatcher forgot it, and with every message an SMSC accepted after its
 * verification had ended (flow_sent()).  v is valid during the call
 * only.  NULL (the default): nothing is withdrawn. */
void flow_set_withdraw(struct flow *,
    void (*withdraw)(void *arg, const struct verif *v), void *arg);
/* Count sends, acceptances, approvals and failures into s (stats.h;
 * borrowed, NULL: not counted). */
struct stats;
void flow_set_stats(struct flow *, struct stats *);
void flow_free(struct flow *);
void flow_stats(const struct flow *, struct flow_stats *);
/* [verify] sender: the source address of sends that name none. */
const char *flow_default_sender(const struct flow *);
/* The configuration the flows run under (until the next flow_reconf()). */
const struct conf *flow_conf(const struct flow *);

#define FLOW_MAX_TEMPLATE 640     /* octets of a caller's template */
#define FLOW_MAX_PARTS 4          /* a concatenated SMS of at most 4 parts */

struct flow_send;
/* Called once: with v the verification as committed (v->send_state tells
 * sent, queued or failed) and fs->err FLOW_OK, or v NULL and fs->err set.
 * fs is freed after it returns. */
typedef void (*flow_send_cb)(struct flow_send *fs, const struct verif *v);

/* A send: filled by the API (flow_send_new), then owned by the flow. */
struct flow_send {
	/* set by the API */
	int key;                  /* index into conf->keys */
	const char *api;          /* "v1", "000", "002", "003" */
	const char *phone;        /* as given */
	const char *region;       /* for national numbers; NULL: E.164 only */
	const char *language;     /* NULL: the key's choice */
	const char *tmpl;         /* the caller's text, or NULL */
	const char *sender;       /* NULL: [verify] sender */
	char code[16];            /* the caller's code when has_code */
	int has_code;
	int code_length;
	int expiry;               /* seconds */
	int keep_code;            /* keep code until cb (seed 000 returns it) */
	const char *client_ip;    /* the end user's address, or NULL */
	char *metadata;           /* JSON text, owned; may be NULL */
	json_t *hold;             /* a reference kept until cb: the strings
	                           * above may point into it */
	char phone_buf[64];       /* room for a phone the API rewrote */
	char region_buf[4];
	flow_send_cb cb;
	void *arg;                /* the API's (the request) */
	/* Optional: called once the record v is staged, in its batch, before
	 * it is handed on: the API stages its own writes of the send there
	 * (an Idempotency-Key's record, api_idem.c), so that they commit
	 * with it or not at all. */
	void (*staged)(struct flow_send *fs, const struct verif *v);
	void *staged_arg;         /* the API's, for staged and cb */
	/* set by the flow */
	enum flow_err err;
	enum phone_type ptype;    /* with FLOW_PHONE_TYPE */
	char country[4];          /* with FLOW_COUNTRY: the number's region
	                           * ("" when none claims it; "001": none) */
	char range[SHIELD_RANGE_MAX];   /* with FLOW_RANGE_BLOCKED */
	const char *limit;        /* with FLOW_RATE_LIMITED: SPEC's name */
	int retry_after;          /* with FLOW_RANGE_BLOCKED: seconds (>= 1)
	                           * until the range reopens; with
	                           * FLOW_RATE_LIMITED, until the limit lets
	                           * one by */
	struct flow *flow;
};

/* A send for key with the configuration's defaults. */
struct flow_send *flow_send_new(struct flow *, int key, const char *api,
    flow_send_cb, void *arg);
/* Run it: read the number (maybe off the loop), validate, store, submit.
 * cb is called exactly once, maybe before this returns.  In this order:
 * a number that is not one (FLOW_PHONE_*), a country off the allow-lists
 * (FLOW_COUNTRY), a refused type (FLOW_PHONE_TYPE), no route
 * (FLOW_NO_ROUTE), the sender and the text, then the shield: a tripped
 * range (FLOW_RANGE_BLOCKED, nothing stored, nothing sent).  A send that
 * trips its range is refused too: the trip is staged in the store, told
 * to the admin keys' webhooks (event shield.tripped) and logged.
 * A send of a test key or to a test number (flow_set_testmode()) goes
 * through all of this and the store, then is captured instead of
 * dispatched: a [test] code replaces the caller's and the random one, a
 * [test] refuse fails it with that SMPP status as an SMSC would (the
 * verification failed, reason the status' name). */
void flow_send(struct flow_send *);
/* Free a send that was never run (the API refused the request). */
void flow_send_free(struct flow_send *);

/* 1 when s is a valid source address: up to 11 letters and digits (with
 * ' ', '.', '-', '_'), or up to 15 digits with an optional leading '+'. */
int flow_sender_valid(const char *s);

/* What a check found, handed to its callback after the commit that holds
 * the change it made (an attempt counted, an approval). */
struct flow_check {
	int found;                /* a verification of this key was found */
	enum verify_result result;
	const char *status;       /* approved, pending, expired, canceled,
	                           * max_attempts_reached, not_found */
	char id[32];
	char phone[24];
	int attempts_left;
};
/* result is STORE_OK, or the commit's error (the change is lost: the
 * client should try again).  fc is NULL when the daemon is stopping. */
typedef void (*flow_check_cb)(void *arg, int result,
    const struct flow_check *fc);

/* Check code against the verification id (or, when id is NULL, the
 * pending one of (key, e164), or the locked one until a new send: that
 * answers VERIFY_LOCKED, not not_found).  Once (key, number) has had
 * [limits] failed_checks_per_phone wrong codes in its window, over all
 * its verifications, every check of the number answers VERIFY_LOCKED
 * without the code being compared, until the window slides.  Costs the
 * same and answers at the same point of the loop whatever the outcome. */
void flow_check(struct flow *, int key, const char *id, const char *e164,
    const char *code, flow_check_cb, void *arg);

/* One limit that applies to a number, as GET /v1/limits shows it. */
struct flow_limit {
	const char *limit;        /* SPEC's name: "sends_per_phone", ... */
	char subject[64];         /* the range ("+4479111") or the address
	                           * counted (sends_per_ip); "" otherwise */
	uint32_t count, max;      /* events in the window; at most */
	int window;               /* its period, seconds */
	int64_t retry_after;      /* seconds until it lets one through; 0:
	                           * it lets one through now */
};
#define FLOW_LIMITS_MAX 6
/* The limits (not off) that apply to e164 for key, and to the end user's
 * address ip when not NULL, at this moment, into out (FLOW_LIMITS_MAX
 * entries).  Returns their count, or -1 when the store fails. */
int flow_limits(struct flow *, int key, const char *e164, const char *ip,
    struct flow_limit *out);

/* Read verification id for key into v (verif_clear() it after): FLOW_OK,
 * or FLOW_NOT_FOUND when there is none or it belongs to another key. */
enum flow_err flow_get(struct flow *, int key, const char *id,
    struct verif *v);

/* Called once with the outcome of a cancel: FLOW_OK and the canceled
 * record (after the commit that holds it); FLOW_NOT_FOUND; FLOW_NOT_PENDING
 * and the record as it is; FLOW_STORE_ERROR (the commit failed); or
 * FLOW_SHUTDOWN and NULL. */
typedef void (*flow_cancel_cb)(void *arg, enum flow_err,
    const struct verif *v);
/* Cancel verification id of key.  cb may run before this returns. */
void flow_cancel(struct flow *, int key, const char *id, flow_cancel_cb,
    void *arg);

/* ---- the shield, for the operators' endpoints and the sweep ---- */

/* The ranges tripped now, the soonest to reopen first: a malloc'd array
 * into *out (the caller frees it; NULL when none), its length returned. */
int flow_shield_list(struct flow *, struct shield_view **out);
/* The figures of range ("+" and digits) now: 0, or -1 when the shield
 * does not track it (v: the range and zeros). */
int flow_shield_get(struct flow *, const char *range, struct shield_view *v);
/* Called once: FLOW_OK after the commit that removed the trip from the
 * store, FLOW_NOT_FOUND (range not tripped), FLOW_STORE_ERROR (the range is
 * open, but its stored trip may come back at a restart), or FLOW_SHUTDOWN. */
typedef void (*flow_reopen_cb)(void *arg, enum flow_err);
/* Reopen range now (an operator; key names who, for the log).  cb may run
 * before this returns. */
void flow_shield_reopen(struct flow *, int key, const char *range,
    flow_reopen_cb, void *arg);
/* The store on Redis: trips another gateway made (in the store) block
 * here too (gw.c calls it each sweep). */
void flow_shield_sync(struct flow *);
/* Reopen the ranges whose cooldown is over (the sweep's timer): each is
 * dropped from the store and logged (event=shield.reopened). */
void flow_shield_expire(struct flow *);

/* The sweep expired v (its record is already staged by the store). */
void flow_expired(struct flow *, const struct verif *v);
/* Dispatcher outcomes (dispatch.h hooks, forwarded by the owner). */
void flow_sent(struct flow *, const struct verif *v, int first);
void flow_failed(struct flow *, const char *id, const char *reason);

#endif
