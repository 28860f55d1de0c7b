/*
 * notify.h - telling systemd how the daemon is (sd_notify(3)), for a
 * Type=notify unit: READY=1 once the listener is up and the binds are
 * being tried, RELOADING=1 and READY=1 around a SIGHUP, STOPPING=1 when
 * the drain begins, and WATCHDOG=1 from a timer on the event loop, so a
 * loop that is stuck stops pinging and systemd restarts the daemon.
 *
 * Without NOTIFY_SOCKET in the environment (not under systemd) every
 * call does nothing; without WATCHDOG_USEC (or with a WATCHDOG_PID that
 * is not ours) there is no timer.  gw.c owns the one struct notify and
 * calls it; nothing else does.  Failures to send are not errors: systemd
 * acts on what it does not hear (a start or watchdog timeout).
 */
#ifndef NOTIFY_H
#define NOTIFY_H

struct event_base;
struct notify;

/* Read the environment and, when systemd asked for a watchdog, arm a
 * timer on base that sends WATCHDOG=1 every half of WATCHDOG_USEC.
 * Returns the handle (never NULL); free it with notify_free. */
struct notify *notify_new(struct event_base *base);

/* READY=1 with STATUS=status (status may be NULL). */
void notify_ready(struct notify *, const char *status);
/* RELOADING=1: a SIGHUP is being read; notify_ready() follows. */
void notify_reloading(struct notify *);
/* STOPPING=1: the drain began. */
void notify_stopping(struct notify *);
/* 1 when a watchdog timer runs (for tests and the log). */
int notify_watchdog(const struct notify *);

/* Stop the timer and free (NULL is allowed). */
void notify_free(struct notify *);

#endif
