/*
 * gw.h - the daemon: the one place that knows every module and wires them.
 *
 * gw.c builds the configuration's carriers, the store, the listener, the
 * key table, the dispatcher, the receipt matcher, the webhook sender and
 * the flows on one event_base, hands each the narrow handles it needs and
 * forwards what they report (carrier.h and dispatch.h callbacks) to the
 * module that acts on it.  Nothing below gw.c includes this header; there
 * are no globals, so tests can build two.
 */
#ifndef GW_H
#define GW_H

struct conf;
struct event_base;
struct gw;

/* Build the daemon on base from conf (ownership of conf passes to the gw):
 * load the secret, open the store, listen, create the carriers (not yet
 * connected).  Returns NULL and a malloc'd *err on failure. */
struct gw *gw_new(struct event_base *base, struct conf *conf, char **err);
/* Connect carriers, resume queued sends, arm the sweep and the signals;
 * then tell systemd READY=1 (notify.h) and arm its watchdog. */
int gw_start(struct gw *);
/* Swap in a new configuration (SIGHUP): keys, routes, templates, limits;
 * carriers whose [smsc] section did not change keep their binds; the
 * HTTPS pair is read again (new connections get it), and a pair that does
 * not load refuses the whole reload.  Takes ownership of conf.  Returns 0,
 * or -1 (conf freed, old one kept, event=gw.reload_refused logged). */
int gw_reload(struct gw *, struct conf *conf);
/* Begin a graceful stop: no new HTTP, drain in-flight submits (bounded),
 * unbind, commit, leave the loop. */
void gw_drain(struct gw *);
/* The exit status the daemon should end with. */
int gw_exit_code(const struct gw *);
void gw_free(struct gw *);

#endif
