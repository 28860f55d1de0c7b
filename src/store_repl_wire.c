/*
 * store_repl_wire.c - a batch's writes to and from the log's blob
 * (store_repl_wire.h).  Pure.
 */
#include <stdio.h>
#include <string.h>

#include "store_batch.h"
#include "store_repl_wire.h"
#include "util.h"

static void
grow(uint8_t **buf, size_t *len, size_t *cap, size_t more)
{
	size_t want = *len + more;

	if (want <= *cap)
		return;
	*cap = *cap ? *cap : 4096;
	while (*cap < want)
		*cap *= 2;
	*buf = xrealloc(*buf, *cap);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

void
repl_wire_encode(const struct store_batch *w,
    int (*dbno)(void *arg, unsigned db), void *arg,
    uint8_t **buf, size_t *len, size_t *cap)
{
	const struct batch_entry *e;
	size_t i, n = store_batch_count(w), at;
	uint32_t count = 0;
	uint8_t *p;
	int no;

	grow(buf, len, cap, 8);
	at = *len;
	memcpy(*buf + at, "SVB1", 4);
	*len += 8;
	for (i = 0; i < n; i++) {
		e = store_batch_entry(w, i);
		if ((no = dbno(arg, e->db)) < 0)
			continue;
		grow(buf, len, cap, 10 + e->klen + (e->del ? 0 : e->vlen));
		p = *buf + *len;
		*p++ = e->del ? 'd' : 'p';
		put32(p, (uint32_t)e->klen + 1);
		p[4] = (uint8_t)no;
		memcpy(p + 5, e->key, e->klen);
		p += 5 + e->klen;
		if (!e->del) {
			put32(p, (uint32_t)e->vlen);
			if (e->vlen > 0)
				memcpy(p + 4, e->val, e->vlen);
			p += 4 + e->vlen;
		}
		*len = (size_t)(p - *buf);
		count++;
	}
	put32(*buf + at + 4, count);
}

int
repl_wire_next(const uint8_t *buf, size_t len, size_t *at, int *op,
    const uint8_t **dk, size_t *dklen, const uint8_t **val, size_t *vlen)
{
	const uint8_t *p;

	if (*at < 8)
		*at = 8;                /* past "SVB1" count */
	if (*at >= len)
		return 0;
	p = buf + *at;
	*op = p[0];
	*dklen = get32(p + 1);
	*dk = p + 5;
	p += 5 + *dklen;
	*val = NULL;
	*vlen = 0;
	if (*op == 'p') {
		*vlen = get32(p);
		*val = p + 4;
		p += 4 + *vlen;
	}
	*at = (size_t)(p - buf);
	return 1;
}

int
repl_wire_decode(const uint8_t *blob, size_t len, struct store_batch *w,
    int (*dbof)(void *arg, unsigned dbno), void *arg, char *err,
    size_t errsize)
{
	const uint8_t *p = blob, *end = blob + len, *key;
	uint32_t count, i, klen, vlen;
	int db, op;
	void *v;

	if (len < 8 || memcmp(p, "SVB1", 4) != 0) {
		snprintf(err, errsize, "not a batch (no SVB1 head)");
		return -1;
	}
	count = get32(p + 4);
	p += 8;
	if (count > STORE_REPL_MAX_OPS) {
		snprintf(err, errsize, "%u writes, more than %u", count,
		    STORE_REPL_MAX_OPS);
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (end - p < 6) {
			snprintf(err, errsize, "write %u cut short", i);
			return -1;
		}
		op = p[0];
		klen = get32(p + 1);
		if (op != 'p' && op != 'd') {
			snprintf(err, errsize, "write %u: unknown operation "
			    "0x%02x", i, op);
			return -1;
		}
		if (klen < 2 || klen - 1 > STORE_REPL_MAX_KEY ||
		    (size_t)(end - p) - 5 < klen) {
			snprintf(err, errsize, "write %u: bad key length %u",
			    i, klen);
			return -1;
		}
		if ((db = dbof(arg, p[5])) < 0) {
			snprintf(err, errsize, "write %u: unknown database %u",
			    i, p[5]);
			return -1;
		}
		p += 6;
		klen--;
		key = p;
		p += klen;
		if (op == 'd') {
			store_batch_del(w, (unsigned)db, key, klen);
			continue;
		}
		if (end - p < 4 || (vlen = get32(p), (size_t)(end - p) - 4 <
		    vlen)) {
			snprintf(err, errsize, "write %u: value cut short", i);
			return -1;
		}
		v = store_batch_put(w, (unsigned)db, key, klen, vlen);
		if (vlen > 0)
			memcpy(v, p + 4, vlen);
		p += 4 + vlen;
	}
	if (p != end) {
		snprintf(err, errsize, "%zu octets after the last write",
		    (size_t)(end - p));
		return -1;
	}
	return 0;
}
