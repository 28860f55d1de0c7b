/*
 * smsc_sim.c - an SMSC simulator: the SMPP peer of the integration tests,
 * scripts/run and scripts/bench.
 *
 *	smsc_sim [-p PORT] [-P PORTFILE] [-u SYSTEM_ID] [-w PASSWORD]
 *	    [-o HANDSET_LOG] [--dlr none|delivered|undeliv] [--dlr-delay-ms N]
 *	    [--id-format dec|hex] [--dlr-id-format dec|hex] [--dlr-tlv 0|1]
 *	    [--latin1] [--fail-every N] [--fail-status N] [--max-rate N]
 *	    [--refuse-prefix DIGITS] [--drop-after N] [--resp-delay-ms N]
 *	    [--hold-resp] [--concat-timeout-ms N] [--bind-then-close]
 *	    [--flood-enquire N] [--flood-nack N] [--flood-resp N]
 *	    [--flood-unknown N] [--unmatched-receipts N] [--mo FILE] [-q]
 *	    [--deliver-delay-ms N] [--hold-max N] [--refuse-cancel]
 *	    [--ignore-cancel]
 *
 * One libevent loop serves any number of client binds on 127.0.0.1.  A
 * bind is checked against -u/-w (either may be left out to accept any).
 * Every accepted submit_sm gets the next message id (decimal, or
 * upper-case hex) and one JSON line in the handset log -- what the phone
 * would show -- written and flushed before its submit_sm_resp goes out, so
 * a test that saw the response can read the line.  With --dlr a delivery
 * receipt follows after --dlr-delay-ms as a deliver_sm (esm_class 0x04,
 * the Appendix B text, and receipted_message_id/message_state TLVs unless
 * --dlr-tlv 0) on the same bind when it receives, else on any receiving
 * bind of the same system_id; when no such bind exists it waits for one
 * (bounded).  Receipts follow registered_delivery: bit pattern 01 gets
 * both outcomes, 10 only failures, 00 none.  The text is short_message,
 * or the message_payload TLV when sm_length is 0.
 *
 * Concatenated messages: a submit_sm with esm_class bit 0x40 whose UDH
 * holds a concatenation element (IEI 0x00, 8-bit reference, or IEI 0x08,
 * 16-bit) is answered like any other part (its own message id and
 * receipt), but its text is held until every part of (source,
 * destination, reference) has come; then ONE handset line with the joined
 * text, "parts": TOTAL and the message id of the completing part is
 * written before that part's submit_sm_resp.  Incomplete messages are
 * dropped after --concat-timeout-ms (60 s), and at most CONCAT_MAX are
 * held (the oldest goes first).
 *
 * Faults for tests: --fail-every N answers every Nth submit (counted over
 * the simulator's life) with ESME_RTHROTTLED, or with the command_status
 * --fail-status N (decimal or 0x hex; --fail-every 1 refuses everything);
 * --max-rate N throttles like a real SMSC: beyond N submit_sm in one
 * second of the clock (counted over all binds) the rest of that second is
 * answered ESME_RTHROTTLED ("event=submit.throttled", at most one line a
 * second, with the count held back);
 * --refuse-prefix answers ESME_RINVDSTADR for destinations starting with
 * those digits;
 * --drop-after N closes the connection that carries the Nth submit
 * without answering it (once; that message is lost, no handset line);
 * --resp-delay-ms holds every submit_sm_resp back (receipts may then
 * overtake their response, as real ones do);
 * --hold-resp holds every submit_sm_resp back until SIGUSR1, which sends
 * the held ones in order ("event=hold.released responses=N") and ends the
 * hold: a test can do something while submits are surely in flight, and
 * depends on no timing.
 *
 * Held messages and cancel_sm: --deliver-delay-ms N holds every accepted
 * message N ms before "delivering" it, i.e. writing its handset line (its
 * "time" is still the submit's) and then queuing its receipt as above.
 * The submit_sm_resp does not wait.  SIGUSR1 delivers every message held
 * at once (event=held.released messages=N), so a test can hold them "for
 * ever" and release them when it is ready; with --hold-resp as well, the
 * first SIGUSR1 releases the responses only and the next ones the
 * messages.  At most --hold-max messages (default HOLD_MAX) are held:
 * past that the oldest is delivered early (event=hold.full).  While held
 * a message can be withdrawn with cancel_sm: one whose message_id (in the
 * --id-format), service_type and source and destination addresses with
 * their TON/NPI are exactly the submit's is dropped -- no handset line, no
 * receipt -- and answered ESME_ROK (event=cancel.ok message_id=ID); a
 * cancel for an id that is unknown, already delivered, or whose other
 * fields differ (event=cancel.failed reason=...) is answered
 * ESME_RCANCELFAIL.  --refuse-cancel answers every cancel_sm with
 * ESME_RCANCELFAIL (the message goes on as if none came), --ignore-cancel
 * never answers one (event=cancel.ignored).  A part of a concatenated
 * message is held like a message; the joined line goes with the part
 * that completed it.  Without --deliver-delay-ms every cancel_sm is
 * answered ESME_RCANCELFAIL: everything is delivered at once.
 *
 * Hostile modes, for the tests that the daemon survives a bad SMSC (none
 * is on by default): --bind-then-close answers every bind and closes the
 * connection once the answer is out.  The floods go on each bind, right
 * after its bind_resp, in this order, each PDU header-only unless said:
 * --flood-enquire N enquire_link, after which the simulator never reads
 * from that connection again (the answers pile up on the daemon's side);
 * --flood-nack N generic_nack (ESME_RSYSERR) and --flood-resp N
 * submit_sm_resp (ESME_ROK, a message id), both for sequence numbers the
 * daemon never used; --flood-unknown N PDUs of an unknown command_id
 * (0x00000099); --unmatched-receipts N delivery receipts (deliver_sm with
 * TLVs and text, DELIVRD) for message ids the simulator never gave out
 * (decimal, from 9000000000 up).  A flood is written as the connection's
 * output drains, so the simulator's memory stays small.  After the last
 * PDU comes an enquire_link; its answer means the daemon has read the
 * whole flood (TCP keeps the order): "event=flood.read conn=N" (and
 * "event=flood.sent conn=N pdus=N" before it).
 *
 * Inbound messages (MO): on SIGUSR2 the simulator reads --mo FILE, one
 * JSON object a line, {"from", "to", "text"[, "udh": [REF, TOTAL, SEQ]]
 * [, "ref16": true][, "payload": true][, "repeat": N]} (or {"receipt": ID,
 * "from", "to"}: a DELIVRD receipt for that message id), and sends each as
 * a deliver_sm (esm_class 0, or 0x40 behind the concatenation UDH, 8-bit
 * reference or 16-bit with "ref16") on the first bound receiving bind, in
 * file order, N times with "repeat" (an SMSC sending it again).  The text
 * goes in the alphabet smpp_text_encode() picks (GSM, or UCS-2 for what
 * GSM lacks), in short_message, or in the message_payload TLV with
 * "payload".  Each is logged "event=mo.sent seq=N", and every
 * deliver_sm_resp "event=deliver_sm_resp seq=N status=N"; "event=mo.done
 * sent=N" ends the file ("event=mo.unsent ..." for a line that could not
 * go).
 *
 * The simulator only speaks through smpp_pdu.c; it never includes
 * libsmpp34.  It is also the benchmark peer, so the hot path allocates
 * nothing per message but jansson's few small objects: the PDU buffer is
 * shared, responses of one read are batched into one write, and delayed
 * responses and receipts live in pooled FIFO entries behind one timer
 * each (their delays are constant, so FIFO order is due-time order).
 *
 * stderr gets one key=value line per event unless -q, and always
 * "smsc_sim listening port=N" and, at the end, "smsc_sim stats
 * submits_ok=N first_bind=S last_ok=S" (S: CLOCK_MONOTONIC seconds; the
 * benchmark's rate for the daemon is N over last_ok - first_bind, the
 * same span smpp_blast measures itself); message text never appears there
 * and phone numbers are masked.  SIGINT/SIGTERM end the loop; everything is
 * freed and the exit status is 0.
 *
 * The parts: this file (connections, binds, submits, the read path,
 * floods, delayed responses and receipts, setup), smsc_sim_hold.c
 * (concatenated and held messages, cancel_sm), smsc_sim_mo.c (--mo),
 * smsc_sim_args.c (the command line); smsc_sim.h holds what they share.
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

static const char *
conn_strstate(enum conn_state s)
{
	switch (s) {
	case CONN_OPEN: return "open";
	case CONN_BOUND: return "bound";
	case CONN_CLOSING: return "closing";
	case CONN_DEAD: return "dead";
	}
	return "?";
}

static const char *
bind_name(enum smpp_bind_type t)
{
	switch (t) {
	case SMPP_BIND_TRANSCEIVER: return "transceiver";
	case SMPP_BIND_TRANSMITTER: return "transmitter";
	case SMPP_BIND_RECEIVER: return "receiver";
	}
	return "?";
}

void
sim_log(const struct sim *sim, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (sim->o.quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "smsc_sim %s\n", line);
}

/* All but the last four digits of a number as '*'. */
const char *
mask(const char *num, char *buf, size_t size)
{
	size_t n = strlen(num), i;

	if (n + 1 > size)
		n = size - 1;
	for (i = 0; i < n; i++)
		buf[i] = i + 4 < n ? '*' : num[i];
	buf[n] = '\0';
	return buf;
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
format_msgid(uint64_t v, int hex, char *out, size_t size)
{
	snprintf(out, size, hex ? "%llX" : "%llu", (unsigned long long)v);
}

/* ---- the delayed-job FIFOs ---- */

/* The due time of a response held until SIGUSR1 (--hold-resp). */
#define HELD UINT64_MAX

struct job *
job_get(struct sim *sim)
{
	struct job *j = sim->free_jobs;

	if (j != NULL)
		sim->free_jobs = j->next;
	else if ((j = malloc(sizeof(*j))) == NULL)
		return NULL;
	memset(j, 0, sizeof(*j));
	return j;
}

void
job_put(struct sim *sim, struct job *j)
{
	j->next = sim->free_jobs;
	sim->free_jobs = j;
}

static void
fifo_arm(struct fifo *q)
{
	uint64_t now = now_ms(), wait;
	struct timeval tv;

	if (q->head == NULL || q->head->due_ms == HELD)
		return;
	wait = q->head->due_ms > now ? q->head->due_ms - now : 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	evtimer_add(q->timer, &tv);
}

/* Append j; due times only grow along a queue (constant delays). */
void
fifo_push(struct fifo *q, struct job *j)
{
	int was_empty = q->head == NULL;

	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	if (was_empty)
		fifo_arm(q);
}

static struct job *
fifo_pop_due(struct fifo *q, uint64_t now)
{
	struct job *j = q->head;

	if (j == NULL || j->due_ms > now)
		return NULL;
	q->head = j->next;
	if (q->head == NULL)
		q->tail = NULL;
	j->next = NULL;
	return j;
}

static void
fifo_free(struct fifo *q)
{
	struct job *j;

	while ((j = q->head) != NULL) {
		q->head = j->next;
		free(j);
	}
	q->tail = NULL;
	if (q->timer != NULL)
		event_free(q->timer);
	q->timer = NULL;
}

/* ---- connections ---- */

static void
conn_enter_state(struct conn *c, enum conn_state to)
{
	if (c->state == to)
		return;
	sim_log(c->sim, "event=state conn=%llu from=%s to=%s",
	    (unsigned long long)c->id, conn_strstate(c->state),
	    conn_strstate(to));
	c->state = to;
}

static struct conn *
conn_find(struct sim *sim, uint64_t id)
{
	struct conn *c;

	TAILQ_FOREACH(c, &sim->conns, entry)
		if (c->id == id)
			return c;
	return NULL;
}

/* Close now: stop all I/O and hand the connection to the reaper, which
 * frees it outside any of its callbacks. */
static void
conn_kill(struct conn *c)
{
	struct sim *sim = c->sim;

	if (c->state == CONN_DEAD)
		return;
	conn_enter_state(c, CONN_DEAD);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	TAILQ_REMOVE(&sim->conns, c, entry);
	TAILQ_INSERT_TAIL(&sim->dead, c, entry);
	event_active(sim->reaper, EV_TIMEOUT, 0);
}

static void
conn_free(struct conn *c)
{
	bufferevent_free(c->bev);
	evbuffer_free(c->pending);
	free(c);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	struct conn *c;

	while ((c = TAILQ_FIRST(&sim->dead)) != NULL) {
		TAILQ_REMOVE(&sim->dead, c, entry);
		conn_free(c);
	}
}

/* Close once what is queued for writing has gone out. */
static void
conn_close_after_flush(struct conn *c)
{
	if (c->state == CONN_DEAD || c->state == CONN_CLOSING)
		return;
	conn_enter_state(c, CONN_CLOSING);
	bufferevent_disable(c->bev, EV_READ);
}

void
conn_send(struct conn *c, const uint8_t *p, int len)
{
	if (len > 0 && c->state != CONN_DEAD)
		bufferevent_write(c->bev, p, (size_t)len);
}

/* Queue a response in the current batch (written at the end of the read
 * callback, after the handset log is flushed). */
static void
conn_reply(struct conn *c, const uint8_t *p, int len)
{
	if (len > 0)
		evbuffer_add(c->pending, p, (size_t)len);
}

void
reply_header(struct conn *c, uint32_t id, uint32_t status, uint32_t seq)
{
	uint8_t h[SMPP_HEADER_LEN];

	smpp_pdu_header_encode(h, id, status, seq);
	conn_reply(c, h, sizeof(h));
}

/* Monotonic seconds. */
static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void
reply_resp(struct conn *c, uint32_t id, uint32_t status, uint32_t seq,
    const char *message_id)
{
	uint8_t out[128];
	int n = smpp_pdu_pack_resp(out, sizeof(out), id, status, seq,
	    message_id);

	if (n < 0) {
		/* e.g. seq 0, which libsmpp34 will not pack: answer by hand */
		reply_header(c, id, status != 0 ? status : ST_SUBMITFAIL, seq);
		return;
	}
	if (id == (SMPP_SUBMIT_SM | SMPP_RESP) && status == ST_OK) {
		c->sim->submits_ok++;
		c->sim->last_ok = mono_s();
	}
	conn_reply(c, out, n);
}

/* ---- binds ---- */

static void
on_bind(struct conn *c, const struct smpp_header *h)
{
	struct sim *sim = c->sim;
	char system_id[16], password[9], system_type[13];
	uint32_t resp = h->id | SMPP_RESP, status = ST_OK;
	enum smpp_bind_type type;

	if (h->id == SMPP_CMD_BIND_RECEIVER)
		type = SMPP_BIND_RECEIVER;
	else if (h->id == SMPP_CMD_BIND_TRANSMITTER)
		type = SMPP_BIND_TRANSMITTER;
	else
		type = SMPP_BIND_TRANSCEIVER;
	if (c->state == CONN_BOUND) {
		status = ST_ALYBND;
	} else if (smpp_pdu_unpack_bind(sim->pdu, h, system_id, password,
	    system_type) == -1) {
		status = ST_INVCMDLEN;
	} else if (sim->o.system_id != NULL &&
	    strcmp(system_id, sim->o.system_id) != 0) {
		status = ST_INVSYSID;
	} else if (sim->o.password != NULL &&
	    strcmp(password, sim->o.password) != 0) {
		status = ST_INVPASWD;
	}
	if (status != ST_OK) {
		sim_log(sim, "event=bind.refused conn=%llu type=%s "
		    "status=0x%08X", (unsigned long long)c->id,
		    bind_name(type), status);
		reply_header(c, resp, status, h->seq);
		return;
	}
	c->bind_type = type;
	memcpy(c->system_id, system_id, sizeof(c->system_id));
	sim_log(sim, "event=bind conn=%llu type=%s system_id=%s",
	    (unsigned long long)c->id, bind_name(type), c->system_id);
	reply_resp(c, resp, ST_OK, h->seq, "smsc_sim");
	if (sim->first_bind == 0)
		sim->first_bind = mono_s();
	conn_enter_state(c, CONN_BOUND);
	if (sim->o.bind_then_close) {
		sim_log(sim, "event=bind.closing conn=%llu",
		    (unsigned long long)c->id);
		conn_close_after_flush(c);
		return;
	}
	for (int k = 0; k < FLOOD_KINDS; k++)
		if (sim->o.flood[k] > 0)
			c->flood_start = 1;  /* after the bind_resp is out */
}

/* ---- submits ---- */

/* RFC 3339 UTC with milliseconds. */
static void
rfc3339_now(char *out, size_t size)
{
	struct timeval tv;
	struct tm tm;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

/* The message octets: short_message, or the message_payload TLV when
 * sm_length is 0. */
void
sm_octets(const struct smpp_sm *sm, const uint8_t **p, size_t *len)
{
	*p = sm->body;
	*len = sm->body_len;
	if (*len == 0 && sm->payload != NULL) {
		*p = sm->payload;
		*len = sm->payload_len;
	}
}

/* The message text octets, without a UDH when esm_class says there is
 * one. */
static void
sm_text(const struct smpp_sm *sm, const uint8_t **p, size_t *len)
{
	sm_octets(sm, p, len);
	if ((sm->esm_class & 0x40) && *len > 0) {
		size_t udh = (size_t)(*p)[0] + 1;
		if (udh > *len)
			udh = *len;
		*p += udh;
		*len -= udh;
	}
}

/* Append one handset line: parts is 0 for a message sent whole, else the
 * part count of the concatenated message whose joined text this is. */
void
handset_write(struct sim *sim, const struct smpp_sm *sm, const char *text,
    const char *message_id, int parts)
{
	char when[96], to[32], line[4096], *big = NULL; /* when: any int */
	json_t *j;
	size_t n;

	if (sim->handset == NULL)
		return;
	rfc3339_now(when, sizeof(when));
	snprintf(to, sizeof(to), "+%s", sm->destination);
	j = json_pack("{s:s, s:s, s:s, s:s?, s:i, s:s}", "time", when,
	    "to", to, "from", sm->source, "text", text,
	    "data_coding", (int)sm->data_coding, "message_id", message_id);
	if (j != NULL && parts > 0 &&
	    json_object_set_new(j, "parts", json_integer(parts)) == -1) {
		json_decref(j);
		j = NULL;
	}
	if (j == NULL) {
		/* e.g. a source_addr that is not UTF-8 */
		sim_log(sim, "event=handset.unwritable message_id=%s",
		    message_id);
		return;
	}
	n = json_dumpb(j, line, sizeof(line) - 1, JSON_COMPACT);
	if (n >= sizeof(line) - 1) {
		/* A long payload or a joined message: the slow way. */
		big = json_dumps(j, JSON_COMPACT);
		n = big != NULL ? strlen(big) : 0;
	}
	json_decref(j);
	if (n == 0) {
		sim_log(sim, "event=handset.unwritable message_id=%s",
		    message_id);
		return;
	}
	if (big != NULL) {
		if (hold_line(sim, big, n) == 0) {
			free(big);
			return;
		}
		fwrite(big, 1, n, sim->handset);
		fputc('\n', sim->handset);
		free(big);
	} else {
		if (hold_line(sim, line, n) == 0)
			return;
		line[n++] = '\n';
		fwrite(line, 1, n, sim->handset);
	}
	sim->handset_dirty = 1;
}

/* The first 20 characters of the text for the receipt's text: field,
 * non-ASCII folded to '?' so the receipt stays plain GSM/ASCII. */
static void
text20(const char *utf8, char out[21])
{
	const uint8_t *s = (const uint8_t *)(utf8 != NULL ? utf8 : "");
	int n = 0;

	for (; *s && n < 20; s++) {
		if (*s < 0x80) {
			out[n++] = *s >= 0x20 ? (char)*s : ' ';
		} else if ((*s & 0xC0) != 0x80) {
			out[n++] = '?'; /* lead octet: one character */
		}
	}
	out[n] = '\0';
}

void
queue_receipt(struct sim *sim, struct conn *c, const struct smpp_sm *sm,
    const char *text, uint64_t msgid)
{
	int delivered = sim->o.dlr == DLR_DELIVERED;
	int rd = sm->registered_delivery & 0x03;
	struct job *j;

	if (sim->o.dlr == DLR_NONE || rd == 0 || (rd == 2 && delivered))
		return;
	if ((j = job_get(sim)) == NULL)
		return;
	j->kind = JOB_DLR;
	j->due_ms = now_ms() + (uint64_t)sim->o.dlr_delay_ms;
	j->conn_id = c->id;
	j->msgid = msgid;
	j->delivered = delivered;
	j->submitted = time(NULL);
	memcpy(j->system_id, c->system_id, sizeof(j->system_id));
	snprintf(j->source, sizeof(j->source), "%s", sm->destination);
	snprintf(j->destination, sizeof(j->destination), "%s", sm->source);
	text20(text, j->text20);
	if (sim->holding_now != NULL) {
		sim->holding_now->dlr = j;	/* queued on delivery */
		return;
	}
	fifo_push(&sim->dlrs, j);
}

static void
answer_submit(struct sim *sim, struct conn *c, uint32_t seq, uint32_t status,
    uint64_t msgid)
{
	char id[24] = "";
	struct job *j;

	if (status == ST_OK)
		format_msgid(msgid, sim->o.id_hex, id, sizeof(id));
	if ((sim->holding || sim->o.resp_delay_ms > 0) &&
	    (j = job_get(sim)) != NULL) {
		j->kind = JOB_RESP;
		j->due_ms = sim->holding ? HELD :
		    now_ms() + (uint64_t)sim->o.resp_delay_ms;
		j->conn_id = c->id;
		j->seq = seq;
		j->msgid = status == ST_OK ? msgid : 0;
		j->status = status;
		fifo_push(&sim->resps, j);
		return;
	}
	reply_resp(c, SMPP_SUBMIT_SM | SMPP_RESP, status, seq, id);
}

void
on_submit(struct conn *c, const struct smpp_header *h)
{
	struct sim *sim = c->sim;
	char id[24], masked[32], part[16] = "", *joined;
	const char *tp = sim->text;
	const uint8_t *body;
	struct smpp_sm sm;
	struct udh_concat u;
	uint32_t status = ST_OK;
	uint64_t msgid;
	size_t len;
	int r;

	if (c->state != CONN_BOUND || c->bind_type == SMPP_BIND_RECEIVER) {
		reply_header(c, SMPP_SUBMIT_SM | SMPP_RESP, ST_INVBNDSTS,
		    h->seq);
		return;
	}
	sim->submits++;
	if (sim->o.drop_after > 0 && !sim->dropped &&
	    sim->submits == (uint64_t)sim->o.drop_after) {
		sim->dropped = 1;
		sim_log(sim, "event=submit.dropped conn=%llu seq=%u",
		    (unsigned long long)c->id, h->seq);
		conn_close_after_flush(c);
		return;
	}
	if (smpp_pdu_unpack_sm(sim->pdu, h, &sm) == -1) {
		status = ST_SUBMITFAIL;
		sim_log(sim, "event=submit.malformed conn=%llu seq=%u",
		    (unsigned long long)c->id, h->seq);
		answer_submit(sim, c, h->seq, status, 0);
		return;
	}
	if (sim->o.max_rate > 0) {
		uint64_t sec = now_ms() / 1000;
		if (sec != sim->rate_sec) {
			sim->rate_sec = sec;
			sim->rate_n = 0;
		}
		if (++sim->rate_n > sim->o.max_rate) {
			sim->throttled++;
			if (sim->rate_n == sim->o.max_rate + 1) {
				sim_log(sim, "event=submit.throttled "
				    "max_rate=%ld total=%llu held_back=%llu",
				    sim->o.max_rate,
				    (unsigned long long)sim->throttled,
				    (unsigned long long)(sim->throttled -
				    sim->throttled_logged - 1));
				sim->throttled_logged = sim->throttled;
			}
			answer_submit(sim, c, h->seq, ST_THROTTLED, 0);
			return;
		}
	}
	if (sim->o.fail_every > 0 &&
	    sim->submits % (uint64_t)sim->o.fail_every == 0)
		status = sim->o.fail_status ? sim->o.fail_status :
		    ST_THROTTLED;
	else if (sim->o.refuse_prefix != NULL &&
	    strncmp(sm.destination, sim->o.refuse_prefix,
	    strlen(sim->o.refuse_prefix)) == 0)
		status = ST_INVDSTADR;
	if (status != ST_OK) {
		sim_log(sim, "event=submit.refused conn=%llu seq=%u to=%s "
		    "status=0x%08X", (unsigned long long)c->id, h->seq,
		    mask(sm.destination, masked, sizeof(masked)), status);
		answer_submit(sim, c, h->seq, status, 0);
		return;
	}
	msgid = sim->next_msgid++;
	format_msgid(msgid, sim->o.id_hex, id, sizeof(id));
	hold_begin(sim, &sm, msgid);
	sm_text(&sm, &body, &len);
	if (smpp_text_decode(sm.data_coding, sim->o.latin1, body, len,
	    sim->text, TEXT_MAX) < 0)
		tp = NULL; /* JSON null: not text we can read */
	if (sim->handset != NULL && udh_concat(&sm, &u) == 0) {
		/* One line for the whole message, when its last part is in. */
		snprintf(part, sizeof(part), " part=%u/%u", (unsigned)u.seq,
		    (unsigned)u.total);
		r = concat_add(sim, &sm, &u, tp, &joined);
		if (r == 1) {
			handset_write(sim, &sm, joined, id, u.total);
			free(joined);
		} else if (r == -1) {
			sim_log(sim, "event=concat.unheld message_id=%s", id);
		}
	} else {
		handset_write(sim, &sm, tp, id, 0);
	}
	sim_log(sim, "event=submit conn=%llu seq=%u to=%s data_coding=%u "
	    "octets=%zu message_id=%s%s", (unsigned long long)c->id, h->seq,
	    mask(sm.destination, masked, sizeof(masked)), sm.data_coding,
	    len, id, part);
	answer_submit(sim, c, h->seq, ST_OK, msgid);
	queue_receipt(sim, c, &sm, tp, msgid);
	hold_end(sim);
}

/* ---- hostile floods ---- */

/* Write one PDU of c's flood kind into out. */
static void
flood_pdu(struct conn *c, struct evbuffer *out)
{
	struct sim *sim = c->sim;
	uint8_t b[512];
	char id[24], body[200];
	int n = SMPP_HEADER_LEN, len;

	if (++c->seq > 0x7FFFFFF0u)
		c->seq = 1;
	switch (c->flood_kind) {
	case FLOOD_ENQUIRE:
		smpp_pdu_header_encode(b, SMPP_ENQUIRE_LINK, 0, c->seq);
		break;
	case FLOOD_NACK:
		smpp_pdu_header_encode(b, SMPP_GENERIC_NACK, 0x00000008u,
		    0x40000000u + (uint32_t)(c->flood_sent & 0xFFFFFFF));
		break;
	case FLOOD_RESP:
		n = smpp_pdu_pack_resp(b, sizeof(b), SMPP_SUBMIT_SM | SMPP_RESP,
		    ST_OK, 0x50000000u + (uint32_t)(c->flood_sent & 0xFFFFFFF),
		    "FLOOD");
		break;
	case FLOOD_UNKNOWN:
		smpp_pdu_header_encode(b, 0x00000099u, 0, c->seq);
		break;
	case FLOOD_RECEIPT:
		format_msgid(FLOOD_MSGID + sim->unmatched_next++, 0, id,
		    sizeof(id));
		len = snprintf(body, sizeof(body), "id:%s sub:001 dlvrd:001 "
		    "submit date:2601010000 done date:2601010000 stat:DELIVRD "
		    "err:000 text:flood", id);
		n = smpp_pdu_pack_deliver(b, sizeof(b), c->seq, "14155550000",
		    "FLOOD", 0x04, 0x00, (const uint8_t *)body, (size_t)len,
		    id, SMPP_MSG_DELIVERED);
		break;
	case FLOOD_KINDS:
		return;
	}
	if (n > 0)
		evbuffer_add(out, b, (size_t)n);
}

/* Top c's flood up while its output is low; the marker enquire_link
 * follows the last PDU. */
static void
flood_refill(struct conn *c)
{
	struct sim *sim = c->sim;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t h[SMPP_HEADER_LEN];
	int n = 0;

	while (c->flood_kind < FLOOD_KINDS && n < FLOOD_BATCH &&
	    evbuffer_get_length(out) < FLOOD_LOW) {
		if (c->flood_left == 0) {
			c->flood_kind++;
			if (c->flood_kind < FLOOD_KINDS)
				c->flood_left = sim->o.flood[c->flood_kind];
			continue;
		}
		flood_pdu(c, out);
		c->flood_left--;
		c->flood_sent++;
		n++;
	}
	if (c->flood_kind == FLOOD_KINDS && c->flooding) {
		c->flooding = 0;
		c->flood_mark = FLOOD_MARK;
		smpp_pdu_header_encode(h, SMPP_ENQUIRE_LINK, 0, FLOOD_MARK);
		evbuffer_add(out, h, sizeof(h));
		sim_log(sim, "event=flood.sent conn=%llu pdus=%ld",
		    (unsigned long long)c->id, c->flood_sent);
	}
}

/* Start c's flood (its bind_resp is written). */
static void
flood_start(struct conn *c)
{
	struct sim *sim = c->sim;

	c->flood_start = 0;
	c->flooding = 1;
	c->flood_kind = FLOOD_ENQUIRE;
	c->flood_left = sim->o.flood[FLOOD_ENQUIRE];
	c->flood_sent = 0;
	if (c->flood_left > 0) {
		/* The daemon's answers must pile up on its side. */
		c->deaf = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
	sim_log(sim, "event=flood.start conn=%llu", (unsigned long long)c->id);
	bufferevent_setwatermark(c->bev, EV_WRITE, FLOOD_LOW, 0);
	flood_refill(c);
}

/* ---- the read path ---- */

/* Handle one framed PDU in sim->pdu.  Returns -1 when the connection must
 * stop reading. */
static int
on_pdu(struct conn *c, const struct smpp_header *h)
{
	switch (h->id) {
	case SMPP_CMD_BIND_RECEIVER:
	case SMPP_CMD_BIND_TRANSMITTER:
	case SMPP_CMD_BIND_TRANSCEIVER:
		on_bind(c, h);
		break;
	case SMPP_SUBMIT_SM:
		on_submit(c, h);
		break;
	case SMPP_CANCEL_SM:
		on_cancel(c, h);
		break;
	case SMPP_ENQUIRE_LINK:
		reply_header(c, SMPP_ENQUIRE_LINK | SMPP_RESP, ST_OK, h->seq);
		break;
	case SMPP_UNBIND:
		sim_log(c->sim, "event=unbind conn=%llu",
		    (unsigned long long)c->id);
		reply_header(c, SMPP_UNBIND | SMPP_RESP, ST_OK, h->seq);
		conn_close_after_flush(c);
		break;
	case SMPP_ENQUIRE_LINK | SMPP_RESP:
		if (c->flood_mark != 0 && h->seq == c->flood_mark) {
			c->flood_mark = 0;
			sim_log(c->sim, "event=flood.read conn=%llu",
			    (unsigned long long)c->id);
		}
		break;
	case SMPP_DELIVER_SM | SMPP_RESP:
		sim_log(c->sim, "event=deliver_sm_resp conn=%llu seq=%u "
		    "status=%u", (unsigned long long)c->id, h->seq, h->status);
		break;
	default:
		if (h->id & SMPP_RESP)
			break; /* nacks */
		sim_log(c->sim, "event=generic_nack conn=%llu "
		    "command_id=0x%08X", (unsigned long long)c->id, h->id);
		reply_header(c, SMPP_GENERIC_NACK, ST_INVCMDID, h->seq);
		break;
	}
	return c->state == CONN_CLOSING || c->state == CONN_DEAD ? -1 : 0;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct sim *sim = c->sim;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct smpp_header h;
	enum smpp_frame_result r;

	while (c->state == CONN_OPEN || c->state == CONN_BOUND) {
		r = smpp_pdu_frame(in, sim->pdu, &h);
		if (r == SMPP_FRAME_MORE)
			break;
		if (r == SMPP_FRAME_BAD_LENGTH) {
			sim_log(sim, "event=bad_length conn=%llu length=%u",
			    (unsigned long long)c->id, h.length);
			reply_header(c, SMPP_GENERIC_NACK, ST_INVCMDLEN,
			    h.seq);
			conn_close_after_flush(c);
			break;
		}
		if (on_pdu(c, &h) == -1)
			break;
	}
	/* Handset lines reach the file before the responses leave. */
	if (sim->handset_dirty) {
		fflush(sim->handset);
		sim->handset_dirty = 0;
	}
	if (evbuffer_get_length(c->pending) > 0)
		bufferevent_write_buffer(bev, c->pending);
	if (c->flood_start && c->state == CONN_BOUND)
		flood_start(c);
	if (c->state == CONN_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_kill(c);
	else if (evbuffer_get_length(bufferevent_get_output(bev)) >
	    OUT_HIGH_WATER || c->deaf)
		bufferevent_disable(bev, EV_READ); /* resumes in write_cb */
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	/* Called when the output has drained (to FLOOD_LOW while a flood
	 * goes out). */
	if (c->state == CONN_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_kill(c);
	} else if (c->state == CONN_OPEN || c->state == CONN_BOUND) {
		if (c->flooding)
			flood_refill(c);
		if (!c->deaf)
			bufferevent_enable(bev, EV_READ);
	}
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		sim_log(c->sim, "event=disconnect conn=%llu reason=%s",
		    (unsigned long long)c->id,
		    what & BEV_EVENT_EOF ? "eof" : "error");
		conn_kill(c);
	}
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct sim *sim = arg;
	struct conn *c;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->sim = sim;
	c->id = ++sim->next_conn_id;
	c->state = CONN_OPEN;
	c->peer_port = sa->sa_family == AF_INET ?
	    ntohs(((struct sockaddr_in *)sa)->sin_port) : 0;
	c->bev = bufferevent_socket_new(sim->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->pending = evbuffer_new();
	if (c->bev == NULL || c->pending == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->pending != NULL)
			evbuffer_free(c->pending);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&sim->conns, c, entry);
	sim_log(sim, "event=connect conn=%llu peer_port=%d",
	    (unsigned long long)c->id, c->peer_port);
}

/* ---- delayed responses and receipts ---- */

static void
resp_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	uint64_t now = now_ms();
	struct job *j;
	uint8_t out[128];
	char id[24];
	int n;

	while ((j = fifo_pop_due(&sim->resps, now)) != NULL) {
		struct conn *c = conn_find(sim, j->conn_id);
		uint32_t status = j->status;
		if (c != NULL && c->state == CONN_BOUND) {
			id[0] = '\0';
			if (status == ST_OK)
				format_msgid(j->msgid, sim->o.id_hex, id,
				    sizeof(id));
			n = smpp_pdu_pack_resp(out, sizeof(out),
			    SMPP_SUBMIT_SM | SMPP_RESP, status, j->seq, id);
			conn_send(c, out, n);
		}
		job_put(sim, j);
	}
	fifo_arm(&sim->resps);
}

/* A bind that may receive j's receipt: j's own connection first, then
 * any receiving bind of the same account. */
static struct conn *
receipt_target(struct sim *sim, const struct job *j)
{
	struct conn *c = conn_find(sim, j->conn_id);

	if (c != NULL && c->state == CONN_BOUND &&
	    c->bind_type != SMPP_BIND_TRANSMITTER)
		return c;
	TAILQ_FOREACH(c, &sim->conns, entry) {
		if (c->state == CONN_BOUND &&
		    c->bind_type != SMPP_BIND_TRANSMITTER &&
		    strcmp(c->system_id, j->system_id) == 0)
			return c;
	}
	return NULL;
}

static void
send_receipt(struct sim *sim, struct conn *c, const struct job *j)
{
	char id[24], body[256], sub[16], done[16];
	uint8_t out[512];
	time_t now = time(NULL);
	struct tm tm;
	int n, len;

	format_msgid(j->msgid, sim->o.dlr_id_hex, id, sizeof(id));
	gmtime_r(&j->submitted, &tm);
	strftime(sub, sizeof(sub), "%y%m%d%H%M", &tm);
	gmtime_r(&now, &tm);
	strftime(done, sizeof(done), "%y%m%d%H%M", &tm);
	len = snprintf(body, sizeof(body), "id:%s sub:001 dlvrd:%s "
	    "submit date:%s done date:%s stat:%s err:%s text:%s", id,
	    j->delivered ? "001" : "000", sub, done,
	    j->delivered ? "DELIVRD" : "UNDELIV",
	    j->delivered ? "000" : "001", j->text20);
	if (len < 0 || (size_t)len >= sizeof(body))
		return;
	if (++c->seq > 0x7FFFFFFF)
		c->seq = 1;
	n = smpp_pdu_pack_deliver(out, sizeof(out), c->seq, j->source,
	    j->destination, 0x04, 0x00, (const uint8_t *)body, (size_t)len,
	    sim->o.dlr_tlv ? id : NULL,
	    j->delivered ? SMPP_MSG_DELIVERED : SMPP_MSG_UNDELIVERABLE);
	if (n < 0) {
		sim_log(sim, "event=receipt.unpackable message_id=%s", id);
		return;
	}
	conn_send(c, out, n);
	sim_log(sim, "event=receipt conn=%llu message_id=%s stat=%s",
	    (unsigned long long)c->id, id,
	    j->delivered ? "DELIVRD" : "UNDELIV");
}

static void
dlr_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	uint64_t now = now_ms();
	struct job *j, *retry = NULL, **tail = &retry;

	while ((j = fifo_pop_due(&sim->dlrs, now)) != NULL) {
		struct conn *c = receipt_target(sim, j);
		if (c != NULL) {
			send_receipt(sim, c, j);
			job_put(sim, j);
		} else if (++j->tries >= DLR_MAX_TRIES) {
			sim_log(sim, "event=receipt.dropped system_id=%s",
			    j->system_id);
			job_put(sim, j);
		} else {
			*tail = j;
			tail = &j->next;
		}
	}
	/* Requeue after the loop so a retry is not popped again at once;
	 * now + max(delay, retry) is later than any queued due time. */
	while ((j = retry) != NULL) {
		retry = j->next;
		j->due_ms = now + (uint64_t)(sim->o.dlr_delay_ms > DLR_RETRY_MS ?
		    sim->o.dlr_delay_ms : DLR_RETRY_MS);
		fifo_push(&sim->dlrs, j);
	}
	fifo_arm(&sim->dlrs);
}

/* ---- setup and teardown ---- */

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim *sim = arg;

	sim_log(sim, "event=signal signal=%d", (int)sig);
	event_base_loopbreak(sim->base);
}

/* SIGUSR1: send the responses --hold-resp held (in order: one delayed by
 * --resp-delay-ms ahead of them still waits its time) and hold no more. */
static void
release_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim *sim = arg;
	uint64_t now = now_ms();
	int n = 0, was_holding = sim->holding;

	for (struct job *j = sim->resps.head; j != NULL; j = j->next)
		if (j->due_ms == HELD) {
			j->due_ms = now;
			n++;
		}
	sim->holding = 0;
	sim_log(sim, "event=hold.released responses=%d", n);
	fifo_arm(&sim->resps);
	/* With --hold-resp too, the first SIGUSR1 is the responses'. */
	if (sim->o.deliver_delay_ms > 0 && !was_holding)
		held_release(sim);
}

static int
sim_listen(struct sim *sim)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)sim->o.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sim->listener = evconnlistener_new_bind(sim->base, accept_cb, sim,
	    LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
	    -1, (struct sockaddr *)&sa, sizeof(sa));
	if (sim->listener == NULL) {
		fprintf(stderr, "smsc_sim: listen 127.0.0.1:%d: %s\n",
		    sim->o.port, strerror(errno));
		return -1;
	}
	if (getsockname(evconnlistener_get_fd(sim->listener),
	    (struct sockaddr *)&sa, &len) != 0)
		return -1;
	if (sim->o.portfile != NULL &&
	    peer_write_portfile(sim->o.portfile, ntohs(sa.sin_port)) == -1) {
		fprintf(stderr, "smsc_sim: %s: %s\n", sim->o.portfile,
		    strerror(errno));
		return -1;
	}
	fprintf(stderr, "smsc_sim listening port=%d\n", ntohs(sa.sin_port));
	return 0;
}

static int
sim_init(struct sim *sim)
{
	TAILQ_INIT(&sim->conns);
	TAILQ_INIT(&sim->dead);
	TAILQ_INIT(&sim->concat_age);
	TAILQ_INIT(&sim->held_age);
	sim->next_msgid = MSGID_FIRST;
	if ((sim->pdu = malloc(SMPP_MAX_PDU + 1)) == NULL ||
	    (sim->text = malloc(TEXT_MAX)) == NULL ||
	    (sim->concat_hash = calloc(CONCAT_BUCKETS,
	    sizeof(*sim->concat_hash))) == NULL)
		return -1;
	if ((sim->base = event_base_new()) == NULL)
		return -1;
	sim->sigint = evsignal_new(sim->base, SIGINT, signal_cb, sim);
	sim->sigterm = evsignal_new(sim->base, SIGTERM, signal_cb, sim);
	sim->sigusr1 = evsignal_new(sim->base, SIGUSR1, release_cb, sim);
	sim->sigusr2 = evsignal_new(sim->base, SIGUSR2, mo_cb, sim);
	sim->holding = sim->o.hold_resp;
	sim->reaper = event_new(sim->base, -1, 0, reap_cb, sim);
	sim->resps.timer = evtimer_new(sim->base, resp_timer_cb, sim);
	sim->dlrs.timer = evtimer_new(sim->base, dlr_timer_cb, sim);
	sim->concat_timer = evtimer_new(sim->base, concat_timer_cb, sim);
	sim->held_timer = evtimer_new(sim->base, held_timer_cb, sim);
	sim->held_hash = calloc(HOLD_BUCKETS, sizeof(*sim->held_hash));
	if (sim->held_timer == NULL || sim->held_hash == NULL)
		return -1;
	if (sim->sigint == NULL || sim->sigterm == NULL ||
	    sim->sigusr1 == NULL || sim->sigusr2 == NULL ||
	    sim->reaper == NULL || sim->resps.timer == NULL ||
	    sim->dlrs.timer == NULL || sim->concat_timer == NULL)
		return -1;
	evsignal_add(sim->sigint, NULL);
	evsignal_add(sim->sigterm, NULL);
	evsignal_add(sim->sigusr1, NULL);
	evsignal_add(sim->sigusr2, NULL);
	if (sim->o.handset != NULL) {
		sim->handset = fopen(sim->o.handset, "a");
		if (sim->handset == NULL) {
			fprintf(stderr, "smsc_sim: %s: %s\n", sim->o.handset,
			    strerror(errno));
			return -1;
		}
		setvbuf(sim->handset, NULL, _IOFBF, 1 << 16);
	}
	return sim_listen(sim);
}

static void
sim_free(struct sim *sim)
{
	struct conn *c;
	struct job *j;

	if (sim->listener != NULL)
		evconnlistener_free(sim->listener);
	while ((c = TAILQ_FIRST(&sim->conns)) != NULL) {
		TAILQ_REMOVE(&sim->conns, c, entry);
		conn_free(c);
	}
	while ((c = TAILQ_FIRST(&sim->dead)) != NULL) {
		TAILQ_REMOVE(&sim->dead, c, entry);
		conn_free(c);
	}
	/* Held messages die undelivered with the simulator (their receipt
	 * jobs go back to the pool, freed below). */
	while (sim->held_hash != NULL && !TAILQ_EMPTY(&sim->held_age))
		held_free(sim, TAILQ_FIRST(&sim->held_age));
	free(sim->held_hash);
	if (sim->held_timer != NULL)
		event_free(sim->held_timer);
	fifo_free(&sim->resps);
	fifo_free(&sim->dlrs);
	/* Incomplete concatenated messages die with the simulator. */
	while (sim->concat_hash != NULL &&
	    !TAILQ_EMPTY(&sim->concat_age))
		concat_free(sim, TAILQ_FIRST(&sim->concat_age));
	free(sim->concat_hash);
	if (sim->concat_timer != NULL)
		event_free(sim->concat_timer);
	while ((j = sim->free_jobs) != NULL) {
		sim->free_jobs = j->next;
		free(j);
	}
	if (sim->sigint != NULL)
		event_free(sim->sigint);
	if (sim->sigterm != NULL)
		event_free(sim->sigterm);
	if (sim->sigusr1 != NULL)
		event_free(sim->sigusr1);
	if (sim->sigusr2 != NULL)
		event_free(sim->sigusr2);
	if (sim->reaper != NULL)
		event_free(sim->reaper);
	if (sim->base != NULL)
		event_base_free(sim->base);
	if (sim->handset != NULL)
		fclose(sim->handset);
	free(sim->pdu);
	free(sim->text);
}

int
main(int argc, char **argv)
{
	struct sim sim;
	int rc = 0;

	memset(&sim, 0, sizeof(sim));
	parse_args(argc, argv, &sim.o);
	/* A client that vanishes mid-write must not kill the simulator. */
	signal(SIGPIPE, SIG_IGN);
	if (sim_init(&sim) == -1)
		rc = 1;
	else if (event_base_dispatch(sim.base) == -1)
		rc = 1;
	fprintf(stderr, "smsc_sim stats submits_ok=%llu first_bind=%.6f "
	    "last_ok=%.6f\n", (unsigned long long)sim.submits_ok,
	    sim.first_bind, sim.last_ok);
	sim_free(&sim);
	return rc;
}
