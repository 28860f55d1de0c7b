/*
 * webhook.h - events of a verification POSTed to its key's webhook (and
 * the gateway's own events to admin keys' webhooks), signed, at least
 * once, from the store's outbox (store.h).
 *
 * The sender is given the handles it needs: the loop, the store whose
 * outbox it reads and writes, the key table (each key's webhook URL and
 * secret) and the configuration ([server] webhook_retry and
 * webhook_ca_file).  It keeps its own counters.
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include <stdint.h>

#include <jansson.h>

struct conf;
struct event_base;
struct keys;
struct store;
struct verif;
struct webhook;

struct webhook_stats {
	uint64_t delivered, failed, dropped;   /* POSTs by outcome */
	int inflight;                          /* POSTs out now */
};

/* The sender on base for store's outbox.  keys and conf are borrowed
 * (they must outlive it, or be replaced with webhook_reconf()).  It looks
 * at the outbox at once (events a previous run left) and then after every
 * commit that staged events, and at least once a second.  NULL when its
 * events cannot be created. */
struct webhook *webhook_new(struct event_base *base, struct store *store,
    const struct keys *keys, const struct conf *conf);
/* A new configuration (reload): keys is the same table, updated by its
 * owner; conf replaces the old one, which may be freed after this. */
void webhook_reconf(struct webhook *, const struct conf *conf);
/* Stop: POSTs still out are abandoned (their events stay in the outbox
 * for the next start).  wh may be NULL. */
void webhook_free(struct webhook *);
/* Stage event type ("verification.approved", ...) about v in the store's
 * current batch, when v's key has a webhook (else nothing): the change and
 * its event commit together.  wh may be NULL (nothing is sent). */
void webhook_emit(struct webhook *, const struct verif *v, const char *type);
/* Stage event type ("shield.tripped", ...), not about a verification,
 * for every key with role = admin that has a webhook, each its own copy:
 * the body is {"type", "created_at", "data"} as for the others, signed
 * and delivered the same way (at least once, from the outbox).  data is
 * a JSON object whose reference is taken (whatever happens).  Returns how
 * many keys got it; wh may be NULL (none). */
int webhook_emit_admin(struct webhook *, const char *type, json_t *data);
/* Stage event type ("message.received", ...), not about a verification,
 * for key's webhook (key names a [key]; nothing when it has no webhook),
 * or, key NULL or "", for every admin key's as webhook_emit_admin().  The
 * body and delivery are as for the others; data's reference is taken
 * (whatever happens).  Returns how many keys got it; wh may be NULL. */
int webhook_emit_key(struct webhook *, const char *key, const char *type,
    json_t *data);
/* Its counters (all zero for NULL). */
void webhook_stats(const struct webhook *, struct webhook_stats *);

#endif
