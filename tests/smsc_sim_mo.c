/*
 * smsc_sim_mo.c - the simulator's inbound messages: on SIGUSR2 the lines
 * of --mo FILE go as deliver_sm on the first receiving bind (and receipts
 * for ids given there).  See smsc_sim.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "peer.h"
#include "smpp.h"
#include "smpp_pdu.h"
#include "smsc_sim.h"

/* ---- inbound messages (--mo, SIGUSR2) ---- */

/* The first bound bind that receives. */
static struct conn *
mo_target(struct sim *sim)
{
	struct conn *c;

	TAILQ_FOREACH(c, &sim->conns, entry)
		if (c->state == CONN_BOUND &&
		    c->bind_type != SMPP_BIND_TRANSMITTER)
			return c;
	return NULL;
}

/* A --mo line {"receipt": ID, "from": HANDSET, "to": SENDER}: a
 * DELIVRD receipt for a message id this simulator may never have given
 * out (another SMSC of the same carrier did: a gateway's node bound here
 * must still match it), queued as its own receipts are.  0 or -1. */
static int
mo_receipt(struct sim *sim, struct conn *c, json_t *j, const char *rid)
{
	const char *from = json_string_value(json_object_get(j, "from"));
	const char *to = json_string_value(json_object_get(j, "to"));
	struct job *k;
	char *end;

	if (from == NULL || to == NULL || (k = job_get(sim)) == NULL)
		return -1;
	k->kind = JOB_DLR;
	k->due_ms = now_ms();
	k->conn_id = c->id;
	k->msgid = strtoull(rid, &end, sim->o.id_hex ? 16 : 10);
	k->delivered = 1;
	k->submitted = time(NULL);
	memcpy(k->system_id, c->system_id, sizeof(k->system_id));
	snprintf(k->source, sizeof(k->source), "%s", from);
	snprintf(k->destination, sizeof(k->destination), "%s", to);
	k->text20[0] = '\0';
	fifo_push(&sim->dlrs, k);
	return *end == '\0' && end != rid ? 0 : -1;
}

/* Send one MO line on c.  0, or -1 (logged by the caller). */
static int
mo_send(struct sim *sim, struct conn *c, json_t *j)
{
	const char *rid = json_string_value(json_object_get(j, "receipt"));
	const char *from = json_string_value(json_object_get(j, "from"));
	const char *to = json_string_value(json_object_get(j, "to"));
	const char *text = json_string_value(json_object_get(j, "text"));
	json_t *udh = json_object_get(j, "udh");
	int payload = json_is_true(json_object_get(j, "payload"));
	int ref16 = json_is_true(json_object_get(j, "ref16"));
	uint8_t body[SMPP_MAX_PAYLOAD + 16], out[SMPP_MAX_PAYLOAD + 512];
	uint8_t dc, esm = 0;
	size_t units, off = 0;
	int n, len;

	if (rid != NULL)
		return mo_receipt(sim, c, j, rid);
	if (from == NULL || to == NULL || text == NULL)
		return -1;
	if (json_array_size(udh) == 3) {
		long ref = (long)json_integer_value(json_array_get(udh, 0));
		body[off++] = ref16 ? 6 : 5;
		body[off++] = ref16 ? 0x08 : 0x00;
		body[off++] = ref16 ? 4 : 3;
		if (ref16)
			body[off++] = (uint8_t)(ref >> 8);
		body[off++] = (uint8_t)ref;
		body[off++] = (uint8_t)json_integer_value(json_array_get(udh, 1));
		body[off++] = (uint8_t)json_integer_value(json_array_get(udh, 2));
		esm = 0x40;
	}
	n = smpp_text_encode(text, sim->o.latin1, body + off,
	    sizeof(body) - off, &dc, &units);
	if (n < 0 || (!payload && off + (size_t)n > 254))
		return -1;
	if (++c->seq > 0x7FFFFFFF)
		c->seq = 1;
	len = smpp_pdu_pack_deliver(out, sizeof(out), c->seq, from, to, esm,
	    dc, payload ? NULL : body, payload ? 0 : off + (size_t)n, NULL, 0);
	if (len < 0)
		return -1;
	if (payload) {
		/* message_payload TLV (0x0424) after the body, by hand. */
		size_t pl = off + (size_t)n;
		out[len++] = 0x04;
		out[len++] = 0x24;
		out[len++] = (uint8_t)(pl >> 8);
		out[len++] = (uint8_t)pl;
		memcpy(out + len, body, pl);
		len += (int)pl;
		out[0] = (uint8_t)(len >> 24);
		out[1] = (uint8_t)(len >> 16);
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
	}
	conn_send(c, out, len);
	sim_log(sim, "event=mo.sent conn=%llu seq=%u",
	    (unsigned long long)c->id, c->seq);
	return 0;
}

/* SIGUSR2: send every line of --mo FILE. */
void
mo_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim *sim = arg;
	struct conn *c = mo_target(sim);
	char line[4096];
	int sent = 0, lineno = 0;
	FILE *f;

	if (sim->o.mo_file == NULL || c == NULL ||
	    (f = fopen(sim->o.mo_file, "r")) == NULL) {
		sim_log(sim, "event=mo.unsent reason=%s", c == NULL ?
		    "no_receiving_bind" : "no_file");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *j = json_loads(line, 0, NULL);
		long repeat;

		lineno++;
		if (j == NULL)
			continue;
		repeat = (long)json_integer_value(json_object_get(j,
		    "repeat"));
		for (long i = 0; i < (repeat > 0 ? repeat : 1); i++) {
			if (mo_send(sim, c, j) == 0)
				sent++;
			else
				sim_log(sim, "event=mo.unsent line=%d",
				    lineno);
		}
		json_decref(j);
	}
	fclose(f);
	sim_log(sim, "event=mo.done sent=%d", sent);
}
