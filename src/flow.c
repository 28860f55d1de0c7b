/*
 * flow.c - a send and a check, whatever API they came in by.
 *
 * A send: the number is read (off the loop when not cached), its type
 * checked against [verify] refuse_types, the text picked and rendered,
 * the verification built (the code only as an HMAC, the text sealed),
 * judged by [limits] (flow_limits.c: refused there, nothing is stored or
 * sent; let through, it is counted in the same batch as its record), the
 * pending one of (key, phone) canceled, the record staged and handed to
 * the dispatcher, which answers after the commit and the submit.
 *
 * A check: the verification found by id or by (key, phone), the number's
 * failed_checks_per_phone budget read (spent: refused without comparing),
 * the code compared in constant time, the change (and a wrong code's
 * count) staged, the answer handed back after the commit.  When nothing
 * is found, or the budget is spent, an HMAC over a throwaway id is
 * computed all the same, so the time does not tell why a check failed.
 *
 * The shield against SMS pumping sits in the send: once the number is
 * read, its country against the allow-lists; after its type, a route that
 * covers it; and last, after every other check, its range's verdict
 * (shield.h decides, this file executes: a trip is stored, told to the
 * admin keys' webhooks and logged; a blocked send is refused at once, as
 * it stores nothing).  What an SMSC accepted and what was approved are
 * counted into the shield (flow_sent(), flow_check()), so the verdicts
 * rest on sends that cost money and codes that came back.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "conf.h"
#include "dispatch.h"
#include "flow.h"
#include "flow_limits.h"
#include "keys.h"
#include "log.h"
#include "phone_pool.h"
#include "route.h"
#include "score.h"
#include "shield.h"
#include "smpp.h"
#include "stats.h"
#include "template.h"
#include "testmode.h"
#include "util.h"
#include "verif_state.h"
#include "webhook.h"

struct flow {
	const struct conf *conf;
	struct store *store;
	const struct keys *keys;
	struct phone_pool *phones;
	struct dispatch *dispatch;
	struct webhook *webhook;
	struct score *score;
	struct shield *shield;    /* ours: per-range breaker (shield.h) */
	uint8_t secret[VERIFY_SECRET_LEN];
	int stopped;              /* flow_stop(): answer nothing */
	struct flow_stats stats;
	struct log_limit lim_blocked, lim_country, lim_no_route;
	struct log_limit refused_log;   /* limits.refused lines */
	struct flow_range *ranges;      /* conf's sends_per_range counters */
	int nrange;
	struct testmode *testmode;      /* borrowed; NULL: nothing captured */
	/* flow_set_withdraw(): messages of ended verifications */
	void (*withdraw)(void *, const struct verif *);
	void *withdraw_arg;
	struct stats *stats_rec;        /* borrowed; NULL: nothing counted */
};

static void load_trips(struct flow *);
static void flow_capture(struct flow *, struct flow_send *, struct verif *,
    const struct conf_test *);

struct flow *
flow_new(const struct conf *conf, struct store *store,
    const struct keys *keys, struct phone_pool *phones,
    struct dispatch *dispatch, struct webhook *webhook, struct score *score,
    const uint8_t *secret)
{
	struct flow *f = xcalloc(1, sizeof(*f));

	f->conf = conf;
	f->store = store;
	f->keys = keys;
	f->phones = phones;
	f->dispatch = dispatch;
	f->webhook = webhook;
	f->score = score;
	memcpy(f->secret, secret, sizeof(f->secret));
	load_trips(f);
	f->ranges = flow_limits_ranges(conf, &f->nrange);
	return f;
}

/* [shield] as the shield's parameters. */
static void
params_of(const struct conf *conf, struct shield_params *p)
{
	memset(p, 0, sizeof(*p));
	p->floor = conf->shield_floor;
	p->window = conf->shield_window;
	p->min_sample = conf->shield_min_sample;
	p->cooldown = conf->shield_cooldown;
	p->grace = conf->shield_grace;
	p->range_digits = conf->limits.range_digits;
	p->max_ranges = conf->shield_max_ranges;
}

void
flow_reconf(struct flow *f, const struct conf *conf, struct score *score)
{
	struct shield_params p;

	f->conf = conf;
	f->score = score;
	params_of(conf, &p);
	shield_reconf(f->shield, &p);
	free(f->ranges);
	f->ranges = flow_limits_ranges(conf, &f->nrange);
}

void
flow_stop(struct flow *f)
{
	f->stopped = 1;
}

void
flow_set_testmode(struct flow *f, struct testmode *tm)
{
	f->testmode = tm;
}

void
flow_set_withdraw(struct flow *f,
    void (*withdraw)(void *, const struct verif *), void *arg)
{
	f->withdraw = withdraw;
	f->withdraw_arg = arg;
}

void
flow_set_stats(struct flow *f, struct stats *s)
{
	f->stats_rec = s;
}

void
flow_free(struct flow *f)
{
	if (f == NULL)
		return;
	OPENSSL_cleanse(f->secret, sizeof(f->secret));
	shield_free(f->shield);
	free(f->ranges);
	free(f);
}

void
flow_stats(const struct flow *f, struct flow_stats *out)
{
	*out = f->stats;
	shield_stats(f->shield, &out->shield);
}

const struct conf *
flow_conf(const struct flow *f)
{
	return f->conf;
}

const char *
flow_default_sender(const struct flow *f)
{
	return f->conf->sender;
}

/* ---- the end of a verification's life ---------------------------------- */

/* What follows a change of v's status or send state whose record is
 * staged: its webhook event (when event is not NULL), and the dispatcher
 * forgets a verification that is no longer pending, whose message the
 * withdraw hook may then cancel at its SMSC. */
static void
flow_announce(struct flow *f, const struct verif *v, const char *event)
{
	if (event != NULL)
		webhook_emit(f->webhook, v, event);
	if (v->status != VERIF_PENDING) {
		dispatch_drop(f->dispatch, v->id);
		if (f->withdraw != NULL)
			f->withdraw(f->withdraw_arg, v);
	}
}

/* The one way a verification's change is kept: stage the record, then
 * announce it (flow_announce).  STORE_OK or the store's error. */
static int
flow_finish(struct flow *f, const struct verif *v, const char *event)
{
	int rc = store_verif_put(f->store, v);

	if (rc == STORE_OK)
		flow_announce(f, v, event);
	if (rc == STORE_OK)
		stats_finish(f->stats_rec, v);
	return rc;
}

void
flow_expired(struct flow *f, const struct verif *v)
{
	f->stats.expired++;
	flow_announce(f, v, "verification.expired");
}

/* When v's accepted message was submitted: its send and its approval
 * count in the shield's slice of that time. */
static int64_t
send_time(const struct verif *v)
{
	const struct verif_send *s = &v->send[v->nsend - 1];

	return s->submitted_at > 0 ? s->submitted_at : v->created_at;
}

void
flow_sent(struct flow *f, const struct verif *v, int first)
{
	/* A message canceled or approved while on the wire was still
	 * accepted: recorded, but its "sent" would follow the end. */
	if (first && v->status == VERIF_PENDING)
		webhook_emit(f->webhook, v, "verification.sent");
	/* What reached a handset, for the shield's conversion figures. */
	if (first && v->nsend > 0)
		shield_sent(f->shield, v->phone, send_time(v));
	/* Accepted after its verification ended: withdraw it too. */
	if (v->status != VERIF_PENDING && f->withdraw != NULL)
		f->withdraw(f->withdraw_arg, v);
	if (first)
		stats_sent(f->stats_rec, v);
}

void
flow_failed(struct flow *f, const char *id, const char *reason)
{
	struct verif v;

	memset(&v, 0, sizeof(v));
	if (store_verif_get(f->store, id, &v) != STORE_OK)
		return;
	if (verif_enter(&v, VERIF_FAILED, reason, util_now()) == 0)
		flow_finish(f, &v, "verification.failed");
	verif_clear(&v);
}

/* ---- send ------------------------------------------------------------- */

struct flow_send *
flow_send_new(struct flow *f, int key, const char *api, flow_send_cb cb,
    void *arg)
{
	struct flow_send *fs = xcalloc(1, sizeof(*fs));

	fs->flow = f;
	fs->key = key;
	fs->api = api;
	fs->region = keys_country(f->keys, key);
	fs->code_length = f->conf->code_length;
	fs->expiry = f->conf->expiry;
	fs->cb = cb;
	fs->arg = arg;
	return fs;
}

void
flow_send_free(struct flow_send *fs)
{
	if (fs == NULL)
		return;
	OPENSSL_cleanse(fs->code, sizeof(fs->code));
	free(fs->metadata);
	json_decref(fs->hold);
	free(fs);
}

/* Answer (fs->err set, or v) and free fs. */
static void
send_done(struct flow_send *fs, const struct verif *v)
{
	fs->cb(fs, v);
	flow_send_free(fs);
}

static void
send_fail(struct flow_send *fs, enum flow_err err)
{
	fs->err = err;
	send_done(fs, NULL);
}

int
flow_sender_valid(const char *s)
{
	size_t n = strlen(s), digits = 0, letters = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (isdigit(c))
			digits++;
		else if (isalpha(c))
			letters++;
		else if (!(c == ' ' || c == '.' || c == '-' || c == '_' ||
		    (c == '+' && i == 0)))
			return 0;
	}
	if (letters > 0)
		return n >= 1 && n <= 11;
	return digits >= 1 && digits <= 15;
}

/* Cancel the pending verification of (key, phone), if any; tell whether
 * it was recent enough to count as a repeat: last (smsc_size octets)
 * gets the name of its SMSC ("" when none) and *attempt its attempt
 * number (0 when none).  A locked one (max attempts) still counts as the
 * last send to the number: a new send soon after it is a repeat, goes
 * over the next SMSC, and the locked one stays locked (its place in the
 * store's index goes to the new one). */
static void
cancel_pending(struct flow *f, const char *key, const char *phone,
    char *last, size_t smsc_size, int *attempt)
{
	char id[32];
	struct verif old;
	int64_t now = util_now();

	last[0] = '\0';
	*attempt = 0;
	if (store_pending_get(f->store, key, phone, id, sizeof(id)) !=
	    STORE_OK)
		return;
	memset(&old, 0, sizeof(old));
	if (store_verif_get(f->store, id, &old) != STORE_OK)
		return;
	if (now - old.created_at < f->conf->repeat_window) {
		*attempt = old.attempt > 0 ? old.attempt : 1;
		if (old.nsend > 0)
			util_strlcpy(last, old.send[old.nsend - 1].smsc,
			    smsc_size);
	}
	if (verif_enter(&old, VERIF_CANCELED, "superseded", now) == 0)
		flow_finish(f, &old, "verification.canceled");
	verif_clear(&old);
}

/* A store result as a send's outcome. */
static int
flow_store_err(int rc)
{
	return rc == STORE_FULL ? FLOW_STORE_FULL : rc == STORE_CONFLICT ?
	    FLOW_STORE_CONFLICT : FLOW_STORE_ERROR;
}

/* The dispatcher's answer: the record as committed after the submit. */
static void
send_answer(void *arg, const struct verif *v, int result)
{
	struct flow_send *fs = arg;
	struct flow *f = fs->flow;

	if (f->stopped) {
		fs->err = FLOW_SHUTDOWN;  /* the listener and requests are gone */
		v = NULL;
	} else if (v == NULL) {
		fs->err = flow_store_err(result);
	} else if (v->send_state == SEND_QUEUED) {
		f->stats.sends_queued++;
	}
	send_done(fs, v);
}

/* The message text, malloc'd, or NULL with fs->err set. */
static char *
send_text(struct flow_send *fs)
{
	const struct conf *conf = fs->flow->conf;
	const char *tmpl = fs->tmpl;
	char *text;
	int parts;

	if (tmpl != NULL && (strlen(tmpl) > FLOW_MAX_TEMPLATE ||
	    !template_has_code(tmpl))) {
		fs->err = FLOW_TEMPLATE;
		return NULL;
	}
	if (tmpl == NULL &&
	    (tmpl = conf_template_text(conf, fs->key, fs->language)) == NULL) {
		fs->err = FLOW_LANGUAGE;
		return NULL;
	}
	if (!fs->has_code && verify_code_new(fs->code, fs->code_length) != 0) {
		fs->err = FLOW_INTERNAL;
		return NULL;
	}
	fs->has_code = 1;
	text = template_render(tmpl, fs->code, (fs->expiry + 59) / 60);
	if (text == NULL || (parts = smpp_text_parts(text, 0)) < 1 ||
	    parts > FLOW_MAX_PARTS) {
		if (text != NULL) {
			OPENSSL_cleanse(text, strlen(text));
			free(text);
		}
		fs->err = FLOW_TOO_LONG;
		return NULL;
	}
	return text;
}

/* ---- the shield --------------------------------------------------------- */

/* 1 when the allow-lists let fs send to e164 ([shield] countries and the
 * key's); no list, no lookup of the number's region. */
static int
country_allowed(struct flow *f, struct flow_send *fs, const char *e164)
{
	const struct conf *conf = f->conf;
	const struct conf_key *k = keys_get(f->keys, fs->key);
	char region[8] = "", pbuf[24];
	unsigned sup;

	if (conf->nshield_country == 0 && (k == NULL || k->ncountry == 0))
		return 1;
	if (phone_region(e164, region, sizeof(region)) == 0 &&
	    conf_country_allowed(conf, fs->key, region))
		return 1;
	util_strlcpy(fs->country, region, sizeof(fs->country));
	f->stats.country_refused++;
	if (log_limit_ok(&f->lim_country, util_now_ms(), 1000, &sup))
		log_info("shield.country_refused", "key=%s phone=%s country=%s "
		    "suppressed=%u", keys_name(f->keys, fs->key),
		    log_phone(pbuf, sizeof(pbuf), e164),
		    region[0] ? region : "-", sup);
	return 0;
}

/* A trip's conversion in percent, one decimal, for logs and events. */
static double
trip_percent(const struct shield_view *v)
{
	if (v->trip_mature == 0)
		return 0;
	return (double)(int64_t)((double)v->trip_approved * 1000.0 /
	    (double)v->trip_mature) / 10.0;
}

/* v just tripped on a send of key: keep it (the store, so a restart keeps
 * it blocked), tell the admin keys' webhooks, log it. */
static void
on_trip(struct flow *f, const struct shield_view *v, int key)
{
	struct store_shield t;
	char from[32], until[32];
	json_t *data;

	memset(&t, 0, sizeof(t));
	util_strlcpy(t.range, v->range, sizeof(t.range));
	t.tripped_at = v->tripped_at;
	t.until = v->until;
	t.mature = v->trip_mature;
	t.approved = v->trip_approved;
	if (store_shield_put(f->store, &t) != STORE_OK)
		log_err("shield.store_failed", "range=%s msg=\"the trip holds "
		    "until a restart only\"", v->range);
	util_rfc3339(v->tripped_at, from, sizeof(from));
	util_rfc3339(v->until, until, sizeof(until));
	data = json_pack("{s:s, s:I, s:I, s:f, s:i, s:i, s:i, s:s, s:s, s:s}",
	    "range", v->range,
	    "sends", (json_int_t)v->trip_mature,
	    "approved", (json_int_t)v->trip_approved,
	    "conversion", trip_percent(v),
	    "conversion_floor", f->conf->shield_floor,
	    "window", f->conf->shield_window,
	    "min_sample", f->conf->shield_min_sample,
	    "tripped_at", from, "reopens_at", until,
	    "key", keys_name(f->keys, key));
	webhook_emit_admin(f->webhook, "shield.tripped", data);
	log_warn("shield.tripped", "range=%s sends=%llu approved=%llu "
	    "conversion=%.1f floor=%d until=%s key=%s", v->range,
	    (unsigned long long)v->trip_mature,
	    (unsigned long long)v->trip_approved, trip_percent(v),
	    f->conf->shield_floor, until, keys_name(f->keys, key));
}

/* v reopened (its cooldown is over, or by: an operator): out of the
 * store, logged. */
static void
on_reopen(struct flow *f, const struct shield_view *v, const char *by)
{
	store_shield_del(f->store, v->range);
	log_info("shield.reopened", "range=%s by=%s", v->range, by);
}

/* The shield's verdict on a send of fs to e164: 1 to send, or 0 with
 * fs->range and fs->retry_after set. */
static int
shield_gate(struct flow *f, struct flow_send *fs, const char *e164)
{
	struct shield_view v;
	int64_t now = util_now();
	unsigned sup;

	switch (shield_check(f->shield, e164, now, &v)) {
	case SHIELD_OPEN:
		if (v.reopened)
			on_reopen(f, &v, "cooldown");
		return 1;
	case SHIELD_TRIPS:
		on_trip(f, &v, fs->key);
		break;
	case SHIELD_BLOCKED:
		break;
	}
	util_strlcpy(fs->range, v.range, sizeof(fs->range));
	fs->retry_after = v.until - now > 0 ? (int)(v.until - now) : 1;
	if (log_limit_ok(&f->lim_blocked, util_now_ms(), 1000, &sup))
		log_info("shield.blocked", "key=%s range=%s retry_after=%d "
		    "suppressed=%u", keys_name(f->keys, fs->key), fs->range,
		    fs->retry_after, sup);
	return 0;
}

/* A stored trip as the shield's view of it. */
static void
trip_view(const struct store_shield *t, struct shield_view *v)
{
	memset(v, 0, sizeof(*v));
	util_strlcpy(v->range, t->range, sizeof(v->range));
	v->tripped_at = t->tripped_at;
	v->until = t->until;
	v->trip_mature = t->mature;
	v->trip_approved = t->approved;
}

/* A stored trip, at start-up: blocked again until its cooldown is over,
 * or dropped when it is over already. */
static void
restore_one(void *arg, const struct store_shield *t)
{
	struct flow *f = arg;
	struct shield_view v;

	trip_view(t, &v);
	if (t->until <= util_now())
		on_reopen(f, &v, "cooldown");
	else if (shield_restore(f->shield, &v, util_now()) != 0)
		log_err("shield.restore_failed", "range=%s msg=\"no room: "
		    "raise [shield] max_ranges\"", t->range);
}

/* The shield, built from [shield], with the trips the store holds. */
static void
load_trips(struct flow *f)
{
	struct shield_params p;
	struct shield_stats st;
	int n;

	params_of(f->conf, &p);
	f->shield = shield_new(&p);
	n = store_shield_each(f->store, restore_one, f);
	shield_stats(f->shield, &st);
	if (n != 0)
		log_info("shield.restored", "tripped=%d stored=%d", st.tripped,
		    n);
}

/* A stored trip this node has not made (another gateway did, on the
 * store on Redis): blocked here too until its cooldown is over. */
static void
sync_one(void *arg, const struct store_shield *t)
{
	struct flow *f = arg;
	struct shield_view v;
	int64_t now = util_now();

	if (t->until <= now || (shield_get(f->shield, t->range, now, &v) == 0 &&
	    v.tripped))
		return;
	trip_view(t, &v);
	if (shield_restore(f->shield, &v, now) == 0)
		log_info("shield.shared", "range=%s until=%lld", t->range,
		    (long long)t->until);
}

void
flow_shield_sync(struct flow *f)
{
	store_shield_each(f->store, sync_one, f);
}

int
flow_shield_list(struct flow *f, struct shield_view **out)
{
	return shield_tripped(f->shield, util_now(), out);
}

int
flow_shield_get(struct flow *f, const char *range, struct shield_view *v)
{
	return shield_get(f->shield, range, util_now(), v);
}

/* A reopen waiting for the commit that holds it. */
struct reopen_ctx {
	struct flow *flow;
	flow_reopen_cb cb;
	void *arg;
};

static void
reopen_committed(void *arg, int result)
{
	struct reopen_ctx *ctx = arg;

	ctx->cb(ctx->arg, ctx->flow->stopped ? FLOW_SHUTDOWN :
	    result == STORE_OK ? FLOW_OK : FLOW_STORE_ERROR);
	free(ctx);
}

void
flow_shield_reopen(struct flow *f, int key, const char *range,
    flow_reopen_cb cb, void *arg)
{
	struct reopen_ctx *ctx;
	struct shield_view v;
	char by[64];

	if (shield_reopen(f->shield, range, util_now()) != 0)
		return cb(arg, FLOW_NOT_FOUND);
	memset(&v, 0, sizeof(v));
	util_strlcpy(v.range, range, sizeof(v.range));
	snprintf(by, sizeof(by), "key:%s", keys_name(f->keys, key));
	on_reopen(f, &v, by);
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->flow = f;
	ctx->cb = cb;
	ctx->arg = arg;
	store_on_commit(f->store, reopen_committed, ctx);
}

static void
expired_one(void *arg, const struct shield_view *v)
{
	on_reopen(arg, v, "cooldown");
}

void
flow_shield_expire(struct flow *f)
{
	shield_expire(f->shield, util_now(), expired_one, f);
}

/* [limits] (SPEC "Limits"): FLOW_OK when no limit refuses the send, and
 * then it is counted in the open batch, the batch of its record; else
 * FLOW_RATE_LIMITED with fs->limit and fs->retry_after, or a store
 * error.  Nothing is stored or sent for a refused send. */
static enum flow_err
send_limits(struct flow_send *fs, const char *e164)
{
	struct flow *f = fs->flow;
	enum limit_kind limit;
	int64_t retry, now = util_now();
	char pbuf[24];
	unsigned held;
	int rc;

	rc = flow_limits_send(f->store, f->conf, fs->key,
	    keys_name(f->keys, fs->key), e164, fs->client_ip, f->ranges,
	    f->nrange, now, &limit, &retry);
	if (rc != STORE_OK)
		return flow_store_err(rc);
	if (limit == LIMIT_NONE)
		return FLOW_OK;
	f->stats.sends_limited++;
	fs->limit = limit_strname(limit);
	fs->retry_after = retry > INT32_MAX ? INT32_MAX : (int)retry;
	/* A pumping bot is refused by the thousand: one line a second. */
	if (log_limit_ok(&f->refused_log, util_mono_ms(), 1000, &held))
		log_info("limits.refused", "key=%s api=%s phone=%s limit=%s "
		    "retry_after=%d suppressed=%u", keys_name(f->keys, fs->key),
		    fs->api, log_phone(pbuf, sizeof(pbuf), e164), fs->limit,
		    fs->retry_after, held);
	return FLOW_RATE_LIMITED;
}

/* ---- send, continued ---------------------------------------------------- */

static void
send_phone_done(void *arg, enum phone_result pr, const char *e164,
    enum phone_type ptype)
{
	struct flow_send *fs = arg;
	struct flow *f = fs->flow;
	const struct conf *conf = f->conf;
	char pbuf[24], last[sizeof(((struct verif_send *)0)->smsc)];
	const struct conf_test *test = NULL;
	int attempt, rc, capture = 0;
	unsigned sup;
	struct verif v;
	char *text;

	if (f->stopped)
		return send_fail(fs, FLOW_SHUTDOWN);
	if (pr != PHONE_OK)
		return send_fail(fs, pr == PHONE_UNPARSABLE ?
		    FLOW_PHONE_UNPARSABLE : FLOW_PHONE_INVALID);
	if (!country_allowed(f, fs, e164))
		return send_fail(fs, FLOW_COUNTRY);
	if (conf->refuse_types & (1 << ptype)) {
		/* A landline, premium or VoIP number cannot take the SMS
		 * (and NIST SP 800-63B rules VoIP out for codes). */
		fs->ptype = ptype;
		return send_fail(fs, FLOW_PHONE_TYPE);
	}
	if (route_find(conf, e164) < 0) {
		f->stats.no_route++;
		if (log_limit_ok(&f->lim_no_route, util_now_ms(), 1000, &sup))
			log_info("flow.no_route", "key=%s phone=%s "
			    "suppressed=%u", keys_name(f->keys, fs->key),
			    log_phone(pbuf, sizeof(pbuf), e164), sup);
		return send_fail(fs, FLOW_NO_ROUTE);
	}
	if (fs->sender != NULL && !flow_sender_valid(fs->sender))
		return send_fail(fs, FLOW_SENDER);
	if (f->testmode != NULL) {
		test = conf_test_find(conf, e164);
		capture = test != NULL ||
		    keys_role(f->keys, fs->key) == CONF_ROLE_TEST;
		if (test != NULL && test->code != NULL) {
			/* The test number's fixed code, whatever was asked. */
			util_strlcpy(fs->code, test->code, sizeof(fs->code));
			fs->has_code = 1;
		}
	}
	if ((text = send_text(fs)) == NULL)
		return send_fail(fs, fs->err);
	if (!shield_gate(f, fs, e164)) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
		return send_fail(fs, FLOW_RANGE_BLOCKED);
	}

	memset(&v, 0, sizeof(v));
	verify_id_new(v.id);
	util_strlcpy(v.key, keys_name(f->keys, fs->key), sizeof(v.key));
	util_strlcpy(v.phone, e164, sizeof(v.phone));
	util_strlcpy(v.api, fs->api, sizeof(v.api));
	util_strlcpy(v.sender, fs->sender ? fs->sender : conf->sender,
	    sizeof(v.sender));
	v.status = VERIF_PENDING;
	v.send_state = SEND_QUEUED;
	v.max_checks = conf->max_check_attempts;
	v.created_at = v.updated_at = util_now();
	v.expires_at = v.created_at + fs->expiry;
	verify_code_hmac(f->secret, v.id, fs->code, v.code_hmac);
	v.sealed = verify_seal(f->secret, v.id, text);
	v.metadata = fs->metadata;
	fs->metadata = NULL;
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	if (v.sealed == NULL) {
		verif_clear(&v);
		return send_fail(fs, FLOW_INTERNAL);
	}
	if ((rc = send_limits(fs, e164)) != FLOW_OK) {
		verif_clear(&v);
		return send_fail(fs, rc);
	}
	cancel_pending(f, v.key, v.phone, last, sizeof(last), &attempt);
	v.attempt = attempt + 1;
	if ((rc = store_verif_put(f->store, &v)) != STORE_OK) {
		verif_clear(&v);
		return send_fail(fs, flow_store_err(rc));
	}
	f->stats.sends++;
	if (fs->staged != NULL)
		fs->staged(fs, &v);
	stats_send(f->stats_rec, &v);
	log_info("verify.created", "id=%s key=%s api=%s phone=%s attempt=%d",
	    v.id, v.key, v.api, log_phone(pbuf, sizeof(pbuf), v.phone),
	    v.attempt);
	/* The code is in the HMAC and the sealed text only from here on
	 * (but for seed 000, whose answer returns it). */
	if (!fs->keep_code)
		OPENSSL_cleanse(fs->code, sizeof(fs->code));
	if (capture)
		return flow_capture(f, fs, &v, test);
	dispatch_send(f->dispatch, &v, last[0] ? last : NULL, send_answer, fs);
	verif_clear(&v);
}

/* ---- test mode: a send captured instead of dispatched ------------------ */

/* A captured (or refused) send waiting for its commit. */
struct capture_ctx {
	struct flow_send *fs;
	struct verif v;
};

static void
capture_committed(void *arg, int result)
{
	struct capture_ctx *ctx = arg;

	send_answer(ctx->fs, result == STORE_OK ? &ctx->v : NULL, result);
	verif_clear(&ctx->v);
	free(ctx);
}

/* v, staged pending, goes to test mode instead of an SMSC (t: its [test]
 * section, or NULL for a test key's send to any other number); fs is
 * answered after the commit, as the dispatcher would answer it.  Takes
 * over what v owns. */
static void
flow_capture(struct flow *f, struct flow_send *fs, struct verif *v,
    const struct conf_test *t)
{
	struct capture_ctx *ctx;
	int rc;

	if (t != NULL && t->refuse != 0) {
		/* As an SMSC's final refusal does in dispatch.c: the
		 * verification fails, reason the status' name. */
		testmode_count_refused(f->testmode);
		log_warn("test.refused", "id=%s test=%s status=%s", v->id,
		    t->name, smpp_strstatus(t->refuse));
		verif_enter(v, VERIF_FAILED, smpp_strstatus(t->refuse),
		    util_now());
		rc = flow_finish(f, v, "verification.failed");
	} else {
		rc = testmode_capture(f->testmode, v, t != NULL ?
		    t->delivery : CONF_TEST_DELIVERED, t != NULL ? t->delay :
		    1);
		/* Not flow_sent(): nothing reached a handset, so nothing
		 * counts in the shield's figures. */
		if (rc == STORE_OK)
			webhook_emit(f->webhook, v, "verification.sent");
		if (rc == STORE_OK)
			stats_sent(f->stats_rec, v);
	}
	(void)rc;       /* a failed batch reaches capture_committed() */
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->fs = fs;
	ctx->v = *v;            /* ctx owns what v held */
	memset(v, 0, sizeof(*v));
	store_on_commit(f->store, capture_committed, ctx);
}

void
flow_send(struct flow_send *fs)
{
	/* The rest runs in send_phone_done(), now or once a worker has read
	 * the number. */
	phone_pool_lookup(fs->flow->phones, fs->phone, fs->region,
	    send_phone_done, fs);
}

/* ---- check ------------------------------------------------------------ */

/* A check's outcome waiting for the commit of the batch. */
struct check_ctx {
	struct flow *flow;
	flow_check_cb cb;
	void *arg;
	struct flow_check fc;
};

static void
check_committed(void *arg, int result)
{
	struct check_ctx *ctx = arg;

	ctx->cb(ctx->arg, result, ctx->flow->stopped ? NULL : &ctx->fc);
	free(ctx);
}

static const char *
check_status(enum verify_result r)
{
	switch (r) {
	case VERIFY_APPROVED: return "approved";
	case VERIFY_WRONG: return "pending";
	case VERIFY_LOCKED: return "max_attempts_reached";
	case VERIFY_EXPIRED: return "expired";
	case VERIFY_CANCELED:
	case VERIFY_FAILED: return "canceled";
	case VERIFY_USED: return "not_found";   /* a code is valid once */
	}
	return "not_found";
}

void
flow_check(struct flow *f, int key, const char *id, const char *e164,
    const char *code, flow_check_cb cb, void *arg)
{
	const char *kname = keys_name(f->keys, key), *phone = NULL;
	const struct conf_limits *l = flow_limits_of(f->conf, key);
	struct check_ctx *ctx = xcalloc(1, sizeof(*ctx));
	struct flow_check *fc = &ctx->fc;
	int64_t now = util_now();
	int left = -1, limited = 0;
	char vid[32];
	struct verif v;

	ctx->flow = f;
	ctx->cb = cb;
	ctx->arg = arg;
	fc->result = VERIFY_USED;
	memset(&v, 0, sizeof(v));
	if (id != NULL)
		util_strlcpy(vid, id, sizeof(vid));
	if ((id != NULL ? strlen(id) < sizeof(v.id) :
	    e164 != NULL && store_pending_get(f->store, kname, e164, vid,
	    sizeof(vid)) == STORE_OK) &&
	    store_verif_get(f->store, vid, &v) == STORE_OK &&
	    strcmp(v.key, kname) == 0)
		fc->found = 1;

	/* failed_checks_per_phone: how many wrong codes the number may
	 * still try (-1: no such limit). */
	if (fc->found || e164 != NULL) {
		phone = fc->found ? v.phone : e164;
		if (flow_limits_checks_left(f->store, l, kname, phone, now,
		    &left) != STORE_OK)
			log_err("limits.error", "op=check_read "
			    "msg=\"refused: the counter cannot be read\"");
	}
	if (left == 0) {
		/* Past the limit: refused without comparing the code, at the
		 * same cost (an HMAC over a throwaway id). */
		uint8_t mac[32];
		verify_code_hmac(f->secret, "ver_000000000000000000000000",
		    code, mac);
		fc->result = VERIFY_LOCKED;
		fc->status = check_status(fc->result);
		if (fc->found)
			util_strlcpy(fc->id, v.id, sizeof(fc->id));
		if (phone != NULL)
			util_strlcpy(fc->phone, phone, sizeof(fc->phone));
		fc->attempts_left = 0;
		limited = 1;
	} else if (fc->found) {
		int before = v.status, checks = v.checks;
		fc->result = verify_check(&v, f->secret, code, now);
		if (fc->result == VERIFY_APPROVED && v.nsend > 0 &&
		    strcmp(v.send[v.nsend - 1].smsc, TESTMODE_SMSC) != 0) {
			/* A code typed back: proof its SMSC delivered (a
			 * captured message reached no SMSC). */
			const struct verif_send *s = &v.send[v.nsend - 1];
			score_approved(f->score, f->conf, v.phone, s->smsc,
			    s->submitted_at);
			shield_approved(f->shield, v.phone, send_time(&v));
		}
		if (v.status != before)
			flow_finish(f, &v, fc->result == VERIFY_APPROVED ?
			    "verification.approved" :
			    v.status == VERIF_EXPIRED ?
			    "verification.expired" : NULL);
		else if (v.checks != checks)
			store_verif_put(f->store, &v);
		util_strlcpy(fc->id, v.id, sizeof(fc->id));
		util_strlcpy(fc->phone, v.phone, sizeof(fc->phone));
		fc->attempts_left = verify_attempts_left(&v);
		if (v.checks > checks && left > 0) {
			/* A wrong code compared: it counts for the number,
			 * in the batch of the check. */
			flow_limits_check_failed(f->store, l, kname, v.phone,
			    now);
			if (--left == 0)
				fc->result = VERIFY_LOCKED;  /* from now on */
		}
		if (left >= 0 && fc->attempts_left > left)
			fc->attempts_left = left;
		fc->status = check_status(fc->result);
	} else {
		/* Same work as a real check: an HMAC over a throwaway id. */
		uint8_t mac[32];
		verify_code_hmac(f->secret, "ver_000000000000000000000000",
		    code, mac);
		if (e164 != NULL)
			util_strlcpy(fc->phone, e164, sizeof(fc->phone));
		fc->status = "not_found";
	}
	if (limited)
		f->stats.checks_limited++;
	else if (fc->result == VERIFY_APPROVED)
		f->stats.checks_approved++;
	else if (fc->result == VERIFY_WRONG || fc->result == VERIFY_LOCKED)
		f->stats.checks_wrong++;
	else
		f->stats.checks_other++;
	log_info("verify.check", "id=%s result=%s%s", fc->found ? v.id : "-",
	    fc->status, limited ? " limit=failed_checks_per_phone" : "");
	verif_clear(&v);
	/* Which write the answer waits for.  An approval waits for the
	 * flush: a code is valid once, and an approval a power cut undid
	 * would let the same code approve again.  Every other answer
	 * refuses, and waits only until its batch is in the journal's file
	 * (store_on_written()): a kill -9 after it loses nothing, so no crash
	 * an attacker can cause gives back a wrong code's count; a crash of
	 * the machine within the flush (a fraction of a millisecond) could.
	 * That takes the flush out of a wrong code's answer. */
	if (fc->result == VERIFY_APPROVED)
		store_on_commit(f->store, check_committed, ctx);
	else
		store_on_written(f->store, check_committed, ctx);
}

/* ---- limits ------------------------------------------------------------ */

int
flow_limits(struct flow *f, int key, const char *e164, const char *ip,
    struct flow_limit *out)
{
	int n = flow_limits_view(f->store, flow_limits_of(f->conf, key),
	    keys_name(f->keys, key), e164, ip, util_now(), out);

	return n < 0 ? -1 : n;
}

/* ---- get and cancel --------------------------------------------------- */

enum flow_err
flow_get(struct flow *f, int key, const char *id, struct verif *v)
{
	memset(v, 0, sizeof(*v));
	if (id == NULL || strlen(id) >= sizeof(v->id) ||
	    store_verif_get(f->store, id, v) != STORE_OK)
		return FLOW_NOT_FOUND;
	if (strcmp(v->key, keys_name(f->keys, key)) != 0) {
		verif_clear(v);
		return FLOW_NOT_FOUND;
	}
	return FLOW_OK;
}

/* A cancel waiting for the commit that holds it. */
struct cancel_ctx {
	struct flow *flow;
	flow_cancel_cb cb;
	void *arg;
	struct verif v;
};

static void
cancel_committed(void *arg, int result)
{
	struct cancel_ctx *ctx = arg;

	if (ctx->flow->stopped)
		ctx->cb(ctx->arg, FLOW_SHUTDOWN, NULL);
	else if (result != STORE_OK)
		ctx->cb(ctx->arg, FLOW_STORE_ERROR, NULL);
	else
		ctx->cb(ctx->arg, FLOW_OK, &ctx->v);
	verif_clear(&ctx->v);
	free(ctx);
}

void
flow_cancel(struct flow *f, int key, const char *id, flow_cancel_cb cb,
    void *arg)
{
	struct cancel_ctx *ctx;
	struct verif v;

	if (flow_get(f, key, id, &v) != FLOW_OK)
		return cb(arg, FLOW_NOT_FOUND, NULL);
	if (verif_enter(&v, VERIF_CANCELED, "api_cancel", util_now()) != 0) {
		cb(arg, FLOW_NOT_PENDING, &v);
		verif_clear(&v);
		return;
	}
	if (flow_finish(f, &v, "verification.canceled") != STORE_OK) {
		verif_clear(&v);
		return cb(arg, FLOW_STORE_ERROR, NULL);
	}
	f->stats.cancels++;
	log_info("verify.canceled", "id=%s", v.id);
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->flow = f;
	ctx->cb = cb;
	ctx->arg = arg;
	ctx->v = v;             /* ctx owns what v held */
	store_on_commit(f->store, cancel_committed, ctx);
}
