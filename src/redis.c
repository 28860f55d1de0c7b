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

enum redis_state { ST_DOWN = 0, ST_CONNECTING, ST_UP };

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
	uint64_t expected;              /* commands hiredis took, this conn */
	uint64_t replies;               /* top-level replies begun          */
	const char *hostile;            /* why the guard refused, or NULL   */
	size_t reply_max;               /* octets buffered or in one string */

	struct redis_stats st;
	struct log_limit lim_up, lim_lost, lim_fail;
};

/* Our libevent adapter (hiredis's, with a check before each read). */
struct radapter {
	redisAsyncContext *ac;
	struct redis *r;
	struct event *rev, *wev;
};

static void drop(struct redis *, const char *, int);
static const char *why_lost(struct redis *, const redisAsyncContext *,
    const char *);

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
		drop(r, why_lost(r, ac, "connection lost"), 0);
	TAILQ_REMOVE(&r->inflight, c, link);
	r->n_inflight--;
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
 * (drop() then gives r->hostile as the reason).  The read handler refuses
 * to read on once the reader holds reply_max unparsed octets.
 */
static const redisReplyObjectFunctions *base_fn;

static int
guard_top(const redisReadTask *t)
{
	struct redis *r = t->privdata;

	if (r == NULL || r->hostile != NULL)
		return (r != NULL ? -1 : 0);
	if (t->parent == NULL && ++r->replies > r->expected) {
		r->hostile = "unsolicited reply";
		return (-1);
	}
	return (0);
}

static void *
guard_string(const redisReadTask *t, char *str, size_t len)
{
	struct redis *r = t->privdata;

	if (guard_top(t) == -1)
		return (NULL);
	if (r != NULL && len > r->reply_max) {
		r->hostile = "reply too large";
		return (NULL);
	}
	return (base_fn->createString(t, str, len));
}

static void *
guard_array(const redisReadTask *t, int n)
{
	struct redis *r = t->privdata;

	if (guard_top(t) == -1)
		return (NULL);
	if (r != NULL && n > REDIS_REPLY_MAX_ELEMENTS) {
		r->hostile = "reply too large";
		return (NULL);
	}
	return (base_fn->createArray(t, n));
}

static void *
guard_integer(const redisReadTask *t, long long v)
{
	if (guard_top(t) == -1)
		return (NULL);
	return (base_fn->createInteger(t, v));
}

static void *
guard_nil(const redisReadTask *t)
{
	if (guard_top(t) == -1)
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

	if (rd != NULL && rd->len - rd->pos > e->r->reply_max &&
	    e->r->ac == e->ac) {
		e->r->hostile = "reply too large";
		drop(e->r, e->r->hostile, 1);
		return;
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
attach(struct redis *r, redisAsyncContext *ac)
{
	struct radapter *e = xcalloc(1, sizeof(*e));

	e->ac = ac;
	e->r = r;
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
	ac->c.reader->privdata = r;
	r->expected = 0;
	r->replies = 0;
	r->hostile = NULL;
	event_add(e->rev, NULL);
	event_add(e->wev, NULL);
}

/* Why hiredis gave up on ac. */
static const char *
why_lost(struct redis *r, const redisAsyncContext *ac, const char *dflt)
{
	if (r->hostile != NULL)
		return (r->hostile);
	return (ac->errstr != NULL && ac->errstr[0] != '\0' ? ac->errstr :
	    dflt);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (r == NULL)
		return;
	drop(r, why_lost(r, ac, "closed"), 0);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct redis *r = ac->data;

	if (r == NULL || status == REDIS_OK)
		return;         /* the handshake's replies move us on */
	/* hiredis frees the context after this. */
	drop(r, why_lost(r, ac, "connect failed"), 0);
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
	if (strcmp(step, "PING") != 0)
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
	attach(r, ac);
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
			r->expected++;
	}
	if (r->cfg.db != 0) {
		snprintf(db, sizeof(db), "%d", r->cfg.db);
		argv[0] = "SELECT";
		argv[1] = db;
		argvlen[0] = 6;
		argvlen[1] = strlen(db);
		if (redisAsyncCommandArgv(ac, handshake_cb, (void *)"SELECT",
		    2, argv, argvlen) == REDIS_OK)
			r->expected++;
	}
	argv[0] = "PING";
	argvlen[0] = 4;
	if (redisAsyncCommandArgv(ac, handshake_cb, (void *)"PING", 1, argv,
	    argvlen) == REDIS_OK)
		r->expected++;
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
		connect_start(r);
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

	if (redis_addr_parse(cfg->addr, &a, err, errsize) == -1)
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
	r->reply_max = cfg->max_reply_bytes != 0 ? cfg->max_reply_bytes :
	    REDIS_REPLY_MAX_OCTETS;
	if (a.kind == REDIS_ADDR_UNIX)
		snprintf(r->addr_str, sizeof(r->addr_str), "unix:%s", a.path);
	else if (strchr(a.host, ':') != NULL)
		snprintf(r->addr_str, sizeof(r->addr_str), "[%s]:%d", a.host,
		    a.port);
	else
		snprintf(r->addr_str, sizeof(r->addr_str), "%s:%d", a.host,
		    a.port);
	TAILQ_INIT(&r->inflight);
	TAILQ_INIT(&r->deferred);
	if (cfg->password_file != NULL && cfg->password_file[0] != '\0') {
		r->password_file = xstrdup(cfg->password_file);
		if (redis_reload_password(r, err, errsize) == -1) {
			free(r->password_file);
			free(r);
			return (NULL);
		}
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
	char pw[REDIS_PASSWORD_MAX + 1];

	if (r->password_file == NULL)
		return (0);
	if (redis_password_read(r->password_file, pw, sizeof(pw), err,
	    errsize) == -1)
		return (-1);
	memcpy(r->password, pw, sizeof(pw));
	r->has_password = 1;
	explicit_bzero(pw, sizeof(pw));
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
	r->expected++;
	r->st.commands++;
	if (!event_pending(r->cmd_timer, EV_TIMEOUT, NULL))
		arm(r->cmd_timer, r->cfg.command_timeout_ms);
	return (0);
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
	while ((c = TAILQ_FIRST(&r->deferred)) != NULL) {
		TAILQ_REMOVE(&r->deferred, c, link);
		answer(r, c, REDIS_CMD_SHUTDOWN, NULL);
	}
	event_free(r->conn_timer);
	event_free(r->cmd_timer);
	event_free(r->deferred_ev);
	explicit_bzero(r->password, sizeof(r->password));
	free(r->password_file);
	free(r);
}
