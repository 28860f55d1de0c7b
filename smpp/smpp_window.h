/*
 * smpp_window.h - the outstanding requests of one SMPP bind, by sequence
 * number (internal to smpp/).
 *
 * A window holds at most `size` requests, each with its sequence number,
 * a deadline (monotonic milliseconds) and the caller's cookie.  It also
 * hands out sequence numbers: 1..0x7FFFFFFF, wrapping, never one that is
 * still outstanding.  Lookup by sequence number is a small open-addressed
 * table; finding the earliest deadline is a scan of it (windows are tens of
 * entries).  The window owns nothing the cookies point to.
 */
#ifndef SMPP_WINDOW_H
#define SMPP_WINDOW_H

#include <stdint.h>

struct smpp_window;

/* A window for size (>= 1) requests.  Returns NULL when out of memory or
 * size is out of range (1..65536). */
struct smpp_window *smpp_window_new(int size);
void smpp_window_free(struct smpp_window *);

/* The next sequence number to use: 1..0x7FFFFFFF after the last one handed
 * out, wrapping, skipping numbers still in the window. */
uint32_t smpp_window_next_seq(struct smpp_window *);

/* Record seq with its deadline and cookie.  Returns 0, or -1 when the
 * window is full, seq is 0 or seq is already outstanding. */
int smpp_window_add(struct smpp_window *, uint32_t seq, int64_t deadline_ms,
    void *cookie);
/* Remove seq.  Returns 0 and sets *cookie, or -1 when seq is not
 * outstanding (a late or unsolicited response). */
int smpp_window_take(struct smpp_window *, uint32_t seq, void **cookie);
/* Remove one request whose deadline is <= now_ms.  Returns 1 and sets *seq
 * and *cookie, or 0 when none has expired. */
int smpp_window_take_expired(struct smpp_window *, int64_t now_ms,
    uint32_t *seq, void **cookie);
/* Remove any one request (to empty the window).  Returns 1 or 0. */
int smpp_window_take_any(struct smpp_window *, uint32_t *seq, void **cookie);
/* The earliest deadline.  Returns 0 and sets *deadline_ms, or -1 when the
 * window is empty. */
int smpp_window_earliest(const struct smpp_window *, int64_t *deadline_ms);
int smpp_window_used(const struct smpp_window *);
int smpp_window_size(const struct smpp_window *);

#endif /* SMPP_WINDOW_H */
