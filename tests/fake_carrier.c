/*
 * fake_carrier.c - the carrier.h functions over struct fake_carrier.h's
 * carrier: no sessions, no sockets; the test says what is up and how much
 * room there is, and reads what was submitted.
 */
#include <string.h>

#include "conf.h"
#include "fake_carrier.h"
#include "smpp.h"
#include "util.h"

void
fake_carrier_init(struct carrier *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->up = 1;
	c->room = 10;
}

int
carrier_up(const struct carrier *c)
{
	return c->up;
}

int
carrier_room(struct carrier *c)
{
	return c->up ? c->room : 0;
}

int
carrier_submit(struct carrier *c, const struct smpp_message *sm,
    void *cookie)
{
	struct fake_submit *s;

	if (!c->up || c->room <= 0 || c->nsub == FAKE_MAX_SUB)
		return -1;
	s = &c->sub[c->nsub++];
	memset(s, 0, sizeof(*s));
	s->cookie = cookie;
	util_strlcpy(s->destination, sm->destination, sizeof(s->destination));
	util_strlcpy(s->source, sm->source, sizeof(s->source));
	if (sm->body_len < sizeof(s->body))
		memcpy(s->body, sm->body, sm->body_len);
	s->esm_class = sm->esm_class;
	if (sm->validity_period != NULL)
		util_strlcpy(s->validity, sm->validity_period,
		    sizeof(s->validity));
	c->room--;
	return 0;
}

const char *
carrier_name(const struct carrier *c)
{
	return c->name;
}

int
carrier_latin1(const struct carrier *c)
{
	return 0;
}

int
carrier_long_payload(const struct carrier *c)
{
	return 0;
}

void
carrier_source_addr(const struct carrier *c, int alpha, uint8_t *ton,
    uint8_t *npi)
{
	*ton = alpha ? 5 : 1;
	*npi = alpha ? 0 : 1;
}

int
carrier_msgid_mode(const struct carrier *c)
{
	return CONF_MSGID_AUTO;
}

struct fake_ack fake_acked;

void
carrier_receipt_ack(struct smpp_session *sess, uint64_t ack,
    uint32_t status)
{
	fake_acked.n++;
	fake_acked.sess = sess;
	fake_acked.ack = ack;
	fake_acked.status = status;
}
