/*
 * redis.h - one Redis connection on the daemon's libevent loop.
 *
 * A connection through hiredis's async API and its libevent adapter, that
 * keeps itself up and answers every command exactly once.  The store on
 * Redis (store_repl.c, [store] backend = redis) runs on two of them: one
 * commits and asks, one tails the shared log.
 *
 *  - Address: "host:port" (an IP literal or "localhost"; IPv6 as
 *    "[::1]:6379"; the port defaults to 6379) or "unix:/absolute/path".
 *    Host names are refused: hiredis 0.14 resolves them with a blocking
 *    getaddrinfo() on the loop.
 *  - Handshake after each connect: AUTH (when a password file is given),
 *    SELECT (db other than 0), PING.  The connection is UP once PING
 *    answers; a refusal (wrong password, NOAUTH, bad db) drops it with the
 *    server's reason, and it is tried again after the backoff.
 *  - Timeouts: the connect and the handshake together within
 *    connect_timeout_ms; each command within command_timeout_ms of being
 *    sent.  A command past its deadline fails REDIS_CMD_TIMEOUT, and the
 *    connection is dropped (a server that does not answer one command
 *    answers none after it: replies come in order) and made again.
 *  - Reconnect: after any failure, smpp_backoff_next()'s policy: from
 *    reconnect_min_ms doubling up to reconnect_max_ms, plus up to a
 *    quarter of jitter; back to the minimum after a connection that stayed
 *    up SMPP_STABLE_BIND_MS.
 *  - Cap: at most max_inflight commands sent and not answered.  Beyond it
 *    a command fails REDIS_CMD_BUSY at once (deferred, see redis_command).
 *    While the connection is not UP a command fails REDIS_CMD_DOWN at once.
 *    Nothing is queued for later: the caller decides what a failure means.
 *  - A hostile peer: a reply no command asked for (hiredis 0.14 would
 *    abort the process on it), a reply larger than max_reply_bytes (it
 *    would be buffered whole) or an array of more than 2^20 elements
 *    drops the connection ("unsolicited reply", "reply too large"); what
 *    was in flight fails REDIS_CMD_DOWN.
 *  - Not a master: a command answered READONLY, LOADING or MASTERDOWN
 *    (a failover demoted the server) fails REDIS_CMD_DOWN (nothing was
 *    done) and the connection is dropped and made again.
 *  - Sentinel (cfg.sentinels): each connect first asks the sentinels in
 *    turn, each within connect_timeout_ms, SENTINEL
 *    get-master-addr-by-name; an answer that is not two strings, an IP
 *    literal and a port, is refused with a log line and the next one is
 *    asked; when none gives an address, the backoff.  The master must
 *    answer ROLE "master" at the end of the handshake (a replica: drop,
 *    backoff, ask again).  While UP, a second connection to the sentinel
 *    that answered holds SUBSCRIBE +switch-master: a failover announced
 *    there drops the connection and asks again at once.  A lost master,
 *    READONLY or +switch-master: the connection follows the new master
 *    within the sentinels' failover time plus one backoff.
 *  - Scripts (redis_eval): EVALSHA, and EVAL once on NOSCRIPT, so that
 *    a restarted or promoted server loads them again by itself.
 *
 * Loop thread only.  Logs: redis.connected, redis.lost (with the reason),
 * redis.connect_failed while down, redis.sentinel_failed (a sentinel
 * skipped, why), redis.sentinel_master (the address a sentinel gave, when
 * it changes), redis.sentinel_switch, each through a limiter; the
 * password is never logged nor kept anywhere but in the handle.
 */
#ifndef REDIS_H
#define REDIS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct redisReply;
struct redis;

/* A parsed address (redis_addr.c, pure). */
enum redis_addr_kind { REDIS_ADDR_TCP = 1, REDIS_ADDR_UNIX };
struct redis_addr {
	enum redis_addr_kind kind;
	char host[64];          /* TCP: the IP literal, without brackets */
	int port;               /* TCP: 1..65535                          */
	char path[108];         /* UNIX: absolute, fits sun_path          */
};

/*
 * Parse s into *a.  0, or -1 with a sentence in err naming what is wrong
 * ("redis address \"x\": port 0 out of 1..65535").  Pure.
 */
int redis_addr_parse(const char *s, struct redis_addr *a, char *err,
    size_t errsize);

/*
 * Read a password file: its first line, without the line end; at most
 * 512 octets, no NUL, not empty.  0 with the password in buf, or -1 with
 * err naming the file and the problem (never the content).
 */
int redis_password_read(const char *path, char *buf, size_t bufsize,
    char *err, size_t errsize);

/*
 * Sentinels (redis_addr.c, pure).  A list "addr,addr,..." of at most
 * REDIS_SENTINELS_MAX addresses, each in redis_addr_parse's form, blanks
 * around the commas allowed.  0 with *n set, or -1 with err naming the
 * bad element ("redis sentinels: element 2: redis address ...").
 */
#define REDIS_SENTINELS_MAX 8
int redis_sentinels_parse(const char *s, struct redis_addr *a, int *n,
    char *err, size_t errsize);

/* A master name: 1..64 printable ASCII octets, no blank.  0 or -1 with
 * err.  Pure. */
#define REDIS_MASTER_NAME_MAX 64
int redis_master_name_check(const char *name, char *err, size_t errsize);

/*
 * A sentinel's answer to SENTINEL get-master-addr-by-name (outside
 * input): an array of exactly two strings, an IP literal and a port in
 * 1..65535.  0 with the TCP address in *a, or -1 with err saying what is
 * wrong (a nil: the sentinel does not know the master).  Pure.
 */
int redis_sentinel_reply(const struct redisReply *rp, struct redis_addr *a,
    char *err, size_t errsize);

/*
 * A sentinel's +switch-master message (outside input): "name old-ip
 * old-port new-ip new-port".  1 with the new master in *to when name is
 * ours, 0 when it is another master's, -1 with err when malformed.  Pure.
 */
int redis_switch_parse(const char *msg, size_t len, const char *name,
    struct redis_addr *to, char *err, size_t errsize);

struct redis_config {
	const char *addr;             /* redis_addr_parse() form             */
	const char *password_file;    /* NULL or "": no AUTH                 */
	int db;                       /* SELECT db; 0..INT_MAX, 0: none sent */
	int connect_timeout_ms;       /* connect + handshake; > 0            */
	int command_timeout_ms;       /* per command, from its send; > 0     */
	int reconnect_min_ms;         /* first backoff; > 0                  */
	int reconnect_max_ms;         /* backoff cap; >= reconnect_min_ms    */
	int max_inflight;             /* commands sent, not answered; > 0    */
	size_t max_reply_bytes;       /* one reply's size; 0: 64 MiB         */
	/*
	 * Sentinel (optional): "host:port,host:port" (redis_sentinels_parse's
	 * form) and the master's name (redis_master_name_check).  When set,
	 * addr is ignored (it may be NULL): each connect asks the sentinels
	 * in turn for the master's address, and the master must say "master"
	 * to ROLE after AUTH/SELECT.  The password and db are the master's.
	 */
	const char *sentinels;        /* NULL or "": no sentinel             */
	const char *master_name;
	/* The sentinels' own password (their requirepass), a file read as
	 * password_file is, also on redis_reload_password; NULL or "": no
	 * AUTH to the sentinels. */
	const char *sentinel_password_file;
};

/* Why a command failed.  REDIS_CMD_OK: the reply is there (it may be a Redis
 * error reply, REDIS_REPLY_ERROR: that is an answer, not a failure). */
enum redis_err {
	REDIS_CMD_OK = 0,
	REDIS_CMD_DOWN,            /* not connected, or the connection was lost  */
	REDIS_CMD_TIMEOUT,         /* no answer within command_timeout_ms        */
	REDIS_CMD_BUSY,            /* max_inflight commands already in flight    */
	REDIS_CMD_SHUTDOWN         /* redis_free() with the command in flight    */
};
const char *redis_strerr(enum redis_err);

/*
 * The answer to one command.  reply is hiredis's, valid during the call
 * only (NULL unless err is REDIS_CMD_OK).  Runs on the loop, never from inside
 * redis_command(); it may issue commands, but must not call redis_free().
 */
typedef void redis_cb(void *arg, enum redis_err err,
    const struct redisReply *reply);

/*
 * Make the handle and start connecting (the first attempt at once, from
 * the loop).  NULL with err set when the configuration is wrong: a bad
 * address, an unreadable password file, a bound out of range.
 */
struct redis *redis_new(struct event_base *, const struct redis_config *,
    char *err, size_t errsize);

/*
 * Read the password file again (SIGHUP), and the sentinels' when there is
 * one.  The new passwords are used from the next connect; the connection
 * now up is left alone.  0, or -1 with err (the old passwords are kept).
 */
int redis_reload_password(struct redis *, char *err, size_t errsize);
/*
 * Give dst the passwords src has now, when both read the same files (a
 * second connection to the same server): one read for both, so that the
 * two never hold different ones.  0, or -1 when their files differ (dst
 * unchanged: read its own with redis_reload_password()).
 */
int redis_share_password(struct redis *dst, const struct redis *src);

/*
 * Send argv (binary safe: argvlen[i] octets each).  cb is called exactly
 * once, later, from the loop: with the reply, or with REDIS_CMD_DOWN,
 * REDIS_CMD_BUSY (failed at once, deferred to the next turn of the loop),
 * REDIS_CMD_TIMEOUT or REDIS_CMD_SHUTDOWN.  Returns 0.
 *
 * -1 (errno EAGAIN), and cb is never called, only when a caller went on
 * issuing commands in one turn of the loop after max_inflight of them
 * were refused already: the deferred refusals are capped too, so that a
 * runaway caller cannot grow memory.
 */
int redis_command(struct redis *, redis_cb *cb, void *arg, int argc,
    const char **argv, const size_t *argvlen);

/*
 * A Lua script, known by its text; sha is its SHA1 in hex, computed
 * locally by redis_script_init.  The text must outlive the script (a
 * string constant, typically); the struct is the caller's, not freed.
 */
struct redis_script {
	const char *text;
	size_t len;
	char sha[41];
};
void redis_script_init(struct redis_script *, const char *text);

/*
 * EVALSHA sha numkeys argv... (argc arguments, keys first, binary safe).
 * On a NOSCRIPT error reply (a Redis that restarted, SCRIPT FLUSH, a new
 * master after a failover) the same call is sent once more as EVAL with
 * the text, which loads it again; the caller sees one callback, with
 * the script's reply (an error the script raises is REDIS_REPLY_ERROR).
 * The contract of redis_command otherwise: cb exactly once, from the
 * loop; 0, or -1 (EAGAIN or EINVAL: numkeys out of 0..argc) and cb never
 * called.  The arguments are copied (for the fallback); the EVAL takes
 * its own place under max_inflight once the EVALSHA's is free, and counts
 * in redis_stats' commands as a second command.
 */
int redis_eval(struct redis *, const struct redis_script *, int numkeys,
    int argc, const char **argv, const size_t *argvlen, redis_cb *cb,
    void *arg);

/* redis_script.c's count of its fallbacks (internal). */
void redis_count_noscript(struct redis *);

/* For /metrics-to-be. */
struct redis_stats {
	int connected;          /* 1: UP (handshake done)                    */
	uint64_t connects;      /* times it came UP                          */
	uint64_t reconnects;    /* connect attempts after a backoff          */
	uint64_t commands;      /* redis_command() calls that returned 0     */
	uint64_t failures;      /* of those, answered with an error enum     */
	int inflight;           /* sent, not answered                        */
	int backoff_ms;         /* the last backoff armed; 0: none yet       */
	uint64_t sentinel_asks;     /* SENTINEL get-master-addr-by-name sent */
	uint64_t sentinel_refused;  /* answers refused (malformed, no master) */
	uint64_t evalsha_noscript;  /* redis_eval's fallbacks to EVAL        */
	char master[80];        /* sentinel: the master's address ("" none)  */
};
void redis_stats(const struct redis *, struct redis_stats *);

/*
 * Close the connection and free the handle.  Every command in flight or
 * with a deferred answer gets its callback now, with REDIS_CMD_SHUTDOWN.
 * Not from inside a redis_cb.  NULL is a no-op.
 */
void redis_free(struct redis *);

/*
 * The store on Redis, built on this: src/store_repl.c's head comment (each
 * gateway's LMDB a replica of one log in Redis; a commit is one script
 * that refuses a batch whose reads another gateway changed; a barrier per
 * request; rebuilds, leases and takeovers).
 */

#endif
