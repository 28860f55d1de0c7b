/*
 * store_journal.c - the LMDB store's journal (store_journal.h).
 *
 * The ring grows in JOURNAL_GROW steps of zeros, written and flushed
 * before the first record that needs them: a record's flush then writes
 * its own octets and no file metadata (an append past the end, or into
 * a hole or an unwritten extent, would make every flush a journal commit
 * of the file system as well).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_journal.h"
#include "util.h"

#define JOURNAL_GROW (1u << 20)
#define JOURNAL_CAP_MIN (64u << 10)

struct journal {
	int fd;
	uint64_t id;
	uint64_t cap;           /* the ring's size */
	uint64_t size;          /* the file's size */
	/* Ring offsets: the first record since the last checkpoint (== tail
	 * when none), where the next goes, and the last one's start. */
	uint64_t head, tail, last_at;
	uint64_t seq;           /* the last record's number (0: none) */
	uint64_t ck_seq, ck_off; /* at the last checkpoint */
	uint64_t used;          /* octets since the last checkpoint */
	uint64_t undo_head, undo_tail, undo_last, undo_used; /* before the
	                         * last append (journal_unappend()) */
	uint8_t *buf;           /* a record being written or read */
	size_t bufcap;
	void (*written)(void *); /* journal_on_written() */
	void *written_arg;
};

static void
le_put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
le_get(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t
fnv64(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t
record_hash(uint64_t id, const uint8_t *lenseq, const uint8_t *p, size_t len)
{
	uint8_t ib[8];

	le_put(ib, id, 8);
	return fnv64(fnv64(fnv64(14695981039346656037ull, ib, 8), lenseq, 12),
	    p, len);
}

void
journal_record_head(uint8_t h[JOURNAL_REC_HEAD], uint64_t id, uint64_t seq,
    const uint8_t *payload, size_t len)
{
	memcpy(h, "SVJ1", 4);
	le_put(h + 4, len, 4);
	le_put(h + 8, seq, 8);
	le_put(h + 16, record_hash(id, h + 4, payload, len), 8);
}

int
journal_record_check(const uint8_t *p, size_t avail, uint64_t id,
    uint64_t seq, size_t *len)
{
	uint64_t n;

	if (avail < JOURNAL_REC_HEAD || memcmp(p, "SVJ1", 4) != 0 ||
	    le_get(p + 8, 8) != seq)
		return -1;
	n = le_get(p + 4, 4);
	if (n > avail - JOURNAL_REC_HEAD ||
	    le_get(p + 16, 8) != record_hash(id, p + 4, p + JOURNAL_REC_HEAD,
	    (size_t)n))
		return -1;
	*len = (size_t)n;
	return 0;
}

/* ---- the file ---------------------------------------------------------- */

static int
full_pwrite(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		if ((w = pwrite(fd, b, n, (off_t)off)) < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Octets read at off (fewer at the end of the file), or -errno. */
static ssize_t
full_pread(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if ((r = pread(fd, b + got, n - got, (off_t)(off + got))) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static void
buf_need(struct journal *j, size_t n)
{
	if (j->bufcap < n) {
		j->bufcap = n < 65536 ? 65536 : n;
		free(j->buf);
		j->buf = xmalloc(j->bufcap);
	}
}

/* The ring written with zeros up to ring offset end (rounded up to a
 * JOURNAL_GROW step, at most the cap).  0 or an errno. */
static int
grow(struct journal *j, uint64_t end)
{
	static const uint8_t zero[65536];
	uint64_t want = JOURNAL_HEAD + end, at;
	int rc;

	if (want <= j->size)
		return 0;
	want = (want + JOURNAL_GROW - 1) / JOURNAL_GROW * JOURNAL_GROW;
	if (want > JOURNAL_HEAD + j->cap)
		want = JOURNAL_HEAD + j->cap;
	for (at = j->size; at < want; at += sizeof(zero)) {
		size_t n = want - at < sizeof(zero) ? (size_t)(want - at) :
		    sizeof(zero);
		if ((rc = full_pwrite(j->fd, zero, n, at)) != 0)
			return rc;
	}
	j->size = want;
	return 0;
}

/* A new journal: a new id in the head, the ring empty. */
static int
start_afresh(struct journal *j)
{
	uint8_t h[JOURNAL_HEAD];
	int rc;

	do {
		if (getrandom(&j->id, sizeof(j->id), 0) != sizeof(j->id))
			return errno != 0 ? errno : EIO;
	} while (j->id == 0);
	memset(h, 0, sizeof(h));
	memcpy(h, "SVJH", 4);
	le_put(h + 4, 1, 4);
	le_put(h + 8, j->id, 8);
	/* The old ring goes: no record of another id can pass anyway, but
	 * a short file is a clean start. */
	if (ftruncate(j->fd, 0) != 0)
		return errno;
	j->size = 0;
	if ((rc = full_pwrite(j->fd, h, sizeof(h), 0)) != 0)
		return rc;
	j->size = JOURNAL_HEAD;
	if ((rc = grow(j, JOURNAL_GROW)) != 0)
		return rc;
	if (fdatasync(j->fd) != 0)
		return errno;
	j->head = j->tail = j->last_at = 0;
	j->seq = j->ck_seq = j->ck_off = j->used = 0;
	return 0;
}

int
journal_open(struct journal **out, const char *dir, uint64_t cap,
    const struct journal_pos *pos, char *err, size_t errsize)
{
	struct journal *j;
	uint8_t h[16];
	struct stat sb;
	char path[4096];
	int rc;

	*out = NULL;
	if (cap == 0)
		cap = JOURNAL_CAP_DEFAULT;
	if (cap < JOURNAL_CAP_MIN)
		cap = JOURNAL_CAP_MIN;
	snprintf(path, sizeof(path), "%s/journal", dir);
	j = xcalloc(1, sizeof(*j));
	j->cap = cap;
	if ((j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 ||
	    fstat(j->fd, &sb) != 0) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		journal_close(j);
		return -1;
	}
	j->size = (uint64_t)sb.st_size;
	if (pos != NULL && pos->id != 0 && full_pread(j->fd, h, sizeof(h), 0) ==
	    (ssize_t)sizeof(h) && memcmp(h, "SVJH", 4) == 0 &&
	    le_get(h + 8, 8) == pos->id) {
		j->id = pos->id;
		j->seq = j->ck_seq = pos->seq;
		j->head = j->tail = j->last_at = j->ck_off = pos->off;
		*out = j;
		return 0;
	}
	if (pos != NULL && pos->id != 0) {
		/* LMDB names a journal this file is not: what it held since
		 * LMDB's last commit is not here to recover. */
		snprintf(err, errsize, "%s is not the journal this store was "
		    "written with (replaced or removed?)", path);
		journal_close(j);
		return -1;
	}
	if ((rc = start_afresh(j)) != 0) {
		snprintf(err, errsize, "%s: %s", path, strerror(rc));
		journal_close(j);
		return -1;
	}
	*out = j;
	return 0;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->buf);
	free(j);
}

/* ---- reading back ------------------------------------------------------ */

/* The record seq at ring offset at into j->buf: its length, or -1 when
 * it is not there, or -errno. */
static int64_t
read_record(struct journal *j, uint64_t at, uint64_t seq)
{
	uint8_t h[JOURNAL_REC_HEAD];
	ssize_t r;
	size_t len;
	uint64_t n;

	if (at + JOURNAL_REC_HEAD > j->cap)
		return -1;
	r = full_pread(j->fd, h, sizeof(h), JOURNAL_HEAD + at);
	if (r < 0)
		return r;
	if (r < (ssize_t)sizeof(h) || memcmp(h, "SVJ1", 4) != 0 ||
	    le_get(h + 8, 8) != seq)
		return -1;
	n = le_get(h + 4, 4);
	if (at + JOURNAL_REC_HEAD + n > j->cap)
		return -1;
	buf_need(j, JOURNAL_REC_HEAD + (size_t)n);
	r = full_pread(j->fd, j->buf, JOURNAL_REC_HEAD + (size_t)n,
	    JOURNAL_HEAD + at);
	if (r < 0)
		return r;
	if (journal_record_check(j->buf, (size_t)r, j->id, seq, &len) != 0)
		return -1;
	return (int64_t)len;
}

int
journal_replay(struct journal *j, const struct journal_pos *pos,
    int (*fn)(void *arg, uint64_t seq, const uint8_t *p, size_t len),
    void *arg, uint64_t *found)
{
	uint64_t seq = pos->seq, at = pos->off, start;
	int64_t len;
	int rc;

	*found = 0;
	j->head = at;
	j->used = 0;
	for (;;) {
		start = at;
		len = read_record(j, at, seq + 1);
		if (len == -1 && at != 0) {
			start = 0;
			len = read_record(j, 0, seq + 1);
		}
		if (len < -1)
			return (int)len;
		if (len == -1)
			break;
		seq++;
		at = start + JOURNAL_REC_HEAD + (uint64_t)len;
		if (*found == 0)
			j->head = start;
		j->used += JOURNAL_REC_HEAD + (uint64_t)len;
		j->last_at = start;
		(*found)++;
		if ((rc = fn(arg, seq, j->buf + JOURNAL_REC_HEAD,
		    (size_t)len)) != 0)
			return rc;
	}
	j->seq = seq;
	j->tail = at;
	return 0;
}

/* ---- appending --------------------------------------------------------- */

void
journal_on_written(struct journal *j, void (*fn)(void *), void *arg)
{
	j->written = fn;
	j->written_arg = arg;
}

int
journal_append(struct journal *j, const uint8_t *p, size_t len,
    struct journal_pos *pos)
{
	uint64_t n = JOURNAL_REC_HEAD + (uint64_t)len, at;
	int rc;

	if (len > UINT32_MAX || n > j->cap)
		return JOURNAL_FULL;
	/* The records since the checkpoint sit in [head, tail), or wrap:
	 * [head, cap) and [0, tail). */
	if (j->used == 0 || j->tail >= j->head) {
		if (j->tail + n <= j->cap)
			at = j->tail;
		else if (j->used == 0 || n < j->head)
			at = 0;
		else
			return JOURNAL_FULL;
	} else if (j->tail + n < j->head) {
		at = j->tail;
	} else {
		return JOURNAL_FULL;
	}
	if ((rc = grow(j, at + n)) != 0)
		return rc;
	buf_need(j, (size_t)n);
	journal_record_head(j->buf, j->id, j->seq + 1, p, len);
	memcpy(j->buf + JOURNAL_REC_HEAD, p, len);
	if ((rc = full_pwrite(j->fd, j->buf, (size_t)n, JOURNAL_HEAD + at)) != 0)
		return rc;
	if (j->written != NULL)
		j->written(j->written_arg);
	if (fdatasync(j->fd) != 0)
		return errno;
	j->undo_head = j->head;
	j->undo_tail = j->tail;
	j->undo_last = j->last_at;
	j->undo_used = j->used;
	if (j->used == 0)
		j->head = at;
	j->seq++;
	j->last_at = at;
	j->tail = at + n;
	j->used += n;
	pos->id = j->id;
	pos->seq = j->seq;
	pos->off = j->tail;
	return 0;
}

int
journal_unappend(struct journal *j)
{
	uint8_t zero[JOURNAL_REC_HEAD] = { 0 };
	int rc;

	if (j->seq == j->ck_seq)
		return 0;               /* nothing since the checkpoint */
	if ((rc = full_pwrite(j->fd, zero, sizeof(zero),
	    JOURNAL_HEAD + j->last_at)) != 0)
		return rc;
	if (fdatasync(j->fd) != 0)
		return errno;
	j->seq--;
	j->head = j->undo_head;
	j->tail = j->undo_tail;
	j->last_at = j->undo_last;
	j->used = j->undo_used;
	return 0;
}

void
journal_checkpoint(struct journal *j)
{
	j->head = j->tail;
	j->used = 0;
	j->ck_seq = j->seq;
	j->ck_off = j->tail;
}

void
journal_position(const struct journal *j, struct journal_pos *now,
    struct journal_pos *checkpoint)
{
	if (now != NULL) {
		now->id = j->id;
		now->seq = j->seq;
		now->off = j->tail;
	}
	if (checkpoint != NULL) {
		checkpoint->id = j->id;
		checkpoint->seq = j->ck_seq;
		checkpoint->off = j->ck_off;
	}
}

uint64_t
journal_used(const struct journal *j)
{
	return j->used;
}

uint64_t
journal_cap(const struct journal *j)
{
	return j->cap;
}
