/*
 * redis_script.c - Lua scripts by their SHA1 (contract in redis.h).
 *
 * A call is one struct reval: the EVALSHA's arguments copied into one
 * block (argv[1] is the SHA1 and becomes the text for the fallback).  Its
 * first answer, when it is a NOSCRIPT error reply, sends the same
 * arguments once as EVAL from inside that answer (the EVALSHA's place
 * under max_inflight is already free then); any other answer, and the
 * EVAL's, goes to the caller and frees the call.  So the caller's
 * callback runs exactly once, and a script is loaded again lazily after
 * each reconnect (a new process, SCRIPT FLUSH, a promoted replica).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "redis.h"
#include "util.h"

struct reval {
	struct redis *r;
	const struct redis_script *sc;
	redis_cb *cb;
	void *arg;
	int fallback;           /* the EVAL was sent                    */
	int argc;               /* with EVALSHA, sha, numkeys           */
	const char **argv;
	size_t *argvlen;
	char numkeys[16];
};

void
redis_script_init(struct redis_script *sc, const char *text)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA_DIGEST_LENGTH];
	int i;

	sc->text = text;
	sc->len = strlen(text);
	SHA1((const unsigned char *)text, sc->len, md);
	for (i = 0; i < SHA_DIGEST_LENGTH; i++) {
		sc->sha[2 * i] = hex[md[i] >> 4];
		sc->sha[2 * i + 1] = hex[md[i] & 0xf];
	}
	sc->sha[40] = '\0';
}

static void
reval_free(struct reval *e)
{
	free(e->argv);
	free(e);
}

static void
eval_cb(void *arg, enum redis_err err, const struct redisReply *rp)
{
	struct reval *e = arg;
	redis_cb *cb = e->cb;
	void *cbarg = e->arg;

	if (err == REDIS_CMD_OK && !e->fallback &&
	    rp->type == REDIS_REPLY_ERROR && rp->len >= 8 &&
	    strncmp(rp->str, "NOSCRIPT", 8) == 0) {
		e->fallback = 1;
		e->argv[0] = "EVAL";
		e->argvlen[0] = 4;
		e->argv[1] = e->sc->text;
		e->argvlen[1] = e->sc->len;
		redis_count_noscript(e->r);
		if (redis_command(e->r, eval_cb, e, e->argc, e->argv,
		    e->argvlen) == 0)
			return;
		/* Refusals capped (a caller flooding in this very turn). */
		reval_free(e);
		cb(cbarg, REDIS_CMD_BUSY, NULL);
		return;
	}
	reval_free(e);
	cb(cbarg, err, rp);
}

int
redis_eval(struct redis *r, const struct redis_script *sc, int numkeys,
    int argc, const char **argv, const size_t *argvlen, redis_cb *cb,
    void *arg)
{
	struct reval *e;
	size_t total = 0, off;
	char *p;
	int i, n;

	if (argc < 0 || numkeys < 0 || numkeys > argc || argc > INT_MAX - 3) {
		errno = EINVAL;
		return (-1);
	}
	for (i = 0; i < argc; i++)
		total += argvlen[i];
	n = argc + 3;
	/* One block: the pointers, the lengths, then the octets. */
	e = xcalloc(1, sizeof(*e));
	e->argv = xcalloc(1, (size_t)n * (sizeof(char *) + sizeof(size_t)) +
	    total + 1);
	e->argvlen = (size_t *)(void *)(e->argv + n);
	p = (char *)(e->argvlen + n);
	e->r = r;
	e->sc = sc;
	e->cb = cb;
	e->arg = arg;
	e->argc = n;
	snprintf(e->numkeys, sizeof(e->numkeys), "%d", numkeys);
	e->argv[0] = "EVALSHA";
	e->argvlen[0] = 7;
	e->argv[1] = sc->sha;
	e->argvlen[1] = 40;
	e->argv[2] = e->numkeys;
	e->argvlen[2] = strlen(e->numkeys);
	for (i = 0, off = 0; i < argc; i++) {
		if (argvlen[i] > 0)
			memcpy(p + off, argv[i], argvlen[i]);
		e->argv[i + 3] = p + off;
		e->argvlen[i + 3] = argvlen[i];
		off += argvlen[i];
	}
	if (redis_command(r, eval_cb, e, e->argc, e->argv, e->argvlen) ==
	    -1) {
		reval_free(e);
		return (-1);
	}
	return (0);
}
