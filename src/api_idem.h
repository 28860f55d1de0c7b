/*
 * api_idem.h - Idempotency-Key on the send endpoints (POST
 * /v1/verifications, seed 003's POST /v1/sms/verify/send): what idem.h
 * decides, executed on the store and the HTTP answers.
 *
 * A send with the header is looked up, in this order: the header's value
 * (400 invalid_header naming it when it is not 1..255 printable ASCII);
 * the sends in flight (a retry of the same request waits for the first's
 * answer and gets it; another request under the key answers 422
 * idempotency_mismatch; with the table at [server] idempotency_inflight
 * requests, 503 idempotency_busy with Retry-After); the store (an answer
 * kept from the last IDEM_TTL seconds is answered again, status and body,
 * and nothing is sent; another request, 422).  Otherwise the send goes on
 * as the leader: its record is staged with the verification (one batch:
 * a crash keeps both or neither), its answer kept once it is known, and
 * its followers answered with it.  A send that fails keeps nothing and
 * its followers get the same failure.
 *
 * Loop thread only.
 */
#ifndef API_IDEM_H
#define API_IDEM_H

#include <stdint.h>
#include <jansson.h>

#include "flow.h"

struct api;
struct http_request;
struct store;

/* What the API whose sends these are answers, for replays and followers. */
struct api_idem_ops {
	const char *api;          /* "v1", "003": the fingerprint's API */
	int status;               /* a send's success status (201, 200) */
	/* The body of a send's success answer; a new reference. */
	json_t *(*render)(const struct verif *v);
	/* Answer req with the failure of fs (fs->err is set). */
	void (*fail)(struct http_request *req, const struct flow_send *fs);
};

struct api_idem_stats {
	uint64_t replays;         /* answered again from the store or with a
	                           * first request in flight */
	uint64_t mismatches;      /* 422 idempotency_mismatch */
	uint64_t busy;            /* 503 idempotency_busy (the table's cap) */
	uint64_t kept;            /* answers kept */
	int inflight;             /* requests in the table now */
};

/* The keeper of api's sends with Idempotency-Keys (store and flow are
 * borrowed from api). */
struct api_idem *api_idem_new(struct store *, struct flow *);
void api_idem_free(struct api_idem *);
void api_idem_stats(const struct api_idem *, struct api_idem_stats *);

/*
 * Before flow_send(fs): fs is a send of key for req whose body (the
 * parsed request) is complete and valid.  Returns 1 when the caller goes
 * on with flow_send(fs) (no header: nothing changes; with one, fs->staged
 * and fs->staged_arg are set and the caller's callback must call
 * api_idem_done() first), or 0 when the request has been answered or
 * waits for another's answer: fs has been freed.
 */
int api_idem_begin(struct api *, struct http_request *req,
    struct flow_send *fs, json_t *body, const struct api_idem_ops *ops);

/* From the send's callback (fs->cb): 1 when the answer was given here
 * (to the request and to the retries that waited for it), 0 when fs had
 * no Idempotency-Key and the caller answers as usual. */
int api_idem_done(struct flow_send *fs, const struct verif *v);

#endif
