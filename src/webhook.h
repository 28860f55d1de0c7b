/*
 * webhook.h - events of a verification POSTed to its key's webhook, signed,
 * at least once, from an LMDB outbox (store.h).
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include <stdint.h>

struct gw;
struct verif;
struct webhook;

struct webhook_stats {
	uint64_t delivered, failed, dropped;
	int inflight;
};

/* The sender for gw; it looks at the outbox at once (events a previous
 * run left) and then after every commit that staged events. */
struct webhook *webhook_new(struct gw *);
void webhook_free(struct webhook *);
/* Stage event type ("verification.approved", ...) about v in the current
 * batch, when v's key has a webhook; the change and its event commit
 * together. */
void webhook_emit(struct gw *, const struct verif *v, const char *type);
void webhook_stats(const struct webhook *, struct webhook_stats *);

#endif
