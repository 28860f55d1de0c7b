/*
 * smsc_sim.h - the SMSC simulator's own parts (tests/smsc_sim*.c): its
 * options, connections, pooled jobs, held and concatenated messages, and
 * what one part calls in another.  Not an interface: smsc_sim.c's head
 * comment describes the program.
 */
#ifndef SMSC_SIM_H
#define SMSC_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "smpp.h"
#include "smpp_pdu.h"

/* command_status values the simulator answers with (SMPP 3.4 §5.1.3). */
#define ST_OK          0x00000000u
#define ST_INVCMDLEN   0x00000002u
#define ST_INVCMDID    0x00000003u
#define ST_INVBNDSTS   0x00000004u
#define ST_ALYBND      0x00000005u
#define ST_INVDSTADR   0x0000000Bu
#define ST_INVPASWD    0x0000000Eu
#define ST_INVSYSID    0x0000000Fu
#define ST_SUBMITFAIL  0x00000045u
#define ST_THROTTLED   0x00000058u
#define ST_CANCELFAIL  0x00000011u

#define MSGID_FIRST    1000000000ull /* ten decimal digits, hex has letters */
#define DLR_RETRY_MS   200           /* no receiving bind yet: wait this */
#define DLR_MAX_TRIES  300           /* ... this many times (one minute) */
#define OUT_HIGH_WATER (16u << 20)   /* stop reading a client that doesn't */
#define CONCAT_MAX     10000         /* incomplete concatenated messages */
#define CONCAT_BUCKETS 16384         /* their hash table; a power of 2 */
#define CONCAT_TIMEOUT_MS 60000      /* missing parts: give up after this */
#define FLOOD_LOW      65536         /* top a flood up below this output */
#define FLOOD_BATCH    4096          /* ... by at most this many PDUs */
#define FLOOD_MARK     0x7FFFFFF0u   /* the enquire_link after a flood */
#define FLOOD_MSGID    9000000000ull /* unmatched receipts' ids from here */
#define HOLD_MAX       10000         /* messages held by --deliver-delay-ms */
#define HOLD_BUCKETS   16384         /* their hash table; a power of 2 */
/* Decoded text: at most 3 UTF-8 octets per octet of input, plus the NUL. */
#define TEXT_MAX       (3 * SMPP_MAX_PDU + 1)

enum dlr_mode { DLR_NONE = 0, DLR_DELIVERED, DLR_UNDELIV };

/* The floods, in the order they go (--flood-*, --unmatched-receipts). */
enum flood_kind {
	FLOOD_ENQUIRE = 0, FLOOD_NACK, FLOOD_RESP, FLOOD_UNKNOWN,
	FLOOD_RECEIPT, FLOOD_KINDS
};

struct sim_opts {
	int port;
	const char *portfile;
	const char *system_id, *password; /* NULL: accept any */
	const char *handset;
	enum dlr_mode dlr;
	int dlr_delay_ms;
	int id_hex, dlr_id_hex, dlr_tlv;
	int latin1;
	long fail_every, drop_after;
	long max_rate;            /* --max-rate: submits per second, 0: any */
	uint32_t fail_status;     /* --fail-status, 0: ESME_RTHROTTLED */
	const char *refuse_prefix;
	int resp_delay_ms;
	int hold_resp;            /* --hold-resp: until SIGUSR1 */
	int concat_timeout_ms;
	int bind_then_close;
	const char *mo_file;      /* --mo: sent on SIGUSR2 */
	int deliver_delay_ms;     /* --deliver-delay-ms: hold, then deliver */
	int hold_max;             /* --hold-max, default HOLD_MAX */
	int refuse_cancel;        /* --refuse-cancel: ESME_RCANCELFAIL */
	int ignore_cancel;        /* --ignore-cancel: no cancel_sm_resp */
	long flood[FLOOD_KINDS];  /* PDUs per flood kind */
	int quiet;
};


/* A connection's life.  sim_strstate() names the states for logs. */
enum conn_state {
	CONN_OPEN = 0,  /* connected, not bound (also after a refused bind) */
	CONN_BOUND,     /* bind accepted */
	CONN_CLOSING,   /* last responses draining, then closed */
	CONN_DEAD,      /* waiting for the reaper */
};

struct sim;

struct conn {
	TAILQ_ENTRY(conn) entry;
	struct sim *sim;
	uint64_t id;
	enum conn_state state;
	struct bufferevent *bev;
	struct evbuffer *pending; /* responses of the current read batch */
	enum smpp_bind_type bind_type;
	char system_id[16];
	uint32_t seq;             /* our deliver_sm sequence numbers */
	int peer_port;
	/* The flood on this connection: kind flood_kind, flood_left more of
	 * it; flood_kind FLOOD_KINDS when it is all written. */
	int flooding, flood_start, deaf;
	enum flood_kind flood_kind;
	long flood_left, flood_sent;
	uint32_t flood_mark;      /* seq of the enquire_link after it */
};
TAILQ_HEAD(conn_list, conn);

/* A delayed submit_sm_resp or receipt.  Pooled: see job_get(). */
enum job_kind { JOB_RESP, JOB_DLR };
struct job {
	struct job *next;
	enum job_kind kind;
	uint64_t due_ms;
	uint64_t conn_id;
	uint64_t msgid;           /* the counter value */
	/* JOB_RESP */
	uint32_t seq, status;
	/* JOB_DLR */
	int delivered;
	int tries;
	time_t submitted;
	char system_id[16];
	char source[21];          /* the handset (submit's destination) */
	char destination[21];     /* the sender (submit's source) */
	char text20[21];          /* first 20 characters, ASCII-folded */
};

struct fifo {
	struct job *head, *tail;
	struct event *timer;
};

/* A concatenated message waiting for its parts.  In the hash table by
 * (source, destination, reference) and in the age list by arrival of its
 * first part (the timeout is constant, so the list is in due order). */
struct concat {
	LIST_ENTRY(concat) bucket;
	TAILQ_ENTRY(concat) age;
	uint64_t due_ms;
	uint32_t hash;
	char source[21];
	char destination[21];
	uint16_t ref;
	uint8_t ref16;            /* IEI 0x08 rather than 0x00 */
	uint8_t total, got;
	uint8_t unreadable;       /* some part did not decode: text null */
	char *text[];             /* total entries; NULL until that part came */
};
LIST_HEAD(concat_bucket, concat);
TAILQ_HEAD(concat_list, concat);

/* A message held by --deliver-delay-ms: in the hash table by message id
 * and in the age list by arrival (the delay is constant, so the list is in
 * due order).  What a cancel_sm must match is kept with it. */
struct held {
	LIST_ENTRY(held) bucket;
	TAILQ_ENTRY(held) age;
	uint64_t due_ms;
	uint64_t msgid;
	char *line;               /* its handset line; NULL: none (a part
	                             that did not complete its message) */
	size_t line_len;
	struct job *dlr;          /* its receipt, queued on delivery; NULL */
	char service_type[6];
	uint8_t source_ton, source_npi, dest_ton, dest_npi;
	char source[21], destination[21];
};
LIST_HEAD(held_bucket, held);
TAILQ_HEAD(held_list, held);

/* The concatenation element of a UDH. */
struct udh_concat {
	uint16_t ref;
	uint8_t ref16, total, seq;
};

struct sim {
	struct sim_opts o;
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *sigint, *sigterm, *sigusr1, *sigusr2, *reaper;
	int holding;              /* --hold-resp and no SIGUSR1 yet */
	struct conn_list conns, dead;
	uint64_t next_conn_id;
	uint64_t next_msgid;
	uint64_t submits;         /* every submit_sm seen, for the faults */
	uint64_t rate_sec;        /* --max-rate: the second being counted */
	long rate_n;              /* submits in it */
	uint64_t throttled, throttled_logged;
	uint64_t submits_ok;      /* submit_sm_resp sent with status 0 */
	uint64_t unmatched_next;  /* --unmatched-receipts: the next id */
	double first_bind, last_ok;   /* monotonic seconds, 0 until then */
	int dropped;              /* --drop-after done */
	FILE *handset;
	int handset_dirty;
	struct fifo resps, dlrs;
	struct job *free_jobs;
	uint8_t *pdu;             /* SMPP_MAX_PDU + 1, shared by all reads */
	char *text;               /* TEXT_MAX, the decoded text of one PDU */
	struct concat_bucket *concat_hash; /* CONCAT_BUCKETS */
	struct concat_list concat_age;
	int concat_count;
	struct event *concat_timer;
	struct held_bucket *held_hash; /* HOLD_BUCKETS, --deliver-delay-ms */
	struct held_list held_age;
	int held_count;
	struct event *held_timer;
	struct held *holding_now; /* the submit being held (on_submit) */
};

/* smsc_sim.c */
void conn_send(struct conn *c, const uint8_t *p, int len);
void fifo_push(struct fifo *q, struct job *j);
void format_msgid(uint64_t v, int hex, char *out, size_t size);
void handset_write(struct sim *sim, const struct smpp_sm *sm,
    const char *text, const char *message_id, int parts);
struct job *job_get(struct sim *sim);
void job_put(struct sim *sim, struct job *j);
const char *mask(const char *num, char *buf, size_t size);
uint64_t now_ms(void);
void on_submit(struct conn *c, const struct smpp_header *h);
void queue_receipt(struct sim *sim, struct conn *c, const struct smpp_sm *sm,
    const char *text, uint64_t msgid);
void reply_header(struct conn *c, uint32_t id, uint32_t status, uint32_t seq);
void reply_resp(struct conn *c, uint32_t id, uint32_t status, uint32_t seq,
    const char *message_id);
void sim_log(const struct sim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sm_octets(const struct smpp_sm *sm, const uint8_t **p, size_t *len);

/* smsc_sim_hold.c: concatenated and held messages, cancel_sm */
int concat_add(struct sim *sim, const struct smpp_sm *sm,
    const struct udh_concat *u, const char *text, char **joined);
void concat_free(struct sim *sim, struct concat *m);
void concat_timer_cb(evutil_socket_t fd, short what, void *arg);
void held_free(struct sim *sim, struct held *m);
void held_release(struct sim *sim);
void held_timer_cb(evutil_socket_t fd, short what, void *arg);
void hold_begin(struct sim *sim, const struct smpp_sm *sm, uint64_t msgid);
void hold_end(struct sim *sim);
int hold_line(struct sim *sim, const char *line, size_t n);
void on_cancel(struct conn *c, const struct smpp_header *h);
int udh_concat(const struct smpp_sm *sm, struct udh_concat *out);

/* smsc_sim_mo.c: inbound messages (--mo, SIGUSR2) */
void mo_cb(evutil_socket_t sig, short what, void *arg);

/* smsc_sim_args.c: the command line */
void parse_args(int argc, char **argv, struct sim_opts *o);

#endif
