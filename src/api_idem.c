/*
 * api_idem.c - Idempotency-Key on the send endpoints (api_idem.h): the
 * table of sends in flight (idem.h) and the store's kept answers, around
 * a send of api_verify.c or api_compat.c.
 *
 * A leader's life: api_idem_begin() joins the table and finds nothing
 * kept; the flow stages the verification and, through fs->staged, the
 * key's record (fingerprint, the verification's id, no answer yet) in the
 * same batch; the flow answers (fs->cb), the API hands over to
 * api_idem_done(), which stages the record again with the answer (status
 * and body), answers the leader and every follower, and leaves the table.
 * A record without an answer (the daemon died between the two commits)
 * is answered by rendering its verification as it is now.
 *
 * Who owns what: struct idem_leader lives from begin to done and is
 * reached through fs->staged_arg; followers are the table's waiters
 * (their requests, answered exactly once from done).
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_idem.h"
#include "conf.h"
#include "http.h"
#include "idem.h"
#include "keys.h"
#include "log.h"
#include "store.h"
#include "util.h"

struct api_idem {
	struct store *store;
	struct flow *flow;
	struct idem_table *table;
	struct api_idem_stats stats;
};

/* A send with an Idempotency-Key, from begin to done. */
struct idem_leader {
	struct api_idem *ai;
	const struct api_idem_ops *ops;
	struct idem_entry *e;
	struct http_request *req;
	char key[33];
	char ikey[IDEM_KEY_MAX + 1];
	uint8_t fp[IDEM_FP_LEN];
	char id[32];              /* the verification staged, "" before */
	int64_t created_at;
};

struct api_idem *
api_idem_new(struct store *store, struct flow *flow)
{
	struct api_idem *ai = xcalloc(1, sizeof(*ai));

	ai->store = store;
	ai->flow = flow;
	ai->table = idem_table_new(flow_conf(flow)->idem_inflight);
	return ai;
}

void
api_idem_free(struct api_idem *ai)
{
	if (ai == NULL)
		return;
	idem_table_free(ai->table);
	free(ai);
}

void
api_idem_stats(const struct api_idem *ai, struct api_idem_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (ai == NULL)
		return;
	*out = ai->stats;
	out->inflight = idem_table_count(ai->table);
}

static void
reply_mismatch(struct api_idem *ai, struct http_request *req)
{
	ai->stats.mismatches++;
	http_reply_error(req, HTTP_ERR_INVALID, "idempotency_mismatch",
	    IDEM_HEADER, "this Idempotency-Key was used with another request "
	    "in the last 24 hours; use a new key for a new request");
}

/* Stage the leader's record: its answer (status, body of blen octets) or,
 * with status 0, only the verification it made. */
static void
leader_put(struct idem_leader *l, int status, const char *body,
    size_t blen)
{
	struct idem_rec r;
	uint8_t *buf;
	size_t len;

	memset(&r, 0, sizeof(r));
	memcpy(r.fp, l->fp, sizeof(r.fp));
	r.status = status;
	util_strlcpy(r.id, l->id, sizeof(r.id));
	r.body = body;
	r.body_len = blen;
	if (idem_encode(&r, &buf, &len) != 0) {
		log_err("idem.unkept", "key=%s id=%s msg=\"the answer does not "
		    "fit a record: a retry renders it again\"", l->key, l->id);
		return;
	}
	if (store_idem_put(l->ai->store, l->key, l->ikey, l->created_at, buf,
	    len) == STORE_OK && status != 0)
		l->ai->stats.kept++;
	free(buf);
}

/* fs->staged: the verification v is staged; the key's record joins its
 * batch. */
static void
leader_staged(struct flow_send *fs, const struct verif *v)
{
	struct idem_leader *l = fs->staged_arg;

	util_strlcpy(l->id, v->id, sizeof(l->id));
	l->created_at = util_now();
	leader_put(l, 0, NULL, 0);
}

/* Answer req again with a kept record r of key. */
static void
replay(struct api_idem *ai, struct http_request *req, int key,
    const struct idem_rec *r, const struct api_idem_ops *ops)
{
	struct verif v;
	json_t *body;

	ai->stats.replays++;
	if (r->status != 0) {
		body = json_loads(r->body, JSON_DECODE_ANY, NULL);
		if (body != NULL) {
			http_reply_json(req, r->status, body);
			return;
		}
	} else if (flow_get(ai->flow, key, r->id, &v) == FLOW_OK) {
		/* Made, but its answer was never kept (a crash between the
		 * two commits): the verification as it is now. */
		body = ops->render(&v);
		verif_clear(&v);
		http_reply_json(req, ops->status, body);
		return;
	}
	http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error", NULL,
	    "the answer kept for this Idempotency-Key cannot be read; "
	    "nothing was sent");
}

int
api_idem_begin(struct api *api, struct http_request *req,
    struct flow_send *fs, json_t *body, const struct api_idem_ops *ops)
{
	struct api_idem *ai = api->idem;
	const char *ikey = http_header(req, IDEM_HEADER);
	const char *kname = keys_name(api->keys, fs->key);
	uint8_t fp[IDEM_FP_LEN], *buf = NULL;
	struct idem_leader *l;
	struct idem_entry *e;
	struct idem_rec r;
	int64_t created;
	size_t len;
	int rc;

	if (ikey == NULL || ai == NULL)
		return 1;
	if (!idem_key_valid(ikey)) {
		http_reply_error(req, HTTP_ERR_BAD_REQUEST, "invalid_header",
		    IDEM_HEADER, "the Idempotency-Key header must be 1 to %d "
		    "printable ASCII characters", IDEM_KEY_MAX);
		goto answered;
	}
	if (idem_fingerprint(ops->api, body, fp) != 0) {
		http_reply_error(req, HTTP_ERR_INTERNAL, "internal", NULL,
		    "the request could not be read; nothing was sent");
		goto answered;
	}
	idem_table_set_cap(ai->table, flow_conf(ai->flow)->idem_inflight);
	switch (idem_table_join(ai->table, kname, ikey, fp, req, &e)) {
	case IDEM_FOLLOWER:
		/* Answered with the first, from api_idem_done(). */
		flow_send_free(fs);
		return 0;
	case IDEM_MISMATCH:
		reply_mismatch(ai, req);
		goto answered;
	case IDEM_FULL:
		ai->stats.busy++;
		http_set_retry_after(req, 1);
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "idempotency_busy",
		    IDEM_HEADER, "too many sends with an Idempotency-Key are in "
		    "flight ([server] idempotency_inflight); try again");
		goto answered;
	case IDEM_LEADER:
		break;
	}
	rc = store_idem_get(ai->store, kname, ikey, &created, &buf, &len);
	if (rc == STORE_OK && idem_fresh(created, util_now())) {
		if (idem_decode(buf, len, &r) != 0) {
			http_reply_error(req, HTTP_ERR_UNAVAILABLE,
			    "store_error", NULL, "the answer kept for this "
			    "Idempotency-Key cannot be read; nothing was sent");
		} else if (memcmp(r.fp, fp, IDEM_FP_LEN) != 0) {
			reply_mismatch(ai, req);
		} else {
			replay(ai, req, fs->key, &r, ops);
		}
		idem_rec_clear(&r);
		free(buf);
		idem_table_remove(ai->table, e);
		goto answered;
	}
	free(buf);
	if (rc == STORE_ERR) {
		http_reply_error(req, HTTP_ERR_UNAVAILABLE, "store_error", NULL,
		    "the Idempotency-Key cannot be looked up; nothing was sent");
		idem_table_remove(ai->table, e);
		goto answered;
	}
	/* New (or older than IDEM_TTL, which this one replaces). */
	l = xcalloc(1, sizeof(*l));
	l->ai = ai;
	l->ops = ops;
	l->e = e;
	l->req = req;
	util_strlcpy(l->key, kname, sizeof(l->key));
	util_strlcpy(l->ikey, ikey, sizeof(l->ikey));
	memcpy(l->fp, fp, sizeof(l->fp));
	fs->staged = leader_staged;
	fs->staged_arg = l;
	return 1;
answered:
	flow_send_free(fs);
	return 0;
}

int
api_idem_done(struct flow_send *fs, const struct verif *v)
{
	struct idem_leader *l = fs->staged_arg;
	struct api_idem *ai;
	struct http_request *w;
	json_t *body;
	char *text;

	if (fs->staged != leader_staged || l == NULL)
		return 0;
	ai = l->ai;
	if (fs->err == FLOW_OK && v != NULL) {
		body = l->ops->render(v);
		text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
		if (text != NULL)
			leader_put(l, l->ops->status, text, strlen(text));
		free(text);
		for (int i = 0; (w = idem_entry_waiter(l->e, i)) != NULL;
		    i++) {
			ai->stats.replays++;
			http_reply_json(w, l->ops->status, json_incref(body));
		}
		http_reply_json(l->req, l->ops->status, body);
	} else {
		/* Nothing kept (a failure before the record was staged, or a
		 * commit that lost both): the retries get the same failure. */
		for (int i = 0; (w = idem_entry_waiter(l->e, i)) != NULL;
		    i++)
			l->ops->fail(w, fs);
		l->ops->fail(l->req, fs);
	}
	idem_table_remove(ai->table, l->e);
	fs->staged_arg = NULL;
	free(l);
	return 1;
}
