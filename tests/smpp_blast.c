/*
 * smpp_blast.c - a bare pipelining SMPP client: the SMPP ceiling for
 * scripts/bench.
 *
 *   smpp_blast -h 127.0.0.1 -p PORT -u SYSTEM_ID -w PASSWORD
 *       [-n TOTAL (200000)] [-W WINDOW (100)] [-t SECONDS (10)]
 *       [-c CONNECTIONS (1)]
 *
 * Each connection binds as a transceiver, then keeps WINDOW submit_sm
 * outstanding (a 40-character GSM text to +1415555xxxx) until TOTAL
 * submit_sm_resp have come back over all connections, or SECONDS have
 * passed (a hard cap that includes connecting).  It answers deliver_sm,
 * data_sm, enquire_link and unbind so a simulator that sends receipts is
 * not held up.  There is no session layer, no per-request timer and no
 * retry: the point is to measure the SMSC side, so the client does as
 * little as it can.  The submit_sm is packed once with smpp_pdu.c; each
 * send copies it and patches the sequence number and the last four digits.
 *
 * It prints one line on stdout:
 *
 *   submits=N seconds=S rate=R/s errors=E
 *
 * N counts submit_sm_resp with command_status 0, S runs from the first
 * successful bind to the last response (or the cap), R = N / S, and E
 * counts everything else: error statuses, generic_nacks, refused binds
 * and connections lost before the end.  The exit status is 0 when E is 0
 * and N > 0.  Only 127.0.0.1 (or "localhost") is accepted as the host:
 * this is a load generator for the local simulator, not for a real SMSC.
 */
#define _GNU_SOURCE	/* memmem */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "smpp.h"
#include "smpp_pdu.h"

#define MAX_CONNS  64
#define MAX_WINDOW 10000
#define MAX_TOTAL  100000000L
#define MAX_SECS   3600

/* 40 GSM characters, all mapping to themselves in GSM 03.38. */
static const char TEXT[] = "Your ACME verification code is 12345678.";
_Static_assert(sizeof(TEXT) - 1 == 40, "the text is 40 characters");

enum conn_state { C_CONNECTING = 0, C_BINDING, C_BOUND, C_CLOSED };

struct blast;

struct conn {
	struct blast *b;
	int idx;
	enum conn_state state;
	struct bufferevent *bev;
	uint32_t next_seq;
	int outstanding;
};

struct blast {
	struct event_base *base;
	const char *system_id, *password;
	long total;		/* responses to wait for */
	int window, nconns, secs;
	long issued;		/* submit_sm written, all connections */
	long responses;		/* submit_sm_resp received */
	long ok, errors;
	int alive;		/* connections not closed */
	int64_t t_first_bind, t_end;
	struct event *cap_timer;
	uint8_t tmpl[512];	/* the packed submit_sm */
	int tmpl_len;
	size_t dest_off;	/* offset of the last four digits */
	uint8_t rbuf[SMPP_MAX_PDU + 1];
	struct conn conns[MAX_CONNS];
};

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
finish(struct blast *b)
{
	if (b->t_end == 0)
		b->t_end = mono_us();
	event_base_loopbreak(b->base);
}

static void
conn_close(struct conn *c, int is_error)
{
	struct blast *b = c->b;

	if (c->state == C_CLOSED)
		return;
	if (is_error && b->responses < b->total) {
		/* Requests in flight are lost with the connection. */
		b->errors += 1 + c->outstanding;
		fprintf(stderr, "smpp_blast: connection %d lost (%s)\n",
		    c->idx, c->state == C_CONNECTING ? "connect failed" :
		    c->state == C_BINDING ? "while binding" : "while bound");
	}
	c->state = C_CLOSED;
	c->outstanding = 0;
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (--b->alive == 0)
		finish(b);
}

static uint32_t
take_seq(struct conn *c)
{
	uint32_t s = c->next_seq;

	c->next_seq = c->next_seq >= 0x7FFFFFFFu ? 1 : c->next_seq + 1;
	return s;
}

/* Fill the connection's window from the shared budget. */
static void
fill_window(struct conn *c)
{
	struct blast *b = c->b;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t pdu[512];
	uint32_t seq;
	unsigned n;

	while (c->state == C_BOUND && c->outstanding < b->window &&
	    b->issued < b->total) {
		memcpy(pdu, b->tmpl, (size_t)b->tmpl_len);
		seq = take_seq(c);
		pdu[12] = (uint8_t)(seq >> 24);
		pdu[13] = (uint8_t)(seq >> 16);
		pdu[14] = (uint8_t)(seq >> 8);
		pdu[15] = (uint8_t)seq;
		n = (unsigned)(b->issued % 10000);
		pdu[b->dest_off] = (uint8_t)('0' + n / 1000);
		pdu[b->dest_off + 1] = (uint8_t)('0' + n / 100 % 10);
		pdu[b->dest_off + 2] = (uint8_t)('0' + n / 10 % 10);
		pdu[b->dest_off + 3] = (uint8_t)('0' + n % 10);
		if (evbuffer_add(out, pdu, (size_t)b->tmpl_len) < 0) {
			conn_close(c, 1);
			return;
		}
		c->outstanding++;
		b->issued++;
	}
}

static void
send_header(struct conn *c, uint32_t id, uint32_t status, uint32_t seq)
{
	uint8_t h[SMPP_HEADER_LEN];

	smpp_pdu_header_encode(h, id, status, seq);
	bufferevent_write(c->bev, h, sizeof(h));
}

/* One submit answered: by a submit_sm_resp (ok when its status is 0) or
 * by a generic_nack (never ok). */
static void
on_submit_resp(struct conn *c, const struct smpp_header *h, int ok)
{
	struct blast *b = c->b;

	if (c->outstanding <= 0)
		return;		/* not ours: ignore */
	c->outstanding--;
	b->responses++;
	if (ok)
		b->ok++;
	else
		b->errors++;
	if (b->responses >= b->total)
		finish(b);
}

static void
on_pdu(struct conn *c, const struct smpp_header *h)
{
	struct blast *b = c->b;
	uint8_t out[64];
	int n;

	switch (h->id) {
	case SMPP_CMD_BIND_TRANSCEIVER | SMPP_RESP:
		if (c->state != C_BINDING)
			return;
		if (h->status != 0) {
			fprintf(stderr, "smpp_blast: bind refused: %s\n",
			    smpp_strstatus(h->status));
			conn_close(c, 1);
			return;
		}
		c->state = C_BOUND;
		if (b->t_first_bind == 0)
			b->t_first_bind = mono_us();
		fill_window(c);
		return;
	case SMPP_SUBMIT_SM | SMPP_RESP:
		on_submit_resp(c, h, h->status == 0);
		return;
	case SMPP_GENERIC_NACK:
		on_submit_resp(c, h, 0);
		return;
	case SMPP_DELIVER_SM:
	case SMPP_DATA_SM:
		n = smpp_pdu_pack_resp(out, sizeof(out), h->id | SMPP_RESP, 0,
		    h->seq, "");
		if (n > 0)
			bufferevent_write(c->bev, out, (size_t)n);
		return;
	case SMPP_ENQUIRE_LINK:
		send_header(c, SMPP_ENQUIRE_LINK | SMPP_RESP, 0, h->seq);
		return;
	case SMPP_UNBIND:
		send_header(c, SMPP_UNBIND | SMPP_RESP, 0, h->seq);
		conn_close(c, 1);
		return;
	}
	if (!(h->id & SMPP_RESP))
		send_header(c, SMPP_GENERIC_NACK, 0x03 /* ESME_RINVCMDID */,
		    h->seq);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct blast *b = c->b;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct smpp_header h;
	enum smpp_frame_result r;

	while (c->state != C_CLOSED && b->t_end == 0) {
		r = smpp_pdu_frame(in, b->rbuf, &h);
		if (r == SMPP_FRAME_MORE)
			break;
		if (r == SMPP_FRAME_BAD_LENGTH) {
			fprintf(stderr, "smpp_blast: bad command_length %u\n",
			    h.length);
			conn_close(c, 1);
			return;
		}
		on_pdu(c, &h);
	}
	/* Refill once per read: one write for many responses. */
	if (c->state == C_BOUND && b->t_end == 0)
		fill_window(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct blast *b = c->b;
	uint8_t pdu[128];
	int one = 1, n;

	if (what & BEV_EVENT_CONNECTED) {
		setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
		    &one, sizeof(one));
		n = smpp_pdu_pack_bind(pdu, sizeof(pdu), SMPP_BIND_TRANSCEIVER,
		    take_seq(c), b->system_id, b->password, "");
		if (n < 0) {
			fprintf(stderr, "smpp_blast: cannot pack the bind "
			    "(system_id <= 15, password <= 8 characters)\n");
			conn_close(c, 1);
			return;
		}
		c->state = C_BINDING;
		bufferevent_write(bev, pdu, (size_t)n);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_close(c, 1);
}

static void
on_cap(evutil_socket_t fd, short what, void *arg)
{
	struct blast *b = arg;

	fprintf(stderr, "smpp_blast: time cap reached\n");
	finish(b);
}

/* Pack the submit_sm once and find where the destination's last four
 * digits sit in it. */
static int
build_template(struct blast *b)
{
	static const char dest[] = "14155550000";
	struct smpp_message m;
	uint8_t *p;

	memset(&m, 0, sizeof(m));
	m.source = "ACME";
	m.source_ton = 5;
	m.source_npi = 0;
	m.destination = dest;
	m.data_coding = 0;
	m.body = (const uint8_t *)TEXT;
	m.body_len = sizeof(TEXT) - 1;
	m.validity_period = "";
	m.registered_delivery = 1;
	b->tmpl_len = smpp_pdu_pack_submit(b->tmpl, sizeof(b->tmpl), 1, &m);
	if (b->tmpl_len < SMPP_HEADER_LEN)
		return -1;
	p = memmem(b->tmpl + SMPP_HEADER_LEN,
	    (size_t)b->tmpl_len - SMPP_HEADER_LEN, dest, sizeof(dest));
	if (p == NULL)
		return -1;
	b->dest_off = (size_t)(p - b->tmpl) + sizeof(dest) - 1 - 4;
	return 0;
}

static long
num_arg(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != 0 || v < lo || v > hi) {
		fprintf(stderr, "smpp_blast: %s must be %ld..%ld\n", what, lo,
		    hi);
		exit(2);
	}
	return v;
}

static void
usage(void)
{
	fprintf(stderr, "usage: smpp_blast -h 127.0.0.1 -p PORT -u SYSTEM_ID "
	    "-w PASSWORD [-n TOTAL] [-W WINDOW] [-t SECONDS] "
	    "[-c CONNECTIONS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct blast bl;
	struct blast *b = &bl;
	struct sockaddr_in sin;
	struct timeval tv;
	const char *host = NULL;
	double secs;
	int port = 0, ch, i;

	b->total = 200000;
	b->window = 100;
	b->secs = 10;
	b->nconns = 1;
	while ((ch = getopt(argc, argv, "h:p:u:w:n:W:t:c:")) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': port = (int)num_arg(optarg, 1, 65535, "-p"); break;
		case 'u': b->system_id = optarg; break;
		case 'w': b->password = optarg; break;
		case 'n': b->total = num_arg(optarg, 1, MAX_TOTAL, "-n"); break;
		case 'W':
			b->window = (int)num_arg(optarg, 1, MAX_WINDOW, "-W");
			break;
		case 't': b->secs = (int)num_arg(optarg, 1, MAX_SECS, "-t");
			break;
		case 'c':
			b->nconns = (int)num_arg(optarg, 1, MAX_CONNS, "-c");
			break;
		default: usage();
		}
	}
	if (host == NULL || port == 0 || b->system_id == NULL ||
	    b->password == NULL || optind != argc)
		usage();
	if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0) {
		fprintf(stderr, "smpp_blast: only 127.0.0.1 is allowed\n");
		return 2;
	}
	if (build_template(b) < 0) {
		fprintf(stderr, "smpp_blast: cannot pack the submit_sm\n");
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);

	b->base = event_base_new();
	b->cap_timer = evtimer_new(b->base, on_cap, b);
	if (b->base == NULL || b->cap_timer == NULL)
		return 1;
	tv.tv_sec = b->secs;
	tv.tv_usec = 0;
	evtimer_add(b->cap_timer, &tv);
	for (i = 0; i < b->nconns; i++) {
		struct conn *c = &b->conns[i];

		c->b = b;
		c->idx = i;
		c->next_seq = 1;
		c->state = C_CONNECTING;
		c->bev = bufferevent_socket_new(b->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			return 1;
		b->alive++;
		bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		if (bufferevent_socket_connect(c->bev,
		    (struct sockaddr *)&sin, sizeof(sin)) < 0)
			conn_close(c, 1);
	}
	if (b->alive > 0)
		event_base_dispatch(b->base);
	if (b->t_end == 0)
		b->t_end = mono_us();

	secs = b->t_first_bind ? (double)(b->t_end - b->t_first_bind) / 1e6 :
	    0.0;
	printf("submits=%ld seconds=%.3f rate=%.0f/s errors=%ld\n", b->ok,
	    secs, secs > 0 ? (double)b->ok / secs : 0.0, b->errors);
	fflush(stdout);

	for (i = 0; i < b->nconns; i++)
		if (b->conns[i].bev != NULL)
			bufferevent_free(b->conns[i].bev);
	event_free(b->cap_timer);
	event_base_free(b->base);
	return b->errors == 0 && b->ok > 0 ? 0 : 1;
}
