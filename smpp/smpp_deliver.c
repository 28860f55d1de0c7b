/*
 * smpp_deliver.c - a deliver_sm or data_sm the SMSC sent, read as what it
 * carries: a delivery receipt (its text, then the receipted_message_id and
 * message_state TLVs, which win) or an inbound message (its addresses and
 * body: the short_message, or the message_payload when that is empty).
 * Pure: smpp_session.c hands in the unpacked PDU and answers it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smpp.h"
#include "smpp_pdu.h"

/* src without white space around it into dst (size octets, cut). */
static void
trim_copy(char *dst, size_t size, const char *src)
{
	size_t n;

	while (*src == ' ' || *src == '\t' || *src == '\r' || *src == '\n')
		src++;
	n = strlen(src);
	while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\t' ||
	    src[n - 1] == '\r' || src[n - 1] == '\n'))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

int
smpp_deliver_receipt(const struct smpp_sm *sm, struct smpp_receipt *r)
{
	struct smpp_receipt t;
	int text_ok = -1;

	memset(r, 0, sizeof(*r));
	r->state = SMPP_MSG_UNKNOWN_STATE;
	r->err = -1;
	r->network_error = sm->network_error;
	memset(&t, 0, sizeof(t));
	t.err = -1;
	t.network_error = -1;
	if (sm->body_len > 0)
		text_ok = smpp_receipt_parse_text(sm->body, sm->body_len, &t);
	else if (sm->payload != NULL && sm->payload_len > 0)
		text_ok = smpp_receipt_parse_text(sm->payload,
		    sm->payload_len, &t);
	if (text_ok == 0) {
		trim_copy(r->message_id, sizeof(r->message_id), t.message_id);
		r->state = t.state;
		memcpy(r->stat, t.stat, sizeof(r->stat));
		r->stat[sizeof(r->stat) - 1] = 0;
		r->err = t.err;
	}
	if (sm->receipted_message_id[0] != 0)
		trim_copy(r->message_id, sizeof(r->message_id),
		    sm->receipted_message_id);
	if (sm->message_state >= 0)
		r->state = (enum smpp_msg_state)sm->message_state;
	r->from_tlv = sm->receipted_message_id[0] != 0 &&
	    sm->message_state >= 0;
	trim_copy(r->source, sizeof(r->source), sm->source);
	trim_copy(r->destination, sizeof(r->destination), sm->destination);
	return r->message_id[0] != 0 ? 0 : -1;
}

void
smpp_deliver_mo(const struct smpp_sm *sm, struct smpp_mo *mo)
{
	memset(mo, 0, sizeof(*mo));
	trim_copy(mo->source, sizeof(mo->source), sm->source);
	trim_copy(mo->destination, sizeof(mo->destination), sm->destination);
	mo->source_ton = sm->source_ton;
	mo->dest_ton = sm->dest_ton;
	mo->esm_class = sm->esm_class;
	mo->data_coding = sm->data_coding;
	if (sm->body_len == 0 && sm->payload != NULL) {
		mo->body = sm->payload;
		mo->body_len = sm->payload_len;
		mo->from_payload = 1;
	} else {
		mo->body = sm->body;
		mo->body_len = sm->body_len;
	}
}
