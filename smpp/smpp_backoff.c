/*
 * smpp_backoff.c - how long a session waits before it connects again.
 *
 * The reconnect policy as a pure function (STYLE.md habit 8): the session
 * hands it what happened and a random number, and arms its timer with the
 * answer.  Three rules, each for a peer we must not hammer:
 *
 *  - The plain wait starts at reconnect_min_ms and doubles at every drop up
 *    to reconnect_max_ms.
 *  - It goes back to reconnect_min_ms only after a bind that stayed up for
 *    SMPP_STABLE_BIND_MS.  Resetting it on every good bind_resp made an
 *    SMSC that accepts the bind and closes at once get a new bind every
 *    reconnect_min_ms forever (1.8 a second with the defaults); now such a
 *    peer sees the wait double like any other failure.
 *  - A bind refused for its credentials (ESME_RINVPASWD, ESME_RINVSYSID)
 *    waits reconnect_max_ms but never less than SMPP_AUTH_BACKOFF_MS: a
 *    wrong password does not fix itself, and retrying it fast gets an
 *    ESME's address banned.  The plain wait is left as it was.
 *
 * Jitter only adds: the wait is the base plus up to a quarter of it, so a
 * configured minimum (and the 60 s of a refused password) is a floor that
 * no draw goes under, and many sessions that dropped together spread out.
 */
#include <stdint.h>

#include "smpp.h"

int
smpp_backoff_next(int *cur_ms, int min_ms, int max_ms, int64_t up_ms,
    int auth_failed, uint32_t rnd)
{
	int64_t base;

	if (min_ms < 1)
		min_ms = 1;
	if (max_ms < min_ms)
		max_ms = min_ms;
	if (*cur_ms < min_ms || up_ms >= SMPP_STABLE_BIND_MS)
		*cur_ms = min_ms;
	if (*cur_ms > max_ms)
		*cur_ms = max_ms;
	if (auth_failed) {
		base = max_ms > SMPP_AUTH_BACKOFF_MS ? max_ms :
		    SMPP_AUTH_BACKOFF_MS;
	} else {
		base = *cur_ms;
		*cur_ms = *cur_ms > max_ms / 2 ? max_ms : *cur_ms * 2;
	}
	/* base + [0, base / 4): rnd / 2^32 of a quarter. */
	return (int)(base + (int64_t)(((uint64_t)base * rnd) >> 34));
}
