/*
 * redis.c - one Redis connection on the loop (contract in redis.h).
 *
 * States: DOWN (waiting for the backoff timer), CONNECTING (the connect and
 * the AUTH/SELECT/PING handshake, under connect_timeout_ms) and UP.  Only
 * UP takes commands.
 *
 * Who answers a command: each command sent is a struct rcmd on r->inflight
 * (in send order, which is Redis's reply order) and hiredis's privdata.
 * hiredis calls reply_cb exactly once for every command it accepted: with
 * the reply, or with NULL when the context goes away (lost, dropped by us,
 * freed).  Before we drop a context ourselves we write into each rcmd the
 * error it is to get (ETIMEOUT for the one past its deadline, EDOWN for the
 * rest, ESHUTDOWN from redis_free); a NULL reply without one is a lost
 * connection (EDOWN).  Commands refused at once (EBUSY, EDOWN) go on
 * r->deferred and are answered from a zero-timeout event, never from inside
 * redis_command().
 *
 * Detaching: whenever a context stops being ours (we drop it, or hiredis
 * reports it lost), r->ac becomes NULL and ac->data NULL first; hiredis's
 * later callbacks for that context then see no owner and only answer their
 * own rcmd.  The state machine thus moves once per connection.
 *
 * hiredis 0.14 (Debian 12) has no timeouts in its async API: the connect
 * timer and the command timer here are libevent timers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "log.h"
#include "redis.h"
#include "smpp.h"
#include "util.h"

#define REDIS_PASSWORD_MAX 512
/* What one reply may hold (a hostile peer's "*2000000000" or a bulk of a
 * gigabyte would otherwise be allocated or buffered whole). */
#define REDIS_REPLY_MAX_OCTETS (64 * 1024 * 1024)
#define REDIS_REPLY_MAX_ELEMENTS (1024 * 1024)

enum redis_state { ST_DOWN = 0, ST_ASKING, ST_CONNECTING, ST_UP };

/* The guard's count for one connection (see guard_top). */
struct rguard {
	uint64_t expected;              /* commands hiredis took            */
	uint64_t replies;               /* top-level replies begun          */
	const char *hostile;            /* why the guard refused, or NULL   */
	size_t max;                     /* octets buffered or in one string */
	int pubsub;                     /* a subscription: see guard_push   */
};

struct rcmd {
	TAILQ_ENTRY(rcmd) link;
	struct redis *r;
	redis_cb *cb;
	void *arg;
	int64_t deadline;       /* util_mono_ms() past which it times out  */
	enum redis_err err;     /* set before a drop: what NULL reply means */
};
TAILQ_HEAD(rcmd_list, rcmd);

struct redis {
	struct event_base *base;
	struct redis_addr addr;
	char addr_str[128];             /* for logs                        */
	char *password_file;            /* NULL: no AUTH                   */
	char password[REDIS_PASSWORD_MAX + 1];
	int has_password;
	char *sent_password_file;       /* the sentinels': NULL, no AUTH   */
	char sent_password[REDIS_PASSWORD_MAX + 1];
	int has_sent_password;
	struct redis_config cfg;        /* addr, password_file not kept    */

	enum redis_state state;
	redisAsyncContext *ac;          /* NULL in DOWN                    */
	struct event *conn_timer;       /* DOWN: backoff; CONNECTING: timeout */
	struct event *cmd_timer;        /* the oldest command's deadline   */
	struct event *deferred_ev;
	struct rcmd_list inflight;
	struct rcmd_list deferred;
	int n_inflight, n_deferred;
	int backoff_cur;
	int started;                    /* a first attempt was made        */
	int64_t up_at;                  /* util_mono_ms() when UP; 0: not  */

	/* The guard on what the peer sends (see guard_top). */
	struct rguard g;                /* the connection, r->ac            */
	size_t reply_max;

	/* Sentinel: ASKING holds sac, a connection to sent[si]. */
	struct redis_addr sent[REDIS_SENTINELS_MAX];
	int n_sent;                     /* 0: no sentinel, addr is fixed    */
	int si;                         /* the sentinel asked (or to ask)   */
	int si_tried;                   /* asked in this round              */
	char master_name[REDIS_MASTER_NAME_MAX + 1];
	redisAsyncContext *sac;         /* NULL unless ASKING               */
	struct rguard sg;               /* sac's guard                      */
	int si_good;                    /* the sentinel that answered last  */
	redisAsyncContext *xac;         /* UP: SUBSCRIBE +switch-master     */
	struct rguard xg;

	struct redis_stats st;
	struct log_limit lim_up, lim_lost, lim_fail, lim_master;
	struct log_limit lim_sent[REDIS_SENTINELS_MAX];  /* one each */
};

/* Our libevent adapter (hiredis's, with a check before each read). */
struct radapter {
	redisAsyncContext *ac;
	struct redis *r;
	struct rguard *g;
	struct event *rev, *wev;
};

static void drop(struct redis *, const char *, int);
static const char *why_lost(const struct rguard *,
    const redisAsyncContext *, const char *);
static void ask_fail(struct redis *, const char *, int);
static void ask_start(struct redis *);
static void sub_start(struct redis *);
static void sub_stop(struct redis *, int);

const char *
redis_strerr(enum redis_err e)
{
	switch (e) {
	case REDIS_CMD_OK:
		return ("ok");
	case REDIS_CMD_DOWN:
		return ("down");
	case REDIS_CMD_TIMEOUT:
		return ("timeout");
	case REDIS_CMD_BUSY:
		return ("busy");
	case REDIS_CMD_SHUTDOWN:
		return ("shutdown");
	}
	return ("unknown");
}

static const char *
strstate(enum redis_state s)
{
	switch (s) {
	case ST_DOWN:
		return ("down");
	case ST_ASKING:
		return ("asking");
	case ST_CONNECTING:
		return ("connecting");
	case ST_UP:
		return ("up");
	}
	return ("unknown");
}

int
redis_password_read(const char *path, char *buf, size_t bufsize, char *err,
    size_t errsize)
{
	char tmp[REDIS_PASSWORD_MAX + 2];
	ssize_t n;
	size_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errsize, "redis password file %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	len = 0;
	while (len < sizeof(tmp)) {
		n = read(fd, tmp + len, sizeof(tmp) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errsize, "redis password file %s: %s",
			    path, strerror(errno));
			close(fd);
			explicit_bzero(tmp, sizeof(tmp));
			return (-1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	/* The first line, without "\n" or "\r\n". */
	{
		char *nl = memchr(tmp, '\n', len);

		if (nl != NULL)
			len = (size_t)(nl - tmp);
		else if (len > REDIS_PASSWORD_MAX)
			len = REDIS_PASSWORD_MAX + 1;
	}
	if (len > 0 && tmp[len - 1] == '\r')
		len--;
	if (len == 0 || len > REDIS_PASSWORD_MAX || len >= bufsize ||
	    memchr(tmp, '\0', len) != NULL) {
		snprintf(err, errsize, "redis password file %s: %s", path,
		    len == 0 ? "empty first line" :
		    memchr(tmp, '\0', len) != NULL ? "holds a NUL octet" :
		    "longer than 512 octets");
		explicit_bzero(tmp, sizeof(tmp));
		return (-1);
	}
	memcpy(buf, tmp, len);
	buf[len] = '\0';
	explicit_bzero(tmp, sizeof(tmp));
	return (0);
}

/* ---- answering commands ---------------------------------------------- */

static void
answer(struct redis *r, struct rcmd *c, enum redis_err err,
    const redisReply *reply)
{
	redis_cb *cb = c->cb;
	void *arg = c->arg;

	if (err != REDIS_CMD_OK)
		r->st.failures++;
	free(c);
	cb(arg, err, reply);
}

static void
deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;
	struct rcmd_list now;
	struct rcmd *c;

	/* Those refused so far; refusals made by these callbacks wait for
	 * the next turn. */
	TAILQ_INIT(&now);
	TAILQ_CONCAT(&now, &r->deferred, link);
	r->n_deferred = 0;
	while ((c = TAILQ_FIRST(&now)) != NULL) {
		TAILQ_REMOVE(&now, c, link);
		answer(r, c, c->err, NULL);
	}
}

/* An error reply that says the server is not a usable master. */
static int
not_master(const redisReply *rp)
{
	static const char *const no[] = { "READONLY ", "LOADING ",
	    "MASTERDOWN " };
	size_t i, n;

	if (rp->type != REDIS_REPLY_ERROR || rp->str == NULL)
		return (0);
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		n = strlen(no[i]);
		if (rp->len >= n && strncmp(rp->str, no[i], n) == 0)
			return (1);
	}
	return (0);
}

/* hiredis's answer to a command of ours: exactly once per command. */
static void
reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct rcmd *c = privdata;
	struct redis *r = c->r;
	enum redis_err err;

	if (reply == NULL && ac->data == r)
		/* hiredis lost the connection: move the state first, so that
		 * what the callbacks send now is refused. */
		drop(r, why_lost(&r->g, ac, "connection lost"), 0);
	TAILQ_REMOVE(&r->inflight, c, link);
	r->n_inflight--;
	if (reply != NULL && ac->data == r && not_master(reply)) {
		/* A master that became a replica (a failover), or one still
		 * loading: nothing was done; ask again where the master is. */
		drop(r, "the server answered READONLY, LOADING or MASTERDOWN "
		    "(not a master now)", 1);
		answer(r, c, REDIS_CMD_DOWN, NULL);
		return;
	}
	if (reply != NULL) {
		answer(r, c, REDIS_CMD_OK, reply);
		return;
	}
	err = c->err != REDIS_CMD_OK ? c->err : REDIS_CMD_DOWN;
	answer(r, c, err, NULL);
}

/* ---- the connection's life ------------------------------------------- */

static void
arm(struct event *ev, int ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(ev, &tv);
}

/*
 * The connection (or the attempt) is over: detach the context, go DOWN,
 * arm the backoff.  mine: we end it, so free the context here (its
 * commands answered from inside); otherwise hiredis is freeing it.
 */
static void
drop(struct redis *r, const char *reason, int mine)
{
	char rb[160], ab[160];
	redisAsyncContext *ac = r->ac;
	enum redis_state was = r->state;
	int64_t now = util_mono_ms();
	int64_t up_ms = r->up_at != 0 ? now - r->up_at : -1;
	struct rcmd *c;
	uint32_t rnd;

	if (ac == NULL)
		return;
	sub_stop(r, 1);
	r->ac = NULL;
	ac->data = NULL;
	r->state = ST_DOWN;
	r->st.connected = 0;
	r->up_at = 0;
	event_del(r->cmd_timer);
	event_del(r->conn_timer);
	TAILQ_FOREACH(c, &r->inflight, link)
		if (c->err == REDIS_CMD_OK)
			c->err = REDIS_CMD_DOWN;

	evutil_secure_rng_get_bytes(&rnd, sizeof(rnd));
	r->st.backoff_ms = smpp_backoff_next(&r->backoff_cur,
	    r->cfg.reconnect_min_ms, r->cfg.reconnect_max_ms, up_ms, 0, rnd);
	if (was == ST_UP)
		log_limited(&r->lim_lost, now, 1000, LOG_WARN, "redis.lost",
		    "addr=%s reason=%s inflight=%d next_ms=%d",
		    log_str(ab, sizeof(ab), r->addr_str),
		    log_str(rb, sizeof(rb), reason), r->n_inflight,
		    r->st.backoff_ms);
	else
		log_limited(&r->lim_fail, now, 10000, LOG_WARN,
		    "redis.connect_failed",
		    "addr=%s state=%s reason=%s next_ms=%d",
		    log_str(ab, sizeof(ab), r->addr_str), strstate(was),
		    log_str(rb, sizeof(rb), reason), r->st.backoff_ms);
	arm(r->conn_timer, r->st.backoff_ms);
	if (mine)
		redisAsyncFree(ac);
}

/*
 * The guard.  hiredis 0.14 aborts the process (an assert) on a reply
 * that no command asked for, and buffers a reply whole however large it
 * says it is.  The reader's object functions are wrapped: each top-level
 * reply begun is counted against the commands sent on this connection,
 * strings and arrays are held to a size, and a refusal returns NULL,
 * which hiredis takes as a reader error and drops the connection with
 * (drop() then gives the guard's hostile as the reason).  The read handler refuses
 * to read on once the reader holds reply_max unparsed octets.
 */
static const redisReplyObjectFunctions *base_fn;

/*
 * On a subscribed context hiredis 0.14 asserts (aborts the process) on a
 * top-level array of fewer than 2 elements or whose first two are not
 * strings, and reads element 2 of an "unsubscribe" unchecked.  The pushes
 * we subscribe to are arrays of exactly 3: "subscribe" or "message", the
 * channel, then the count or the message; anything else refused.  type,
 * str, len, n: what is being made (n: an array's size).
 */
static int
guard_push(const redisReadTask *t, int type, const char *str, size_t len,
    int n)
{
	struct rguard *g = t->privdata;

	if (g == NULL || !g->pubsub)
		return (0);
	if (t->parent == NULL) {
		if (type == REDIS_REPLY_ARRAY && n != 3)
			goto bad;
		return (0);
	}
	if (t->parent->parent != NULL || t->idx > 1)
		return (0);
	if (type != REDIS_REPLY_STRING)
		goto bad;
	if (t->idx == 0 && !(len == 7 && memcmp(str, "message", 7) == 0) &&
	    !(len == 9 && memcmp(str, "subscribe", 9) == 0))
		goto bad;
	return (0);
bad:
	g->hostile = "malformed push";
	return (-1);
}

static int
guard_top(const redisReadTask *t)
{
	struct rguard *g = t->privdata;

	if (g == NULL || g->hostile != NULL)
		return (g != NULL ? -1 : 0);
	if (t->parent == NULL && ++g->replies > g->expected) {
		g->hostile = "unsolicited reply";
		return (-1);
	}
	return (0);
}

static void *
guard_string(const redisReadTask *t, char *str, size_t len)
{
	struct rguard *g = t->privdata;

	if (guard_top(t) == -1 || guard_push(t, t->type, str, len, 0) == -1)
		return (NULL);
	if (g != NULL && len > g->max) {
		g->hostile = "reply too large";
		return (NULL);
	}
	return (base_fn->createString(t, str, len));
}

static void *
guard_array(const redisReadTask *t, int n)
{
	struct rguard *g = t->privdata;

	if (guard_top(t) == -1 ||
	    guard_push(t, REDIS_REPLY_ARRAY, NULL, 0, n) == -1)
		return (NULL);
	if (g != NULL && n > REDIS_REPLY_MAX_ELEMENTS) {
		g->hostile = "reply too large";
		return (NULL);
	}
	return (base_fn->createArray(t, n));
}

static void *
guard_integer(const redisReadTask *t, long long v)
{
	if (guard_top(t) == -1 ||
	    guard_push(t, REDIS_REPLY_INTEGER, NULL, 0, 0) == -1)
		return (NULL);
	return (base_fn->createInteger(t, v));
}

static void *
guard_nil(const redisReadTask *t)
{
	if (guard_top(t) == -1 ||
	    guard_push(t, REDIS_REPLY_NIL, NULL, 0, 0) == -1)
		return (NULL);
	return (base_fn->createNil(t));
}

static void
guard_free(void *obj)
{
	base_fn->freeObject(obj);
}

static redisReplyObjectFunctions guard_fn = {
	guard_string, guard_array, guard_integer, guard_nil, guard_free
};

static void
ad_read(evutil_socket_t fd, short what, void *arg)
{
	struct radapter *e = arg;
	redisReader *rd = e->ac->c.reader;

	if (rd != NULL && rd->len - rd->pos > e->g->max) {
		if (e->r->ac == e->ac) {
			e->g->hostile = "reply too large";
			drop(e->r, e->g->hostile, 1);
			return;
		}
		if (e->r->sac == e->ac) {
			e->g->hostile = "reply too large";
			ask_fail(e->r, e->g->hostile, 1);
			return;
		}
		if (e->r->xac == e->ac) {
			sub_stop(e->r, 1);
			return;
		}
	}
	redisAsyncHandleRead(e->ac);
}

static void
ad_write(evutil_socket_t fd, short what, void *arg)
{
	struct radapter *e = arg;

	redisAsyncHandleWrite(e->ac);
}

static void
ad_add_read(void *p)
{
	event_add(((struct radapter *)p)->rev, NULL);
}

static void
ad_del_read(void *p)
{
	event_del(((struct radapter *)p)->rev);
}

static void
ad_add_write(void *p)
{
	event_add(((struct radapter *)p)->wev, NULL);
}

static void
ad_del_write(void *p)
{
	event_del(((struct radapter *)p)->wev);
}

static void
ad_cleanup(void *p)
{
	struct radapter *e = p;

	event_free(e->rev);
	event_free(e->wev);
	free(e);
}

static void
attach(struct redis *r, redisAsyncContext *ac, struct rguard *g)
{
	struct radapter *e = xcalloc(1, sizeof(*e));

	e->ac = ac;
	e->r = r;
	e->g = g;
	e->rev = event_new(r->base, ac->c.fd, EV_READ, ad_read, e);
	e->wev = event_new(r->base, ac->c.fd, EV_WRITE, ad_write, e);
	if (e->rev == NULL || e->wev == NULL)
		abort();
	ac->ev.addRead = ad_add_read;
	ac->ev.delRead = ad_del_read;
	ac->ev.addWrite = ad_add_write;
	ac->ev.delWrite = ad_del_write;
	ac->ev.cleanup = ad_cleanup;
	ac->ev.data = e;
	/* The reader's objects through the guard. */
	if (base_fn == NULL)
		base_fn = ac->c.reader->fn;
	ac->c.reader->fn = &guard_fn;
	ac->c.reader->privdata = g;
	g->expected = 0;
	g->replies = 0;
	g->hostile = NULL;
	g->max = r->reply_max;
	g->pubsub = 0;
	event_add(e->rev, NULL);
	event_add(e->wev, NULL);
}

/* Why hiredis gave up on ac. */
static const char *
why_lost(const struct rguard *g, const redisAsyncContext *ac,
    const char *dflt)
{
	if (g->hostile != NULL)
		return (g->hostile);
	return (ac->errstr != NULL && ac->errstr[0] != '\0' ? ac->errstr :
	    dflt);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (r == NULL)
		return;
	drop(r, why_lost(&r->g, ac, "closed"), 0);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (r == NULL || status == REDIS_OK)
		return;         /* the handshake's replies move us on */
	/* hiredis frees the context after this. */
	drop(r, why_lost(&r->g, ac, "connect failed"), 0);
}

/*
 * A handshake reply (privdata: the handle).  NULL: the context is going
 * away, drop() has or will have said why.  An error reply ends the
 * attempt with the server's sentence (never the password: AUTH's errors
 * do not echo it).
 */
static void
handshake_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	redisReply *rp = reply;
	struct redis *r = ac->data;
	const char *step = privdata;
	char why[200], ab[160];
	int64_t now;

	if (rp == NULL || r == NULL || r->ac != ac)
		return;
	if (rp->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s refused: %.*s", step,
		    (int)(rp->len > 150 ? 150 : rp->len), rp->str);
		drop(r, why, 1);
		return;
	}
	if (strcmp(step, "ROLE") == 0 && (rp->type != REDIS_REPLY_ARRAY ||
	    rp->elements < 1 || rp->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rp->element[0]->str, "master") != 0)) {
		drop(r, "ROLE: not the master (a replica, or a sentinel's "
		    "stale answer)", 1);
		return;
	}
	if (strcmp(step, r->n_sent > 0 ? "ROLE" : "PING") != 0)
		return;
	now = util_mono_ms();
	event_del(r->conn_timer);
	r->state = ST_UP;
	r->st.connected = 1;
	r->st.connects++;
	r->up_at = now;
	log_limited(&r->lim_up, now, 1000, LOG_INFO, "redis.connected",
	    "addr=%s db=%d auth=%s", log_str(ab, sizeof(ab), r->addr_str),
	    r->cfg.db, r->has_password ? "yes" : "no");
	if (r->n_sent > 0)
		sub_start(r);
}

static void
connect_start(struct redis *r)
{
	redisAsyncContext *ac;
	char db[16];
	const char *argv[2];
	size_t argvlen[2];

	r->state = ST_CONNECTING;
	if (r->addr.kind == REDIS_ADDR_UNIX)
		ac = redisAsyncConnectUnix(r->addr.path);
	else
		ac = redisAsyncConnect(r->addr.host, r->addr.port);
	if (ac == NULL)
		abort();        /* out of memory, as x*alloc */
	r->ac = ac;
	ac->data = r;
	if (ac->err != 0) {
		drop(r, ac->errstr, 1);
		return;
	}
	attach(r, ac, &r->g);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	arm(r->conn_timer, r->cfg.connect_timeout_ms);
	/* Queued now, written once connected, answered in order. */
	if (r->has_password) {
		argv[0] = "AUTH";
		argv[1] = r->password;
		argvlen[0] = 4;
		argvlen[1] = strlen(r->password);
		if (redisAsyncCommandArgv(ac, handshake_cb, (void *)"AUTH", 2,
		    argv, argvlen) == REDIS_OK)
			r->g.expected++;
	}
	if (r->cfg.db != 0) {
		snprintf(db, sizeof(db), "%d", r->cfg.db);
		argv[0] = "SELECT";
		argv[1] = db;
		argvlen[0] = 6;
		argvlen[1] = strlen(db);
		if (redisAsyncCommandArgv(ac, handshake_cb, (void *)"SELECT",
		    2, argv, argvlen) == REDIS_OK)
			r->g.expected++;
	}
	argv[0] = "PING";
	argvlen[0] = 4;
	if (redisAsyncCommandArgv(ac, handshake_cb, (void *)"PING", 1, argv,
	    argvlen) == REDIS_OK)
		r->g.expected++;
	if (r->n_sent == 0)
		return;
	argv[0] = "ROLE";
	argvlen[0] = 4;
	if (redisAsyncCommandArgv(ac, handshake_cb, (void *)"ROLE", 1, argv,
	    argvlen) == REDIS_OK)
		r->g.expected++;
}

/* ---- sentinel: where the master is ---------------------------------- */

static void
addr_show(const struct redis_addr *a, char *buf, size_t size)
{
	if (a->kind == REDIS_ADDR_UNIX)
		snprintf(buf, size, "unix:%s", a->path);
	else if (strchr(a->host, ':') != NULL)
		snprintf(buf, size, "[%s]:%d", a->host, a->port);
	else
		snprintf(buf, size, "%s:%d", a->host, a->port);
}

/* Stop asking sent[si]: detach sac (mine: and free it, its callbacks
 * then see no owner). */
static void
ask_detach(struct redis *r, int mine)
{
	redisAsyncContext *sac = r->sac;

	if (sac == NULL)
		return;
	r->sac = NULL;
	sac->data = NULL;
	event_del(r->conn_timer);
	if (mine)
		redisAsyncFree(sac);
}

static void
s_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis *r = ac->data;
	struct redis_addr a;
	char why[200], reason[240], sb[160], mb[160];

	if (reply == NULL || r == NULL || r->sac != ac)
		return;
	if (redis_sentinel_reply(reply, &a, why, sizeof(why)) == -1) {
		r->st.sentinel_refused++;
		snprintf(reason, sizeof(reason), "answer refused: %s", why);
		ask_fail(r, reason, 1);
		return;
	}
	ask_detach(r, 1);
	r->si_good = r->si;
	addr_show(&r->sent[r->si], sb, sizeof(sb));
	r->addr = a;
	addr_show(&a, r->addr_str, sizeof(r->addr_str));
	if (strcmp(r->st.master, r->addr_str) != 0)
		log_limited(&r->lim_master, util_mono_ms(), 1000, LOG_INFO,
		    "redis.sentinel_master", "sentinel=%s master=%s addr=%s",
		    sb, log_str(mb, sizeof(mb), r->master_name), r->addr_str);
	util_strlcpy(r->st.master, r->addr_str, sizeof(r->st.master));
	connect_start(r);
}

static void
s_on_connect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (r == NULL || r->sac != ac || status == REDIS_OK)
		return;
	ask_fail(r, why_lost(&r->sg, ac, "connect failed"), 0);
}

static void
s_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (r == NULL || r->sac != ac)
		return;
	ask_fail(r, why_lost(&r->sg, ac, "closed"), 0);
}

/*
 * Queue AUTH with the sentinels' password on ac, when there is one.  1
 * when queued (its reply goes to cb: an error reply ends what ac is for).
 */
static int
sent_auth(struct redis *r, redisAsyncContext *ac, redisCallbackFn *cb)
{
	const char *argv[2];
	size_t argvlen[2];

	if (!r->has_sent_password)
		return (0);
	argv[0] = "AUTH";
	argv[1] = r->sent_password;
	argvlen[0] = 4;
	argvlen[1] = strlen(r->sent_password);
	return (redisAsyncCommandArgv(ac, cb, NULL, 2, argv, argvlen) ==
	    REDIS_OK);
}

/* The refusal's sentence, printable and short (AUTH's never echo the
 * password). */
static void
auth_refused(char *buf, size_t size, const redisReply *rp)
{
	snprintf(buf, size, "AUTH refused: %.*s",
	    (int)(rp->len > 150 ? 150 : rp->len), rp->str != NULL ? rp->str :
	    "");
}

static void
s_auth_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis *r = ac->data;
	const redisReply *rp = reply;
	char why[200];

	if (rp == NULL || r == NULL || r->sac != ac ||
	    rp->type != REDIS_REPLY_ERROR)
		return;
	auth_refused(why, sizeof(why), rp);
	ask_fail(r, why, 1);
}

/*
 * ASKING: connect to sent[si] and send SENTINEL get-master-addr-by-name,
 * all within connect_timeout_ms (conn_timer).  The answer goes to
 * s_reply_cb; a failure to ask_fail, which tries the next sentinel.
 */
static void
ask_start(struct redis *r)
{
	const struct redis_addr *s = &r->sent[r->si];
	redisAsyncContext *ac;
	const char *argv[3];
	size_t argvlen[3];

	r->state = ST_ASKING;
	if (s->kind == REDIS_ADDR_UNIX)
		ac = redisAsyncConnectUnix(s->path);
	else
		ac = redisAsyncConnect(s->host, s->port);
	if (ac == NULL)
		abort();        /* out of memory, as x*alloc */
	r->sac = ac;
	ac->data = r;
	r->st.sentinel_asks++;
	if (ac->err != 0) {
		ask_fail(r, ac->errstr, 1);
		return;
	}
	attach(r, ac, &r->sg);
	redisAsyncSetConnectCallback(ac, s_on_connect);
	redisAsyncSetDisconnectCallback(ac, s_on_disconnect);
	arm(r->conn_timer, r->cfg.connect_timeout_ms);
	if (sent_auth(r, ac, s_auth_cb))
		r->sg.expected++;
	argv[0] = "SENTINEL";
	argv[1] = "get-master-addr-by-name";
	argv[2] = r->master_name;
	argvlen[0] = strlen(argv[0]);
	argvlen[1] = strlen(argv[1]);
	argvlen[2] = strlen(argv[2]);
	if (redisAsyncCommandArgv(ac, s_reply_cb, NULL, 3, argv,
	    argvlen) == REDIS_OK)
		r->sg.expected++;
}

/*
 * sent[si] gave no usable answer (why): the next one, or, when each was
 * asked in this round, DOWN with the backoff.  mine as in drop().
 */
static void
ask_fail(struct redis *r, const char *why, int mine)
{
	char sb[160], wb[300];
	int64_t now = util_mono_ms();
	uint32_t rnd;

	addr_show(&r->sent[r->si], sb, sizeof(sb));
	log_limited(&r->lim_sent[r->si], now, 1000, LOG_WARN,
	    "redis.sentinel_failed",
	    "sentinel=%s reason=%s", sb, log_str(wb, sizeof(wb), why));
	ask_detach(r, mine);
	r->si = (r->si + 1) % r->n_sent;
	if (++r->si_tried < r->n_sent) {
		ask_start(r);
		return;
	}
	r->state = ST_DOWN;
	evutil_secure_rng_get_bytes(&rnd, sizeof(rnd));
	r->st.backoff_ms = smpp_backoff_next(&r->backoff_cur,
	    r->cfg.reconnect_min_ms, r->cfg.reconnect_max_ms, -1, 0, rnd);
	log_limited(&r->lim_fail, now, 10000, LOG_WARN,
	    "redis.connect_failed", "addr=sentinels state=asking "
	    "reason=\"no sentinel gave the master's address\" next_ms=%d",
	    r->st.backoff_ms);
	arm(r->conn_timer, r->st.backoff_ms);
}

/*
 * While UP, a second connection to the sentinel that answered holds
 * SUBSCRIBE +switch-master: a failover announced there drops the
 * connection and asks again at once, without waiting for the old master
 * to fail a command.  It lives and dies with the connection; a failure
 * of its own only ends it (READONLY and a lost connection still follow
 * a failover).  Its guard counts no replies (pushes are its point), but
 * holds the size caps.
 */
static void
sub_stop(struct redis *r, int mine)
{
	redisAsyncContext *xac = r->xac;

	if (xac == NULL)
		return;
	r->xac = NULL;
	xac->data = NULL;
	if (mine)
		redisAsyncFree(xac);
}

static void
sub_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis *r = ac->data;
	const redisReply *rp = reply, *m;
	struct redis_addr to;
	char err[160], sb[160], tb[160];
	int rc;

	if (rp == NULL || r == NULL || r->xac != ac)
		return;
	if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 3 ||
	    rp->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rp->element[0]->str, "message") != 0)
		return;         /* the subscription's confirmation */
	m = rp->element[2];
	addr_show(&r->sent[r->si_good], sb, sizeof(sb));
	if (m->type != REDIS_REPLY_STRING) {
		rc = -1;
		snprintf(err, sizeof(err), "+switch-master: not a string");
	} else
		rc = redis_switch_parse(m->str, m->len, r->master_name, &to,
		    err, sizeof(err));
	if (rc == -1) {
		log_limited(&r->lim_sent[r->si_good], util_mono_ms(), 1000,
		    LOG_WARN, "redis.sentinel_failed", "sentinel=%s reason=%s",
		    sb, log_str(tb, sizeof(tb), err));
		sub_stop(r, 1);
		return;
	}
	addr_show(&to, tb, sizeof(tb));
	if (rc == 0 || strcmp(tb, r->addr_str) == 0)
		return;
	log_event(LOG_INFO, "redis.sentinel_switch", "sentinel=%s from=%s "
	    "to=%s", sb, r->addr_str, tb);
	/* Ask again now (the sentinel that announced it first). */
	r->si = r->si_good;
	drop(r, "the sentinel announced +switch-master", 1);
	event_del(r->conn_timer);
	arm(r->conn_timer, 0);
}

static void
x_auth_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis *r = ac->data;
	const redisReply *rp = reply;
	char why[200], sb[160], wb[240];

	if (rp == NULL || r == NULL || r->xac != ac ||
	    rp->type != REDIS_REPLY_ERROR)
		return;
	auth_refused(why, sizeof(why), rp);
	addr_show(&r->sent[r->si_good], sb, sizeof(sb));
	log_limited(&r->lim_sent[r->si_good], util_mono_ms(), 1000, LOG_WARN,
	    "redis.sentinel_failed", "sentinel=%s reason=%s", sb,
	    log_str(wb, sizeof(wb), why));
	sub_stop(r, 1);
}

static void
x_on_connect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (r != NULL && r->xac == ac && status != REDIS_OK)
		sub_stop(r, 0);
}

static void
x_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;
	char sb[160], wb[200];

	if (r == NULL || r->xac != ac)
		return;
	addr_show(&r->sent[r->si_good], sb, sizeof(sb));
	log_limited(&r->lim_sent[r->si_good], util_mono_ms(), 1000, LOG_WARN,
	    "redis.sentinel_failed", "sentinel=%s reason=%s", sb,
	    log_str(wb, sizeof(wb), why_lost(&r->xg, ac,
	    "the subscription was closed")));
	sub_stop(r, 0);
}

static void
sub_start(struct redis *r)
{
	const struct redis_addr *s = &r->sent[r->si_good];
	redisAsyncContext *ac;
	const char *argv[2] = { "SUBSCRIBE", "+switch-master" };
	size_t argvlen[2] = { 9, 14 };

	sub_stop(r, 1);
	if (s->kind == REDIS_ADDR_UNIX)
		ac = redisAsyncConnectUnix(s->path);
	else
		ac = redisAsyncConnect(s->host, s->port);
	if (ac == NULL)
		abort();        /* out of memory, as x*alloc */
	if (ac->err != 0) {
		redisAsyncFree(ac);
		return;
	}
	r->xac = ac;
	ac->data = r;
	attach(r, ac, &r->xg);
	r->xg.expected = UINT64_MAX;    /* pushes: their shape, the caps */
	r->xg.pubsub = 1;
	redisAsyncSetConnectCallback(ac, x_on_connect);
	redisAsyncSetDisconnectCallback(ac, x_on_disconnect);
	sent_auth(r, ac, x_auth_cb);
	redisAsyncCommandArgv(ac, sub_cb, NULL, 2, argv, argvlen);
}

/* DOWN: the backoff is over, connect.  CONNECTING: too slow, drop. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;

	switch (r->state) {
	case ST_DOWN:
		if (r->started)
			r->st.reconnects++;
		r->started = 1;
		if (r->n_sent > 0) {
			r->si_tried = 0;
			ask_start(r);
		} else
			connect_start(r);
		break;
	case ST_ASKING:
		ask_fail(r, "no answer within the connect timeout", 1);
		break;
	case ST_CONNECTING:
		drop(r, "connect timeout", 1);
		break;
	case ST_UP:
		break;
	}
}

/* The oldest command's deadline passed: it times out, the connection goes
 * (nothing after it can be answered before it). */
static void
cmd_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis *r = arg;
	struct rcmd *c;
	int64_t now = util_mono_ms();

	c = TAILQ_FIRST(&r->inflight);
	if (c == NULL || r->state != ST_UP)
		return;
	if (c->deadline > now) {
		arm(r->cmd_timer, (int)(c->deadline - now));
		return;
	}
	TAILQ_FOREACH(c, &r->inflight, link)
		if (c->deadline <= now)
			c->err = REDIS_CMD_TIMEOUT;
	drop(r, "command timeout", 1);
}

/* ---- the interface --------------------------------------------------- */

struct redis *
redis_new(struct event_base *base, const struct redis_config *cfg, char *err,
    size_t errsize)
{
	struct redis *r;
	struct redis_addr a;

	struct redis_addr sent[REDIS_SENTINELS_MAX];
	int n_sent = 0;

	if (cfg->sentinels != NULL && cfg->sentinels[0] != '\0') {
		if (redis_sentinels_parse(cfg->sentinels, sent, &n_sent, err,
		    errsize) == -1 || redis_master_name_check(cfg->master_name,
		    err, errsize) == -1)
			return (NULL);
		memset(&a, 0, sizeof(a));
	} else if (redis_addr_parse(cfg->addr, &a, err, errsize) == -1)
		return (NULL);
	if (cfg->db < 0 || cfg->connect_timeout_ms <= 0 ||
	    cfg->command_timeout_ms <= 0 || cfg->reconnect_min_ms <= 0 ||
	    cfg->reconnect_max_ms < cfg->reconnect_min_ms ||
	    cfg->max_inflight <= 0) {
		snprintf(err, errsize, "redis: %s out of range",
		    cfg->db < 0 ? "db" :
		    cfg->connect_timeout_ms <= 0 ? "connect timeout" :
		    cfg->command_timeout_ms <= 0 ? "command timeout" :
		    cfg->reconnect_min_ms <= 0 ? "reconnect minimum" :
		    cfg->reconnect_max_ms < cfg->reconnect_min_ms ?
		    "reconnect maximum (under the minimum)" : "max in flight");
		return (NULL);
	}
	r = xcalloc(1, sizeof(*r));
	r->base = base;
	r->addr = a;
	r->cfg = *cfg;
	r->cfg.addr = NULL;
	r->cfg.password_file = NULL;
	r->cfg.sentinel_password_file = NULL;
	r->cfg.sentinels = NULL;
	r->cfg.master_name = NULL;
	memcpy(r->sent, sent, sizeof(sent));
	r->n_sent = n_sent;
	if (n_sent > 0)
		util_strlcpy(r->master_name, cfg->master_name,
		    sizeof(r->master_name));
	r->reply_max = cfg->max_reply_bytes != 0 ? cfg->max_reply_bytes :
	    REDIS_REPLY_MAX_OCTETS;
	if (n_sent > 0)
		snprintf(r->addr_str, sizeof(r->addr_str), "(sentinel)");
	else
		addr_show(&a, r->addr_str, sizeof(r->addr_str));
	TAILQ_INIT(&r->inflight);
	TAILQ_INIT(&r->deferred);
	if (cfg->password_file != NULL && cfg->password_file[0] != '\0')
		r->password_file = xstrdup(cfg->password_file);
	if (n_sent > 0 && cfg->sentinel_password_file != NULL &&
	    cfg->sentinel_password_file[0] != '\0')
		r->sent_password_file = xstrdup(cfg->sentinel_password_file);
	if (redis_reload_password(r, err, errsize) == -1) {
		free(r->password_file);
		free(r->sent_password_file);
		free(r);
		return (NULL);
	}
	r->conn_timer = event_new(base, -1, 0, conn_timer_cb, r);
	r->cmd_timer = event_new(base, -1, 0, cmd_timer_cb, r);
	r->deferred_ev = event_new(base, -1, 0, deferred_cb, r);
	if (r->conn_timer == NULL || r->cmd_timer == NULL ||
	    r->deferred_ev == NULL)
		abort();
	r->backoff_cur = cfg->reconnect_min_ms;
	arm(r->conn_timer, 0);
	return (r);
}

int
redis_reload_password(struct redis *r, char *err, size_t errsize)
{
	char pw[REDIS_PASSWORD_MAX + 1], spw[REDIS_PASSWORD_MAX + 1];

	/* Both read before either is taken: a failure keeps the old ones. */
	if (r->password_file != NULL && redis_password_read(r->password_file,
	    pw, sizeof(pw), err, errsize) == -1)
		return (-1);
	if (r->sent_password_file != NULL &&
	    redis_password_read(r->sent_password_file, spw, sizeof(spw), err,
	    errsize) == -1) {
		explicit_bzero(pw, sizeof(pw));
		return (-1);
	}
	if (r->password_file != NULL) {
		memcpy(r->password, pw, sizeof(pw));
		r->has_password = 1;
		explicit_bzero(pw, sizeof(pw));
	}
	if (r->sent_password_file != NULL) {
		memcpy(r->sent_password, spw, sizeof(spw));
		r->has_sent_password = 1;
		explicit_bzero(spw, sizeof(spw));
	}
	return (0);
}

static int
same_file(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

int
redis_share_password(struct redis *dst, const struct redis *src)
{
	if (!same_file(dst->password_file, src->password_file) ||
	    !same_file(dst->sent_password_file, src->sent_password_file))
		return (-1);
	memcpy(dst->password, src->password, sizeof(dst->password));
	dst->has_password = src->has_password;
	memcpy(dst->sent_password, src->sent_password,
	    sizeof(dst->sent_password));
	dst->has_sent_password = src->has_sent_password;
	return (0);
}

static int
refuse(struct redis *r, redis_cb *cb, void *arg, enum redis_err err)
{
	struct rcmd *c;

	if (r->n_deferred >= r->cfg.max_inflight) {
		errno = EAGAIN;
		return (-1);
	}
	c = xcalloc(1, sizeof(*c));
	c->r = r;
	c->cb = cb;
	c->arg = arg;
	c->err = err;
	TAILQ_INSERT_TAIL(&r->deferred, c, link);
	r->n_deferred++;
	r->st.commands++;
	event_active(r->deferred_ev, EV_TIMEOUT, 1);
	return (0);
}

/* Commands whose replies do not come one per command. */
static int
is_push(const char *cmd, size_t len)
{
	static const char *const push[] = { "SUBSCRIBE", "PSUBSCRIBE",
	    "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
	    "MONITOR" };
	size_t i;

	for (i = 0; i < sizeof(push) / sizeof(push[0]); i++)
		if (len == strlen(push[i]) && strncasecmp(cmd, push[i],
		    len) == 0)
			return (1);
	return (0);
}

int
redis_command(struct redis *r, redis_cb *cb, void *arg, int argc,
    const char **argv, const size_t *argvlen)
{
	struct rcmd *c;

	if (argc < 1 || is_push(argv[0], argvlen[0])) {
		errno = EINVAL;
		return (-1);
	}
	if (r->state != ST_UP)
		return (refuse(r, cb, arg, REDIS_CMD_DOWN));
	if (r->n_inflight >= r->cfg.max_inflight)
		return (refuse(r, cb, arg, REDIS_CMD_BUSY));
	c = xcalloc(1, sizeof(*c));
	c->r = r;
	c->cb = cb;
	c->arg = arg;
	c->deadline = util_mono_ms() + r->cfg.command_timeout_ms;
	if (redisAsyncCommandArgv(r->ac, reply_cb, c, argc, argv,
	    argvlen) != REDIS_OK) {
		/* The context is going away (hiredis took nothing). */
		free(c);
		return (refuse(r, cb, arg, REDIS_CMD_DOWN));
	}
	TAILQ_INSERT_TAIL(&r->inflight, c, link);
	r->n_inflight++;
	r->g.expected++;
	r->st.commands++;
	if (!event_pending(r->cmd_timer, EV_TIMEOUT, NULL))
		arm(r->cmd_timer, r->cfg.command_timeout_ms);
	return (0);
}

void
redis_count_noscript(struct redis *r)
{
	r->st.evalsha_noscript++;
}

void
redis_stats(const struct redis *r, struct redis_stats *st)
{
	*st = r->st;
	st->inflight = r->n_inflight;
}

void
redis_free(struct redis *r)
{
	redisAsyncContext *ac;
	struct rcmd *c;

	if (r == NULL)
		return;
	event_del(r->conn_timer);
	event_del(r->cmd_timer);
	if ((ac = r->ac) != NULL) {
		r->ac = NULL;
		ac->data = NULL;
		r->state = ST_DOWN;
		TAILQ_FOREACH(c, &r->inflight, link)
			c->err = REDIS_CMD_SHUTDOWN;
		redisAsyncFree(ac);     /* answers them */
	}
	if (r->sac != NULL) {
		ac = r->sac;
		r->sac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	sub_stop(r, 1);
	while ((c = TAILQ_FIRST(&r->deferred)) != NULL) {
		TAILQ_REMOVE(&r->deferred, c, link);
		answer(r, c, REDIS_CMD_SHUTDOWN, NULL);
	}
	event_free(r->conn_timer);
	event_free(r->cmd_timer);
	event_free(r->deferred_ev);
	explicit_bzero(r->password, sizeof(r->password));
	explicit_bzero(r->sent_password, sizeof(r->sent_password));
	free(r->password_file);
	free(r->sent_password_file);
	free(r);
}
