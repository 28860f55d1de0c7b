/*
 * fuzz_journal.c - libFuzzer target for the store's journal replay
 * (src/store_journal.c): whatever a crash, a bad disk or a stray write
 * left in the ring, the replay hands over only whole records with the
 * expected numbers, each within the ring, and stops.
 *
 * The input is the ring: it is written after the head of a journal whose
 * id the replay expects, then replayed from the start.  Records the input
 * holds verbatim pass only if their hashes match, so the target also
 * appends one record of its own after the input's and checks that the
 * replay finds it when the input held nothing that passed.
 *
 *	./configure --enable-fuzz CC=clang CXX=clang++ && make tests/fuzz_journal
 *	tests/fuzz_journal -max_total_time=30
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_journal.h"

#define CAP (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_journal.XXXXXX";
static char path[64];

struct walk {
	uint64_t last;
	int n;
};

static int
check(void *arg, uint64_t seq, const uint8_t *p, size_t len)
{
	struct walk *w = arg;

	if (seq != w->last + 1 || len > CAP)
		abort();
	if (len > 0 && (p[0] | p[len - 1]) == 0x100)
		abort();                /* touch both ends (ASan) */
	w->last = seq;
	w->n++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal_pos start, pos;
	struct journal *j;
	struct walk w = { 0, 0 };
	uint64_t found;
	char err[256];
	FILE *f;

	if (path[0] == '\0') {
		if (mkdtemp(dir) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/journal", dir);
	}
	unlink(path);
	if (journal_open(&j, dir, CAP, NULL, err, sizeof(err)) != 0)
		abort();
	journal_position(j, &start, NULL);
	journal_close(j);
	if (size > CAP)
		size = CAP;
	if ((f = fopen(path, "r+")) == NULL ||
	    fseek(f, JOURNAL_HEAD, SEEK_SET) != 0 ||
	    fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	if (journal_open(&j, dir, CAP, &start, err, sizeof(err)) != 0)
		abort();
	if (journal_replay(j, &start, check, &w, &found) != 0 ||
	    found != (uint64_t)w.n)
		abort();
	/* The next record goes after what was found, and comes back. */
	if (journal_append(j, (const uint8_t *)"tail", 4, &pos) == 0) {
		journal_close(j);
		if (journal_open(&j, dir, CAP, &start, err, sizeof(err)) != 0)
			abort();
		w.last = 0;
		w.n = 0;
		if (journal_replay(j, &start, check, &w, &found) != 0 ||
		    found != pos.seq)
			abort();
	}
	journal_close(j);
	return 0;
}
