/*
 * smsc_sim_hold.c - the simulator's concatenated messages (parts joined
 * into one handset line, or dropped after --concat-timeout-ms) and its
 * held ones (--deliver-delay-ms: kept, then delivered, unless a matching
 * cancel_sm withdraws them first).  See smsc_sim.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "peer.h"
#include "smpp.h"
#include "smpp_pdu.h"
#include "smsc_sim.h"

/* ---- concatenated messages ---- */

/* Find the concatenation element in the UDH of a submit with esm_class
 * 0x40: IEI 0x00 (8-bit reference) or 0x08 (16-bit).  Returns 0 and fills
 * out, or -1 when there is none or it is malformed (a TOTAL or SEQ of 0,
 * SEQ > TOTAL): such a submit is shown as a message of its own. */
int
udh_concat(const struct smpp_sm *sm, struct udh_concat *out)
{
	const uint8_t *p, *d;
	size_t len, end, i;

	if ((sm->esm_class & 0x40) == 0)
		return -1;
	sm_octets(sm, &p, &len);
	if (len == 0 || (size_t)p[0] + 1 > len)
		return -1;
	end = (size_t)p[0] + 1;
	for (i = 1; i + 2 <= end && i + 2 + p[i + 1] <= end;
	    i += 2 + (size_t)p[i + 1]) {
		d = p + i + 2;
		if (p[i] == 0x00 && p[i + 1] == 3) {
			out->ref16 = 0;
			out->ref = d[0];
			out->total = d[1];
			out->seq = d[2];
		} else if (p[i] == 0x08 && p[i + 1] == 4) {
			out->ref16 = 1;
			out->ref = (uint16_t)(d[0] << 8 | d[1]);
			out->total = d[2];
			out->seq = d[3];
		} else {
			continue;
		}
		return out->total == 0 || out->seq == 0 ||
		    out->seq > out->total ? -1 : 0;
	}
	return -1;
}

/* FNV-1a over the key of a concatenated message. */
static uint32_t
concat_hash(const char *source, const char *destination,
    const struct udh_concat *u)
{
	uint32_t h = 2166136261u;
	const char *s;

	for (s = source; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ 0xFF) * 16777619u; /* "ab","c" differs from "a","bc" */
	for (s = destination; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ (u->ref & 0xFF)) * 16777619u;
	h = (h ^ (u->ref >> 8)) * 16777619u;
	h = (h ^ u->ref16) * 16777619u;
	return h;
}

void
concat_free(struct sim *sim, struct concat *m)
{
	int i;

	LIST_REMOVE(m, bucket);
	TAILQ_REMOVE(&sim->concat_age, m, age);
	sim->concat_count--;
	for (i = 0; i < m->total; i++)
		free(m->text[i]);
	free(m);
}

static void
concat_arm(struct sim *sim)
{
	struct concat *m = TAILQ_FIRST(&sim->concat_age);
	uint64_t now = now_ms(), wait;
	struct timeval tv;

	if (m == NULL)
		return;
	wait = m->due_ms > now ? m->due_ms - now : 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(sim->concat_timer, &tv);
}

static void
concat_drop(struct sim *sim, struct concat *m, const char *reason)
{
	char masked[32];

	sim_log(sim, "event=concat.dropped reason=%s to=%s ref=%u parts=%u/%u",
	    reason, mask(m->destination, masked, sizeof(masked)),
	    (unsigned)m->ref, (unsigned)m->got, (unsigned)m->total);
	concat_free(sim, m);
}

void
concat_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	uint64_t now = now_ms();
	struct concat *m;

	while ((m = TAILQ_FIRST(&sim->concat_age)) != NULL &&
	    m->due_ms <= now)
		concat_drop(sim, m, "timeout");
	concat_arm(sim);
}

/* Hold part u.seq of a concatenated message (text NULL: it did not
 * decode).  Returns 0 while parts are missing, 1 when this part completed
 * the message (*joined is then its text, malloc'ed, or NULL when some part
 * did not decode or memory ran out), -1 when it could not be held. */
int
concat_add(struct sim *sim, const struct smpp_sm *sm,
    const struct udh_concat *u, const char *text, char **joined)
{
	uint32_t h = concat_hash(sm->source, sm->destination, u);
	struct concat_bucket *b = &sim->concat_hash[h & (CONCAT_BUCKETS - 1)];
	struct concat *m;
	size_t total_len = 0, pos = 0;
	char *copy;
	int i;

	*joined = NULL;
	LIST_FOREACH(m, b, bucket) {
		if (m->hash == h && m->ref == u->ref &&
		    m->ref16 == u->ref16 &&
		    strcmp(m->source, sm->source) == 0 &&
		    strcmp(m->destination, sm->destination) == 0)
			break;
	}
	if (m != NULL && m->total != u->total) {
		concat_drop(sim, m, "restarted"); /* reference reused */
		m = NULL;
	}
	if (m == NULL) {
		if (sim->concat_count >= CONCAT_MAX)
			concat_drop(sim, TAILQ_FIRST(&sim->concat_age), "full");
		m = calloc(1, sizeof(*m) + (size_t)u->total * sizeof(char *));
		if (m == NULL)
			return -1;
		m->hash = h;
		m->due_ms = now_ms() + (uint64_t)sim->o.concat_timeout_ms;
		snprintf(m->source, sizeof(m->source), "%s", sm->source);
		snprintf(m->destination, sizeof(m->destination), "%s",
		    sm->destination);
		m->ref = u->ref;
		m->ref16 = u->ref16;
		m->total = u->total;
		LIST_INSERT_HEAD(b, m, bucket);
		TAILQ_INSERT_TAIL(&sim->concat_age, m, age);
		if (sim->concat_count++ == 0)
			concat_arm(sim);
	}
	if ((copy = strdup(text != NULL ? text : "")) == NULL)
		return -1;
	if (text == NULL)
		m->unreadable = 1;
	if (m->text[u->seq - 1] != NULL)
		free(m->text[u->seq - 1]); /* a repeated part: the last wins */
	else
		m->got++;
	m->text[u->seq - 1] = copy;
	if (m->got < m->total)
		return 0;
	for (i = 0; i < m->total; i++)
		total_len += strlen(m->text[i]);
	if (!m->unreadable && (*joined = malloc(total_len + 1)) != NULL) {
		for (i = 0; i < m->total; i++) {
			size_t l = strlen(m->text[i]);
			memcpy(*joined + pos, m->text[i], l);
			pos += l;
		}
		(*joined)[pos] = '\0';
	}
	concat_free(sim, m);
	return 1;
}

/* ---- held messages and cancel_sm (--deliver-delay-ms) ---- */

static struct held_bucket *
held_bucket(struct sim *sim, uint64_t msgid)
{
	return &sim->held_hash[(msgid * 0x9E3779B97F4A7C15ull) >> 50 &
	    (HOLD_BUCKETS - 1)];
}

void
held_free(struct sim *sim, struct held *m)
{
	LIST_REMOVE(m, bucket);
	TAILQ_REMOVE(&sim->held_age, m, age);
	sim->held_count--;
	if (m->dlr != NULL)
		job_put(sim, m->dlr);
	free(m->line);
	free(m);
}

static void
held_arm(struct sim *sim)
{
	struct held *m = TAILQ_FIRST(&sim->held_age);
	uint64_t now = now_ms(), wait;
	struct timeval tv;

	if (m == NULL)
		return;
	wait = m->due_ms > now ? m->due_ms - now : 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(sim->held_timer, &tv);
}

/* Deliver m now: its handset line, then its receipt after --dlr-delay-ms
 * (the receipt FIFO stays in due order: deliveries go oldest first). */
static void
held_deliver(struct sim *sim, struct held *m)
{
	char id[24];

	format_msgid(m->msgid, sim->o.id_hex, id, sizeof(id));
	if (m->line != NULL && sim->handset != NULL) {
		fwrite(m->line, 1, m->line_len, sim->handset);
		fputc('\n', sim->handset);
		fflush(sim->handset);
	}
	if (m->dlr != NULL) {
		m->dlr->due_ms = now_ms() + (uint64_t)sim->o.dlr_delay_ms;
		fifo_push(&sim->dlrs, m->dlr);
		m->dlr = NULL;
	}
	sim_log(sim, "event=delivered message_id=%s line=%d", id,
	    m->line != NULL);
	held_free(sim, m);
}

void
held_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	uint64_t now = now_ms();
	struct held *m;

	while ((m = TAILQ_FIRST(&sim->held_age)) != NULL && m->due_ms <= now)
		held_deliver(sim, m);
	held_arm(sim);
}

/* on_submit accepted sm as msgid: with --deliver-delay-ms, what it writes
 * (handset_write, queue_receipt) is held in a new entry until hold_end. */
void
hold_begin(struct sim *sim, const struct smpp_sm *sm, uint64_t msgid)
{
	struct held *m;

	sim->holding_now = NULL;
	if (sim->o.deliver_delay_ms <= 0)
		return;
	if (sim->held_count >= sim->o.hold_max) {
		sim_log(sim, "event=hold.full held=%d", sim->held_count);
		held_deliver(sim, TAILQ_FIRST(&sim->held_age));
	}
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return;		/* delivered at once */
	m->msgid = msgid;
	m->due_ms = now_ms() + (uint64_t)sim->o.deliver_delay_ms;
	memcpy(m->service_type, sm->service_type, sizeof(m->service_type));
	m->source_ton = sm->source_ton;
	m->source_npi = sm->source_npi;
	m->dest_ton = sm->dest_ton;
	m->dest_npi = sm->dest_npi;
	memcpy(m->source, sm->source, sizeof(m->source));
	memcpy(m->destination, sm->destination, sizeof(m->destination));
	sim->holding_now = m;
}

/* handset_write's line (n octets, no newline): held when a submit is
 * being held (returns 0), else -1: write it now. */
int
hold_line(struct sim *sim, const char *line, size_t n)
{
	struct held *m = sim->holding_now;

	if (m == NULL)
		return -1;
	free(m->line);
	if ((m->line = malloc(n)) == NULL) {
		m->line_len = 0;
		return -1;
	}
	memcpy(m->line, line, n);
	m->line_len = n;
	return 0;
}

/* SIGUSR1: deliver everything held now. */
void
held_release(struct sim *sim)
{
	int n = 0;

	if (sim->held_hash == NULL)
		return;
	while (!TAILQ_EMPTY(&sim->held_age)) {
		held_deliver(sim, TAILQ_FIRST(&sim->held_age));
		n++;
	}
	sim_log(sim, "event=held.released messages=%d", n);
}

void
hold_end(struct sim *sim)
{
	struct held *m = sim->holding_now;

	if (m == NULL)
		return;
	sim->holding_now = NULL;
	LIST_INSERT_HEAD(held_bucket(sim, m->msgid), m, bucket);
	TAILQ_INSERT_TAIL(&sim->held_age, m, age);
	if (sim->held_count++ == 0)
		held_arm(sim);
}

/* The held message a cancel_sm's message_id names, or NULL. */
static struct held *
held_find(struct sim *sim, const char *message_id)
{
	char *end;
	unsigned long long v;
	struct held *m;

	if (message_id[0] == '\0')
		return NULL;
	errno = 0;
	v = strtoull(message_id, &end, sim->o.id_hex ? 16 : 10);
	if (errno != 0 || *end != '\0')
		return NULL;
	LIST_FOREACH(m, held_bucket(sim, v), bucket)
		if (m->msgid == v)
			return m;
	return NULL;
}

/* The first field of cancel_sm f that differs from the held submit m, or
 * NULL when every one matches. */
static const char *
cancel_mismatch(const struct held *m, const struct smpp_cancel_fields *f)
{
	if (strcmp(f->service_type, m->service_type) != 0)
		return "service_type";
	if (f->source_ton != m->source_ton || f->source_npi != m->source_npi)
		return "source_ton_npi";
	if (strcmp(f->source, m->source) != 0)
		return "source_addr";
	if (f->dest_ton != m->dest_ton || f->dest_npi != m->dest_npi)
		return "dest_ton_npi";
	if (strcmp(f->destination, m->destination) != 0)
		return "destination_addr";
	return NULL;
}

void
on_cancel(struct conn *c, const struct smpp_header *h)
{
	struct sim *sim = c->sim;
	struct smpp_cancel_fields f;
	const char *why;
	struct held *m;
	uint32_t resp = SMPP_CANCEL_SM | SMPP_RESP;

	if (c->state != CONN_BOUND || c->bind_type == SMPP_BIND_RECEIVER) {
		reply_header(c, resp, ST_INVBNDSTS, h->seq);
		return;
	}
	if (smpp_pdu_unpack_cancel(sim->pdu, h, &f) == -1) {
		sim_log(sim, "event=cancel.malformed conn=%llu seq=%u",
		    (unsigned long long)c->id, h->seq);
		reply_header(c, resp, ST_CANCELFAIL, h->seq);
		return;
	}
	if (sim->o.ignore_cancel) {
		sim_log(sim, "event=cancel.ignored message_id=%s conn=%llu",
		    f.message_id, (unsigned long long)c->id);
		return;
	}
	if (sim->o.refuse_cancel) {
		why = "refuse_cancel";
	} else if ((m = held_find(sim, f.message_id)) == NULL) {
		why = "unknown_or_delivered";
	} else if ((why = cancel_mismatch(m, &f)) == NULL) {
		held_free(sim, m);
		sim_log(sim, "event=cancel.ok message_id=%s conn=%llu",
		    f.message_id, (unsigned long long)c->id);
		reply_resp(c, resp, ST_OK, h->seq, "");
		return;
	}
	sim_log(sim, "event=cancel.failed message_id=%s conn=%llu reason=%s",
	    f.message_id, (unsigned long long)c->id, why);
	reply_resp(c, resp, ST_CANCELFAIL, h->seq, "");
}
