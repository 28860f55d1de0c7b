/*
 * fake_carrier.h - carriers without sockets, for the unit suites of the
 * modules that drive carriers (check_dispatch, check_flow).
 *
 * fake_carrier.c defines the carrier.h functions dispatch.c and dlr.c
 * call, over this struct carrier: a test links it instead of carrier.c
 * (the archive's carrier.o is then never pulled in), sets each carrier's
 * state by hand and answers its submits itself with
 * dispatch_submit_done().
 */
#ifndef FAKE_CARRIER_H
#define FAKE_CARRIER_H

#include <stdint.h>

#include "carrier.h"

#define FAKE_MAX_SUB 32

/* One submit_sm a fake carrier took. */
struct fake_submit {
	void *cookie;             /* hand it back to dispatch_submit_done() */
	char destination[24];
	char source[24];
	char body[256];
	uint8_t esm_class;
	char validity[20];        /* validity_period as submitted */
	int answered;             /* the test's own mark */
};

struct carrier {
	const char *name;
	int up;                   /* carrier_up() */
	int room;                 /* window slots; a submit takes one */
	int nsub;
	struct fake_submit sub[FAKE_MAX_SUB];
};

/* The last receipt answer (carrier_receipt_ack()) dlr.c gave, and how
 * many there were. */
struct fake_ack {
	int n;
	struct smpp_session *sess;
	uint64_t ack;
	uint32_t status;
};
extern struct fake_ack fake_acked;

/* c up, with 10 window slots, no submits. */
void fake_carrier_init(struct carrier *c, const char *name);

#endif
