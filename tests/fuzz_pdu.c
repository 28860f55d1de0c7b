/*
 * fuzz_pdu.c - libFuzzer target for smpp/smpp_pdu.c, the parser of every
 * byte an SMSC sends us.
 *
 * The input is treated as a TCP stream: it goes into an evbuffer, PDUs are
 * framed off it in a loop, and each is handed to the parser its header's
 * command_id suggests (smpp_pdu_unpack_sm for submit_sm/deliver_sm/data_sm,
 * smpp_pdu_resp_id for responses, smpp_pdu_unpack_bind for binds,
 * smpp_pdu_unpack_cancel for cancel_sm, smpp_pdu_unpack_cancel_resp for
 * cancel_sm_resp; a cancel_sm read back is packed again and must come out
 * the same), plus
 * the TLV pre-scan at every offset.  A bad command_length ends the stream,
 * as it ends a session.  Build:
 *   clang -g -fsanitize=fuzzer,address,undefined -Isrc -Ismpp \
 *       $(pkg-config --cflags libevent libsmpp34) tests/fuzz_pdu.c \
 *       smpp/smpp_pdu.c $(pkg-config --libs libevent libsmpp34)
 * Seeds: tests/data/fuzz_pdu/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "smpp_pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[SMPP_MAX_PDU + 1];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in = evbuffer_new();
	struct smpp_header h;
	struct smpp_sm sm;
	struct smpp_cancel_fields cf;
	struct smpp_cancel cm;
	static uint8_t again[SMPP_MAX_PDU + 1];
	uint32_t status;
	char id[66], sid[16], pw[9], st[13];
	int n2;
	int n = 0;

	if (in == NULL)
		return 0;
	evbuffer_add(in, data, size);
	while (n++ < 1000 && smpp_pdu_frame(in, buf, &h) == SMPP_FRAME_OK) {
		if (buf[h.length] != 0)
			__builtin_trap();	/* the guard octet */
		switch (h.id) {
		case SMPP_SUBMIT_SM:
		case SMPP_DELIVER_SM:
		case SMPP_DATA_SM:
			if (smpp_pdu_unpack_sm(buf, &h, &sm) == 0) {
				if (sm.body_len > 254 || (sm.payload &&
				    sm.payload + sm.payload_len >
				    buf + h.length))
					__builtin_trap();
				if (strlen(sm.receipted_message_id) > 65)
					__builtin_trap();
			}
			break;
		case SMPP_CMD_BIND_RECEIVER:
		case SMPP_CMD_BIND_TRANSMITTER:
		case SMPP_CMD_BIND_TRANSCEIVER:
			smpp_pdu_unpack_bind(buf, &h, sid, pw, st);
			break;
		case SMPP_CANCEL_SM:
			if (smpp_pdu_unpack_cancel(buf, &h, &cf) != 0)
				break;
			if (strlen(cf.message_id) > 64 ||
			    strlen(cf.destination) > 20)
				__builtin_trap();
			/* What we read, we write back octet for octet (but
			 * command_status, 0 in a request we send). */
			cm.message_id = cf.message_id;
			cm.service_type = cf.service_type;
			cm.source = cf.source;
			cm.source_ton = cf.source_ton;
			cm.source_npi = cf.source_npi;
			cm.destination = cf.destination;
			cm.dest_ton = cf.dest_ton;
			cm.dest_npi = cf.dest_npi;
			n2 = smpp_pdu_pack_cancel(again, sizeof(again), h.seq,
			    &cm);
			if (n2 >= 0 && (n2 != (int)h.length ||
			    memcmp(again + 4, buf + 4, 4) != 0 ||
			    memcmp(again + 12, buf + 12, h.length - 12) != 0))
				__builtin_trap();
			break;
		case SMPP_CANCEL_SM | SMPP_RESP:
			if (smpp_pdu_unpack_cancel_resp(buf, &h, &status) ==
			    0 && (status != h.status || h.length != 16))
				__builtin_trap();
			break;
		default:
			if (h.id & SMPP_RESP)
				smpp_pdu_resp_id(buf, &h, id, sizeof(id));
			break;
		}
		if (h.length > SMPP_HEADER_LEN)
			smpp_pdu_check_tlvs(buf, h.length,
			    SMPP_HEADER_LEN + buf[SMPP_HEADER_LEN] %
			    (h.length - SMPP_HEADER_LEN));
	}
	evbuffer_free(in);
	return 0;
}
