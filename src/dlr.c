/*
 * dlr.c - delivery receipt -> the submit it reports on -> its verification.
 *
 * A receipt names the SMSC's message id; the msgid index in the store maps
 * (SMSC, normalised id) to the verification, so a receipt that arrives
 * after a restart still finds it.  The receipt is applied idempotently (a
 * duplicate sets the same state again) and answered only after the commit
 * that records it; when the store fails, the answer is ESME_RX_T_APPN so
 * the SMSC sends it again.  A receipt for an unknown id is answered
 * ESME_ROK (an SMSC would otherwise retry it forever) and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "carrier.h"
#include "dispatch.h"
#include "gw.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define ESME_RX_T_APPN 0x00000064u

struct dlr_ack {
	struct smpp_session *sess;
	uint64_t ack;
};

int
dlr_state_from_smpp(enum smpp_msg_state s)
{
	switch (s) {
	case SMPP_MSG_DELIVERED: return DLR_DELIVERED;
	case SMPP_MSG_UNDELIVERABLE: return DLR_UNDELIVERABLE;
	case SMPP_MSG_EXPIRED: return DLR_EXPIRED;
	case SMPP_MSG_DELETED:
	case SMPP_MSG_REJECTED: return DLR_REJECTED;
	case SMPP_MSG_ENROUTE:
	case SMPP_MSG_ACCEPTED: return DLR_PENDING;
	default: return DLR_UNKNOWN;
	}
}

static void
dlr_committed(void *arg, int result)
{
	struct dlr_ack *a = arg;

	carrier_receipt_ack(a->sess, a->ack,
	    result == STORE_OK ? 0 : ESME_RX_T_APPN);
	free(a);
}

void
dlr_receipt(void *arg, struct carrier *c, struct smpp_session *sess,
    const struct smpp_receipt *r, uint64_t ack)
{
	struct gw *gw = arg;
	struct store *st = gw->store;
	struct dlr_ack *a;
	struct verif v;
	char norm[80], id[32], snorm[80];
	int found = 0, state = dlr_state_from_smpp(r->state);

	gw->metrics.receipts++;
	if (smpp_msgid_normalise(r->message_id, 0, norm, sizeof(norm)) != 0 ||
	    store_msgid_get(st, carrier_name(c), norm, id, sizeof(id)) !=
	    STORE_OK) {
		gw->metrics.receipts_unmatched++;
		log_warn("dlr.unmatched", "smsc=%s message_id=%s stat=%s",
		    carrier_name(c), norm, r->stat);
		carrier_receipt_ack(sess, ack, 0);
		return;
	}
	memset(&v, 0, sizeof(v));
	if (store_verif_get(st, id, &v) != STORE_OK) {
		carrier_receipt_ack(sess, ack, 0);
		return;
	}
	for (int i = 0; i < v.nsend; i++) {
		struct verif_send *s = &v.send[i];
		if (strcmp(s->smsc, carrier_name(c)) != 0 ||
		    smpp_msgid_normalise(s->message_id, 0, snorm,
		    sizeof(snorm)) != 0 || strcmp(snorm, norm) != 0)
			continue;
		s->dlr = state;
		s->dlr_at = util_now();
		s->error = r->network_error >= 0 ? r->network_error : r->err;
		found = 1;
	}
	if (found) {
		v.updated_at = util_now();
		store_verif_put(st, &v);
	}
	log_info("dlr.applied", "id=%s smsc=%s state=%s", v.id,
	    carrier_name(c), dlr_strstate(state));
	verif_clear(&v);
	a = xmalloc(sizeof(*a));
	a->sess = sess;
	a->ack = ack;
	store_on_commit(st, dlr_committed, a);
}
