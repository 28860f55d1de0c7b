/*
 * smpp_pdu.h - SMPP framing and libsmpp34 packing (internal to smpp/ and to
 * the tests, the simulator and the fuzz targets; src/ never includes it).
 *
 * smpp_pdu.c is the only file that calls libsmpp34.  It frames the byte
 * stream by command_length, decodes the 16-byte header itself (so a
 * response is matched by sequence number even when libsmpp34 refuses its
 * body), and hands bodies to libsmpp34 from a NUL-guarded copy after
 * checking the TLV area (count <= SMPP_MAX_TLVS, each length within bounds).
 * libsmpp34's global error state is read here only and turned into return
 * values.
 */
#ifndef SMPP_PDU_H
#define SMPP_PDU_H

#include <stddef.h>
#include <stdint.h>

#include "smpp.h"

struct evbuffer;

#define SMPP_HEADER_LEN 16
#define SMPP_MAX_PDU    65536  /* larger command_length closes the session */
#define SMPP_MAX_TLVS   16

/* command_id values used across smpp/ and the simulator. */
#define SMPP_GENERIC_NACK         0x80000000u
#define SMPP_CMD_BIND_RECEIVER        0x00000001u
#define SMPP_CMD_BIND_TRANSMITTER     0x00000002u
#define SMPP_SUBMIT_SM            0x00000004u
#define SMPP_DELIVER_SM           0x00000005u
#define SMPP_CANCEL_SM            0x00000008u
#define SMPP_UNBIND               0x00000006u
#define SMPP_CMD_BIND_TRANSCEIVER     0x00000009u
#define SMPP_OUTBIND              0x0000000Bu
#define SMPP_ENQUIRE_LINK         0x00000015u
#define SMPP_DATA_SM              0x00000103u
#define SMPP_RESP                 0x80000000u /* bit set in every response */

struct smpp_header {
	uint32_t length, id, status, seq;
};

/* Decode the 16-byte header at p (big-endian). */
void smpp_pdu_header_decode(const uint8_t *p, struct smpp_header *);
/* Encode a header-only PDU (enquire_link, unbind, their responses,
 * generic_nack) into out[16]. */
void smpp_pdu_header_encode(uint8_t *out, uint32_t id, uint32_t status,
    uint32_t seq);

enum smpp_frame_result {
	SMPP_FRAME_MORE = 0,       /* not a whole PDU buffered yet */
	SMPP_FRAME_OK = 1,         /* one PDU removed into buf */
	SMPP_FRAME_BAD_LENGTH = -1 /* command_length < 16 or > SMPP_MAX_PDU */
};
/* Take one whole PDU off the front of in.  buf must hold SMPP_MAX_PDU + 1
 * octets; on SMPP_FRAME_OK buf[h->length] is 0 (a guard for libsmpp34's
 * string reads).  On SMPP_FRAME_BAD_LENGTH h holds the bad header (its seq
 * may be used for the generic_nack) and nothing is removed. */
enum smpp_frame_result smpp_pdu_frame(struct evbuffer *in, uint8_t *buf,
    struct smpp_header *h);

/* Check the TLV area of a deliver_sm/data_sm/submit_sm body: at most
 * SMPP_MAX_TLVS TLVs, each inside the PDU.  off is where the TLVs start.
 * Returns the TLV count or -1. */
int smpp_pdu_check_tlvs(const uint8_t *pdu, size_t len, size_t off);

/* Pack a bind of the given type.  Returns the PDU length or -1. */
int smpp_pdu_pack_bind(uint8_t *out, size_t outsize, enum smpp_bind_type,
    uint32_t seq, const char *system_id, const char *password,
    const char *system_type);
/* Pack a submit_sm.  Returns the PDU length or -1 (a field too long). */
int smpp_pdu_pack_submit(uint8_t *out, size_t outsize, uint32_t seq,
    const struct smpp_message *);
/* Pack a submit_sm_resp / deliver_sm_resp / data_sm_resp with message_id
 * (the simulator's side).  Returns the PDU length or -1. */
int smpp_pdu_pack_resp(uint8_t *out, size_t outsize, uint32_t id,
    uint32_t status, uint32_t seq, const char *message_id);
/* Pack a deliver_sm (the simulator sends receipts and MO with it).  tlv_id
 * non-NULL adds receipted_message_id and message_state TLVs. */
int smpp_pdu_pack_deliver(uint8_t *out, size_t outsize, uint32_t seq,
    const char *source, const char *destination, uint8_t esm_class,
    uint8_t data_coding, const uint8_t *body, size_t body_len,
    const char *tlv_id, int tlv_state);

/* The parts of a submit_sm or deliver_sm the session and the simulator
 * use.  Octet strings point into the caller's pdu buffer. */
struct smpp_sm {
	char service_type[6];
	uint8_t source_ton, source_npi;
	char source[21];
	uint8_t dest_ton, dest_npi;
	char destination[21];
	uint8_t esm_class, registered_delivery, data_coding;
	char validity_period[17];
	const uint8_t *body;
	size_t body_len;
	/* TLVs of interest (receipts). */
	char receipted_message_id[66]; /* "" when absent */
	int message_state;             /* -1 when absent */
	int network_error;             /* -1 when absent */
	const uint8_t *payload;        /* message_payload TLV, NULL if absent */
	size_t payload_len;
};
/* Unpack a submit_sm, deliver_sm or data_sm (h->id says which) from a
 * framed, NUL-guarded PDU.  Returns 0 or -1 (refused: the session answers
 * with an error status, nothing crashes and nothing leaks). */
int smpp_pdu_unpack_sm(const uint8_t *pdu, const struct smpp_header *h,
    struct smpp_sm *out);
/* smpp_deliver.c: a deliver_sm/data_sm as a receipt (0, or -1 when no
 * message id could be found) and as an inbound message (its body points
 * into sm's). */
int smpp_deliver_receipt(const struct smpp_sm *sm, struct smpp_receipt *r);
void smpp_deliver_mo(const struct smpp_sm *sm, struct smpp_mo *mo);
/* Read the message_id of a submit_sm_resp (or the system_id of a
 * bind_resp) by hand within the PDU bounds.  Returns 0 (out may be "") or
 * -1. */
int smpp_pdu_resp_id(const uint8_t *pdu, const struct smpp_header *h,
    char *out, size_t outsize);
/* Unpack a bind request (the simulator's side).  Returns 0 or -1. */
int smpp_pdu_unpack_bind(const uint8_t *pdu, const struct smpp_header *h,
    char system_id[16], char password[9], char system_type[13]);

/* Pack a cancel_sm (SMPP 3.4 §4.9.1) through libsmpp34.  Returns the PDU
 * length, or -1 when seq is 0, message_id or destination is empty, a
 * field is too long for its array, or a TON/NPI is one the library
 * refuses. */
int smpp_pdu_pack_cancel(uint8_t *out, size_t outsize, uint32_t seq,
    const struct smpp_cancel *);

/* The fields of a cancel_sm as the simulator reads them. */
struct smpp_cancel_fields {
	char service_type[6];
	char message_id[65];
	uint8_t source_ton, source_npi;
	char source[21];
	uint8_t dest_ton, dest_npi;
	char destination[21];
};
/* Unpack a cancel_sm from a framed, NUL-guarded PDU (the simulator's
 * side): every field by hand within bounds, then libsmpp34.  Returns 0,
 * or -1 (out zeroed) when it is not a well-formed cancel_sm. */
int smpp_pdu_unpack_cancel(const uint8_t *pdu, const struct smpp_header *h,
    struct smpp_cancel_fields *out);
/* Read a cancel_sm_resp (our side): the header is all it has (spec
 * §4.9.2).  Returns its command_status into *status and 0, or -1 when h
 * is not a cancel_sm_resp or it carries a body (the status is still set:
 * the session acts on it, a body is only logged). */
int smpp_pdu_unpack_cancel_resp(const uint8_t *pdu,
    const struct smpp_header *h, uint32_t *status);

#endif /* SMPP_PDU_H */
