/*
 * notify.c - sd_notify(3) for a Type=notify unit; see notify.h.
 *
 * libsystemd does the sending (a datagram to $NOTIFY_SOCKET, nothing when
 * it is unset).  The watchdog ping is an event on the daemon's own loop,
 * not a thread: if the loop stops turning, the pings stop with it, which
 * is what the watchdog is for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"
#include "util.h"

struct notify {
	struct event *watchdog;   /* NULL: systemd asked for none */
	uint64_t usec;            /* WATCHDOG_USEC */
};

static void
send_state(const char *state)
{
	int rc = sd_notify(0, state);

	if (rc < 0)
		log_warn("notify.failed", "state=%s error=%d", state, -rc);
}

static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	send_state("WATCHDOG=1");
}

struct notify *
notify_new(struct event_base *base)
{
	struct notify *n = xcalloc(1, sizeof(*n));
	uint64_t usec = 0;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		/* Twice per period: one late turn of the loop is no restart. */
		usec /= 2;
		if (usec < 1000)
			usec = 1000;
		tv.tv_sec = (time_t)(usec / 1000000);
		tv.tv_usec = (suseconds_t)(usec % 1000000);
		n->usec = usec * 2;
		n->watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, n);
		if (n->watchdog != NULL && event_add(n->watchdog, &tv) == 0)
			log_info("notify.watchdog", "interval_ms=%llu",
			    (unsigned long long)(usec / 1000));
		else if (n->watchdog != NULL) {
			event_free(n->watchdog);
			n->watchdog = NULL;
		}
	}
	return n;
}

void
notify_ready(struct notify *n, const char *status)
{
	char buf[256];

	if (status == NULL) {
		send_state("READY=1");
		return;
	}
	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=%s", status);
	send_state(buf);
}

void
notify_reloading(struct notify *n)
{
	send_state("RELOADING=1");
}

void
notify_stopping(struct notify *n)
{
	send_state("STOPPING=1");
}

int
notify_watchdog(const struct notify *n)
{
	return n->watchdog != NULL;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	if (n->watchdog != NULL)
		event_free(n->watchdog);
	free(n);
}
