/*
 * smpp_pdu.c - SMPP 3.4 framing, header codec and libsmpp34 pack/unpack.
 *
 * This is the only file in the tree that calls libsmpp34 (see
 * SMPP-NOTES.md §10).  The library packs and unpacks PDU bodies (all but
 * submit_sm's packing, see smpp_pdu_pack_submit) but has sharp edges,
 * which this file turns into plain 0/-1 results:
 *
 *  - framing is ours: a PDU is taken off the evbuffer by command_length
 *    (16 <= length <= SMPP_MAX_PDU) into a buffer with one extra NUL guard
 *    octet, so no string read can run past the PDU;
 *  - the 16-octet header is decoded here, never by the library, so a
 *    response is matched by sequence number even when the library refuses
 *    its body (vendor status, error with a body, TLVs after message_id);
 *  - every incoming body is first parsed by hand (mandatory fields with
 *    bounds, then a TLV pre-scan: at most SMPP_MAX_TLVS, each inside the
 *    PDU) before the library sees it, its structs are zeroed before unpack
 *    and destroy_tlv() runs after every unpack, success or not;
 *  - where the library refuses a PDU our hand parse accepted (a deliver_sm
 *    with validity_period filled, a message_payload over 1024 octets, an
 *    NPI outside its list), the hand parse is what the caller gets;
 *  - every field is length-checked before pack (the library silently
 *    truncates), output buffers are checked to be larger than the PDU, and
 *    short_message is limited to 253 octets on pack;
 *  - libsmpp34 loses a tlv_t when a TLV fails to parse (§10.4 bug 3), so
 *    its allocator is ours: allocations made during one unpack are tracked
 *    and whatever the library did not link into the struct is freed after
 *    destroy_tlv().
 *
 * smpp34_strerror holds phone numbers and is never logged or returned;
 * smpp34_dumpPdu is never called.  Nothing here keeps state between calls
 * apart from libsmpp34's own globals, so it runs on the loop thread only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>
#include <smpp34_heap.h>

#include "smpp.h"
/* smpp_pdu.h defines SMPP_BIND_TRANSCEIVER & co. as command_id macros,
 * which hide the enum smpp_bind_type constants of the same names: take
 * the enum values before including it. */
enum {
	BT_TRX = SMPP_BIND_TRANSCEIVER,
	BT_TX = SMPP_BIND_TRANSMITTER,
	BT_RX = SMPP_BIND_RECEIVER,
};
#include "smpp_pdu.h"

/* Largest message_id we accept in a response (65 octets incl. NUL). */
#define MSGID_MAX 65
/* libsmpp34 refuses short_message >= 254 on pack. */
#define PACK_SM_MAX 253

/*
 * The allocator given to libsmpp34.  Outside an unpack it is plain
 * malloc/free; during one (arena.on) every block is recorded, and
 * arena_end() frees the ones still recorded after destroy_tlv().
 */
#define ARENA_MAX (SMPP_MAX_TLVS * 2 + 8)
static struct {
	int installed, on, n;
	void *p[ARENA_MAX];
} arena;

static void *
arena_malloc(size_t sz)
{
	void *p;

	if (arena.on && arena.n == ARENA_MAX)
		return NULL;
	if ((p = malloc(sz)) != NULL && arena.on)
		arena.p[arena.n++] = p;
	return p;
}

static int
arena_forget(void *p)
{
	int i;

	for (i = 0; i < arena.n; i++)
		if (arena.p[i] == p) {
			arena.p[i] = arena.p[--arena.n];
			return 1;
		}
	return 0;
}

static void *
arena_realloc(void *old, size_t sz)
{
	int tracked;
	void *p;

	if (old == NULL)
		return arena_malloc(sz);
	/* The library never reallocs today; keep the bookkeeping right if
	 * it ever does.  On failure old stays live and tracked. */
	tracked = arena_forget(old);
	p = realloc(old, sz);
	if (p == NULL) {
		if (tracked)
			arena.p[arena.n++] = old;
		return NULL;
	}
	if ((tracked || arena.on) && arena.n < ARENA_MAX)
		arena.p[arena.n++] = p;
	return p;
}

static void
arena_free(void *p)
{
	arena_forget(p);
	free(p);
}

static void
arena_begin(void)
{
	static const struct smpp34_memory_functions mf = {
		arena_malloc, arena_realloc, arena_free,
	};

	if (!arena.installed) {
		/* Safe at any time: blocks from before were plain malloc. */
		smpp34_set_memory_functions(&mf);
		arena.installed = 1;
	}
	arena.on = 1;
	arena.n = 0;
}

/* Free what the library lost; call after destroy_tlv(). */
static void
arena_end(void)
{
	while (arena.n > 0)
		free(arena.p[--arena.n]);
	arena.on = 0;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void
smpp_pdu_header_decode(const uint8_t *p, struct smpp_header *h)
{
	h->length = get32(p);
	h->id = get32(p + 4);
	h->status = get32(p + 8);
	h->seq = get32(p + 12);
}

void
smpp_pdu_header_encode(uint8_t *out, uint32_t id, uint32_t status,
    uint32_t seq)
{
	put32(out, SMPP_HEADER_LEN);
	put32(out + 4, id);
	put32(out + 8, status);
	put32(out + 12, seq);
}

enum smpp_frame_result
smpp_pdu_frame(struct evbuffer *in, uint8_t *buf, struct smpp_header *h)
{
	uint8_t hdr[SMPP_HEADER_LEN];

	if (evbuffer_get_length(in) < SMPP_HEADER_LEN)
		return SMPP_FRAME_MORE;
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr))
		return SMPP_FRAME_MORE;
	smpp_pdu_header_decode(hdr, h);
	if (h->length < SMPP_HEADER_LEN || h->length > SMPP_MAX_PDU)
		return SMPP_FRAME_BAD_LENGTH;
	if (evbuffer_get_length(in) < h->length)
		return SMPP_FRAME_MORE;
	if (evbuffer_remove(in, buf, h->length) != (int)h->length)
		return SMPP_FRAME_MORE;
	buf[h->length] = 0;
	return SMPP_FRAME_OK;
}

int
smpp_pdu_check_tlvs(const uint8_t *pdu, size_t len, size_t off)
{
	int n = 0;
	size_t l;

	while (off < len) {
		if (len - off < 4)
			return -1;
		l = (size_t)pdu[off + 2] << 8 | pdu[off + 3];
		off += 4;
		if (l > len - off)
			return -1;
		off += l;
		if (++n > SMPP_MAX_TLVS)
			return -1;
	}
	return n;
}

/*
 * TLVs libsmpp34 reads as fixed-size integers whatever their length field
 * says (SMPP-NOTES §10.4 item 4): a message_state of length 256 makes it
 * read the next 255 octets as TLVs, and enough of those crash it (found by
 * tests/fuzz_pdu).  From def_frame/{submit,deliver,data}_sm.tlv.
 */
static const struct {
	uint16_t tag;
	uint16_t size;
} lib_fixed_tlvs[] = {
	{ 0x0005, 1 },	/* dest_addr_subunit */
	{ 0x0006, 1 },	/* dest_network_type */
	{ 0x0007, 1 },	/* dest_bearer_type */
	{ 0x0008, 2 },	/* dest_telematics_id */
	{ 0x000D, 1 },	/* source_addr_subunit */
	{ 0x000E, 1 },	/* source_network_type */
	{ 0x000F, 1 },	/* source_bearer_type */
	{ 0x0010, 1 },	/* source_telematics_id */
	{ 0x0017, 4 },	/* qos_time_to_live */
	{ 0x0019, 1 },	/* payload_type */
	{ 0x0030, 1 },	/* ms_msg_wait_facilities */
	{ 0x0201, 1 },	/* privacy_indicator */
	{ 0x0204, 2 },	/* user_message_reference */
	{ 0x0205, 1 },	/* user_response_code */
	{ 0x020A, 2 },	/* source_port */
	{ 0x020B, 2 },	/* destination_port */
	{ 0x020C, 2 },	/* sar_msg_ref_num */
	{ 0x020D, 1 },	/* language_indicator */
	{ 0x020E, 1 },	/* sar_total_segments */
	{ 0x020F, 1 },	/* sar_segment_seqnum */
	{ 0x0302, 1 },	/* callback_num_pres_ind */
	{ 0x0304, 1 },	/* number_of_messages */
	{ 0x0421, 1 },	/* set_dpf */
	{ 0x0426, 1 },	/* more_messages_to_send */
	{ 0x0427, 1 },	/* message_state */
	{ 0x1201, 1 },	/* display_time */
	{ 0x1203, 2 },	/* sms_signal */
	{ 0x1204, 1 },	/* ms_validity */
	{ 0x1380, 1 },	/* its_reply_type */
	{ 0x1383, 2 },	/* its_session_info */
};

/* 1 when every TLV in [off, len) that libsmpp34 reads as an integer has
 * exactly that integer's length, so the library reads the TLVs as we do.
 * The TLV area must have passed smpp_pdu_check_tlvs(). */
static int
lib_tlvs_safe(const uint8_t *pdu, size_t len, size_t off)
{
	while (off + 4 <= len) {
		uint16_t tag = (uint16_t)(pdu[off] << 8 | pdu[off + 1]);
		size_t l = (size_t)pdu[off + 2] << 8 | pdu[off + 3];

		for (size_t i = 0; i < sizeof(lib_fixed_tlvs) /
		    sizeof(lib_fixed_tlvs[0]); i++)
			if (lib_fixed_tlvs[i].tag == tag &&
			    lib_fixed_tlvs[i].size != l)
				return 0;
		off += 4 + l;
	}
	return 1;
}

/*
 * Hand parsing.  A cursor over [p, p + len); every read checks the bounds.
 */
struct cur {
	const uint8_t *p;
	size_t len, off;
};

static int
cur_u8(struct cur *c, uint8_t *v)
{
	if (c->off >= c->len)
		return -1;
	*v = c->p[c->off++];
	return 0;
}

/* A C-octet string of at most max octets including its NUL, copied into
 * dst (which holds max octets). */
static int
cur_cstr(struct cur *c, char *dst, size_t max)
{
	size_t avail = c->len - c->off, i;

	if (avail > max)
		avail = max;
	for (i = 0; i < avail; i++)
		if (c->p[c->off + i] == 0)
			break;
	if (i == avail)
		return -1;
	memcpy(dst, c->p + c->off, i);
	dst[i] = 0;
	c->off += i + 1;
	return 0;
}

/* Copy a string of at most max - 1 characters into a fixed libsmpp34 array
 * of max octets; -1 when it does not fit (the library would truncate). */
static int
put_field(uint8_t *dst, size_t max, const char *s)
{
	size_t n;

	if (s == NULL)
		s = "";
	n = strlen(s);
	if (n >= max)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

/* Copy a NUL-terminated field of a libsmpp34 struct into dst. */
static void
get_field(char *dst, size_t dstsize, const uint8_t *src, size_t srcsize)
{
	size_t n = strnlen((const char *)src, srcsize);

	if (n >= dstsize)
		n = dstsize - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* Read the TLVs we use out of [off, len), after smpp_pdu_check_tlvs(). */
static void
hand_tlvs(const uint8_t *pdu, size_t len, size_t off, struct smpp_sm *out)
{
	uint16_t tag;
	size_t l, n;
	const uint8_t *v;

	while (len - off >= 4) {
		tag = (uint16_t)(pdu[off] << 8 | pdu[off + 1]);
		l = (size_t)pdu[off + 2] << 8 | pdu[off + 3];
		v = pdu + off + 4;
		off += 4 + l;
		switch (tag) {
		case TLVID_receipted_message_id:
			n = strnlen((const char *)v, l);
			if (n >= sizeof(out->receipted_message_id))
				n = sizeof(out->receipted_message_id) - 1;
			memcpy(out->receipted_message_id, v, n);
			out->receipted_message_id[n] = 0;
			break;
		case TLVID_message_state:
			if (l == 1)
				out->message_state = v[0];
			break;
		case TLVID_network_error_code:
			if (l == 3)
				out->network_error = v[1] << 8 | v[2];
			break;
		case TLVID_message_payload:
			out->payload = v;
			out->payload_len = l;
			break;
		}
	}
}

/* Parse a submit_sm, deliver_sm or data_sm by hand.  Returns the offset of
 * the TLV area, or 0 on failure. */
static size_t
hand_sm(const uint8_t *pdu, const struct smpp_header *h, struct smpp_sm *out)
{
	struct cur c = { pdu, h->length, SMPP_HEADER_LEN };
	char skip[17];
	uint8_t u, sm_length;

	if (cur_cstr(&c, out->service_type, sizeof(out->service_type)) ||
	    cur_u8(&c, &out->source_ton) || cur_u8(&c, &out->source_npi) ||
	    cur_cstr(&c, out->source, sizeof(out->source)) ||
	    cur_u8(&c, &out->dest_ton) || cur_u8(&c, &out->dest_npi) ||
	    cur_cstr(&c, out->destination, sizeof(out->destination)) ||
	    cur_u8(&c, &out->esm_class))
		return 0;
	if (h->id == SMPP_DATA_SM) {
		if (cur_u8(&c, &out->registered_delivery) ||
		    cur_u8(&c, &out->data_coding))
			return 0;
		return c.off;
	}
	if (cur_u8(&c, &u) || cur_u8(&c, &u) ||	/* protocol_id, priority */
	    cur_cstr(&c, skip, sizeof(skip)) ||	/* schedule_delivery_time */
	    cur_cstr(&c, out->validity_period, sizeof(out->validity_period)) ||
	    cur_u8(&c, &out->registered_delivery) ||
	    cur_u8(&c, &u) ||			/* replace_if_present_flag */
	    cur_u8(&c, &out->data_coding) ||
	    cur_u8(&c, &u) ||			/* sm_default_msg_id */
	    cur_u8(&c, &sm_length))
		return 0;
	if (sm_length > 254 || sm_length > c.len - c.off)
		return 0;
	out->body = pdu + c.off;
	out->body_len = sm_length;
	return c.off + sm_length;
}

/* Take the string fields and TLVs from a libsmpp34 struct (the library
 * agreed with our hand parse; its copies are what we hand out). */
#define FROM_LIB(s, out) do {						\
	get_field((out)->service_type, sizeof((out)->service_type),	\
	    (s)->service_type, sizeof((s)->service_type));		\
	get_field((out)->source, sizeof((out)->source),			\
	    (s)->source_addr, sizeof((s)->source_addr));		\
	get_field((out)->destination, sizeof((out)->destination),	\
	    (s)->destination_addr, sizeof((s)->destination_addr));	\
	(out)->source_ton = (s)->source_addr_ton;			\
	(out)->source_npi = (s)->source_addr_npi;			\
	(out)->dest_ton = (s)->dest_addr_ton;				\
	(out)->dest_npi = (s)->dest_addr_npi;				\
	(out)->esm_class = (s)->esm_class;				\
	(out)->registered_delivery = (s)->registered_delivery;		\
	(out)->data_coding = (s)->data_coding;				\
	lib_tlvs((s)->tlv, (out));					\
} while (0)

static void
lib_tlvs(const tlv_t *list, struct smpp_sm *out)
{
	const tlv_t *t;
	size_t n;

	for (t = list; t != NULL; t = t->next) {
		switch (t->tag) {
		case TLVID_receipted_message_id:
			n = strnlen((const char *)t->value.octet, t->length);
			if (n >= sizeof(out->receipted_message_id))
				n = sizeof(out->receipted_message_id) - 1;
			memcpy(out->receipted_message_id, t->value.octet, n);
			out->receipted_message_id[n] = 0;
			break;
		case TLVID_message_state:
			out->message_state = t->value.val08;
			break;
		}
	}
}

int
smpp_pdu_unpack_sm(const uint8_t *pdu, const struct smpp_header *h,
    struct smpp_sm *out)
{
	size_t off;
	int r = -1;

	memset(out, 0, sizeof(*out));
	out->message_state = -1;
	out->network_error = -1;
	if (h->length < SMPP_HEADER_LEN || h->length > SMPP_MAX_PDU)
		return -1;
	if (h->id != SMPP_SUBMIT_SM && h->id != SMPP_DELIVER_SM &&
	    h->id != SMPP_DATA_SM)
		return -1;
	if ((off = hand_sm(pdu, h, out)) == 0)
		goto refuse;
	if (smpp_pdu_check_tlvs(pdu, h->length, off) < 0)
		goto refuse;
	hand_tlvs(pdu, h->length, off, out);

	/* The hand parse accepted it; now the library, on the guarded copy
	 * the framer made (pdu[h->length] == 0), unless a TLV would make it
	 * read the rest differently.  Where it refuses, the hand parse
	 * stands. */
	if (!lib_tlvs_safe(pdu, h->length, off))
		return 0;
	if (h->id == SMPP_SUBMIT_SM) {
		submit_sm_t s;

		memset(&s, 0, sizeof(s));
		arena_begin();
		r = smpp34_unpack(SUBMIT_SM, &s, pdu, (int)h->length);
		if (r == 0)
			FROM_LIB(&s, out);
		destroy_tlv(s.tlv);
		arena_end();
	} else if (h->id == SMPP_DELIVER_SM) {
		deliver_sm_t s;

		memset(&s, 0, sizeof(s));
		arena_begin();
		r = smpp34_unpack(DELIVER_SM, &s, pdu, (int)h->length);
		if (r == 0)
			FROM_LIB(&s, out);
		destroy_tlv(s.tlv);
		arena_end();
	} else {
		data_sm_t s;

		memset(&s, 0, sizeof(s));
		arena_begin();
		r = smpp34_unpack(DATA_SM, &s, pdu, (int)h->length);
		if (r == 0)
			FROM_LIB(&s, out);
		destroy_tlv(s.tlv);
		arena_end();
	}
	(void)r;	/* refusal is expected for legal but unusual PDUs */
	return 0;
refuse:
	memset(out, 0, sizeof(*out));
	out->message_state = -1;
	out->network_error = -1;
	return -1;
}

int
smpp_pdu_resp_id(const uint8_t *pdu, const struct smpp_header *h,
    char *out, size_t outsize)
{
	size_t avail, n;

	if (outsize == 0)
		return -1;
	out[0] = 0;
	if (h->length < SMPP_HEADER_LEN || h->length > SMPP_MAX_PDU)
		return -1;
	avail = h->length - SMPP_HEADER_LEN;
	if (avail == 0)
		return 0;	/* error responses carry no body */
	if (avail > MSGID_MAX)
		avail = MSGID_MAX;	/* TLVs may follow the id */
	n = strnlen((const char *)pdu + SMPP_HEADER_LEN, avail);
	if (n == avail || n >= outsize)
		return -1;
	memcpy(out, pdu + SMPP_HEADER_LEN, n);
	out[n] = 0;
	return 0;
}

int
smpp_pdu_unpack_bind(const uint8_t *pdu, const struct smpp_header *h,
    char system_id[16], char password[9], char system_type[13])
{
	struct cur c = { pdu, h->length, SMPP_HEADER_LEN };
	bind_transceiver_t b;	/* the three binds share one layout */
	uint32_t type;
	int r;

	system_id[0] = password[0] = system_type[0] = 0;
	if (h->length < SMPP_HEADER_LEN || h->length > SMPP_MAX_PDU)
		return -1;
	switch (h->id) {
	case SMPP_CMD_BIND_RECEIVER: type = BIND_RECEIVER; break;
	case SMPP_CMD_BIND_TRANSMITTER: type = BIND_TRANSMITTER; break;
	case SMPP_CMD_BIND_TRANSCEIVER: type = BIND_TRANSCEIVER; break;
	default: return -1;
	}
	if (cur_cstr(&c, system_id, 16) || cur_cstr(&c, password, 9) ||
	    cur_cstr(&c, system_type, 13))
		goto refuse;
	memset(&b, 0, sizeof(b));
	arena_begin();
	r = smpp34_unpack(type, &b, pdu, (int)h->length);
	arena_end();	/* binds have no TLVs; nothing is kept */
	if (r != 0)
		goto refuse;
	get_field(system_id, 16, b.system_id, sizeof(b.system_id));
	get_field(password, 9, b.password, sizeof(b.password));
	get_field(system_type, 13, b.system_type, sizeof(b.system_type));
	return 0;
refuse:
	system_id[0] = password[0] = system_type[0] = 0;
	return -1;
}

/* Run smpp34_pack and check its result; the library wants a buffer larger
 * than the PDU. */
static int
lib_pack(uint32_t type, uint8_t *out, size_t outsize, void *s)
{
	int len = 0;

	if (outsize < SMPP_HEADER_LEN + 1 || outsize > SMPP_MAX_PDU + 1)
		return -1;
	if (smpp34_pack(type, out, (int)outsize, &len, s) != 0)
		return -1;
	if (len < SMPP_HEADER_LEN || (size_t)len >= outsize)
		return -1;
	return len;
}

int
smpp_pdu_pack_bind(uint8_t *out, size_t outsize, enum smpp_bind_type type,
    uint32_t seq, const char *system_id, const char *password,
    const char *system_type)
{
	bind_transceiver_t b;	/* same layout for the three binds */
	uint32_t id;

	switch ((int)type) {
	case BT_TRX: id = BIND_TRANSCEIVER; break;
	case BT_TX: id = BIND_TRANSMITTER; break;
	case BT_RX: id = BIND_RECEIVER; break;
	default: return -1;
	}
	if (seq == 0)
		return -1;
	memset(&b, 0, sizeof(b));
	b.command_id = id;
	b.sequence_number = seq;
	b.interface_version = 0x34;
	if (put_field(b.system_id, sizeof(b.system_id), system_id) ||
	    put_field(b.password, sizeof(b.password), password) ||
	    put_field(b.system_type, sizeof(b.system_type), system_type))
		return -1;
	return lib_pack(id, out, outsize, &b);
}

/* 1 when libsmpp34 would pack this TON / NPI (def_list/addr_ton.list,
 * addr_npi.list): the direct encoder below refuses what the library
 * refuses. */
static int
ton_ok(uint8_t ton)
{
	return ton <= 6;
}

static int
npi_ok(uint8_t npi)
{
	switch (npi) {
	case 0: case 1: case 3: case 4: case 6: case 8: case 9: case 10:
	case 14: case 18:
		return 1;
	}
	return 0;
}

/* Append a C-octet string of at most max - 1 characters; -1 when it does
 * not fit the field or the buffer. */
static int
put_cstr(uint8_t **p, const uint8_t *end, const char *s, size_t max)
{
	size_t n = strlen(s != NULL ? s : "");

	if (n >= max || (size_t)(end - *p) < n + 1)
		return -1;
	if (n > 0)
		memcpy(*p, s, n);
	(*p)[n] = 0;
	*p += n + 1;
	return 0;
}

/*
 * submit_sm is the one PDU of the hot path (one per message), and it is
 * encoded here directly rather than through smpp34_pack(): the library
 * clears its 2 KiB trace buffer and snprintf()s a trace line for every
 * field of every PDU, which measured 25-35% of the daemon's whole SMPP
 * send path (scripts/bench, the drain stage).  The octets are the ones
 * smpp34_pack() writes for the same struct, refusals included (TON/NPI
 * outside the library's lists, sequence number 0, fields too long, a
 * buffer not larger than the PDU): check_smpp_pdu packs every variant
 * both ways and compares.  Every other PDU still goes through the
 * library.
 */
int
smpp_pdu_pack_submit(uint8_t *out, size_t outsize, uint32_t seq,
    const struct smpp_message *m)
{
	uint8_t *p = out, *end = out + outsize;
	size_t n;

	if (seq == 0 || m->body_len > (m->use_payload ? SMPP_MAX_PAYLOAD :
	    PACK_SM_MAX) || (m->body_len > 0 && m->body == NULL) ||
	    m->destination == NULL || m->destination[0] == 0 ||
	    !ton_ok(m->source_ton) || !npi_ok(m->source_npi) ||
	    outsize <= SMPP_HEADER_LEN)
		return -1;
	smpp_pdu_header_encode(p, SUBMIT_SM, 0, seq);
	p += SMPP_HEADER_LEN;
	if (put_cstr(&p, end, "", 6) ||                    /* service_type */
	    end - p < 2)
		return -1;
	*p++ = m->source_ton;
	*p++ = m->source_npi;
	if (put_cstr(&p, end, m->source, 21) || end - p < 2)
		return -1;
	*p++ = 1;       /* dest_addr_ton: international */
	*p++ = 1;       /* dest_addr_npi: E.164 */
	if (put_cstr(&p, end, m->destination, 21) || end - p < 3)
		return -1;
	*p++ = m->esm_class;
	*p++ = 0;       /* protocol_id */
	*p++ = 0;       /* priority_flag */
	if (put_cstr(&p, end, "", 17) ||           /* schedule_delivery_time */
	    put_cstr(&p, end, m->validity_period, 17) || end - p < 5)
		return -1;
	*p++ = m->registered_delivery;
	*p++ = 0;       /* replace_if_present_flag */
	*p++ = m->data_coding;
	*p++ = 0;       /* sm_default_msg_id */
	if (!m->use_payload) {
		*p++ = (uint8_t)m->body_len;
		if ((size_t)(end - p) < m->body_len)
			return -1;
		if (m->body_len > 0)
			memcpy(p, m->body, m->body_len);
		p += m->body_len;
	} else {
		/* An empty short_message, then message_payload (0x0424). */
		*p++ = 0;
		if ((size_t)(end - p) < 4 + m->body_len)
			return -1;
		*p++ = 0x04;
		*p++ = 0x24;
		*p++ = (uint8_t)(m->body_len >> 8);
		*p++ = (uint8_t)m->body_len;
		memcpy(p, m->body, m->body_len);
		p += m->body_len;
	}
	/* Like the library: the buffer must be larger than the PDU. */
	if (p >= end)
		return -1;
	n = (size_t)(p - out);
	out[0] = (uint8_t)(n >> 24);
	out[1] = (uint8_t)(n >> 16);
	out[2] = (uint8_t)(n >> 8);
	out[3] = (uint8_t)n;
	return (int)n;
}

/* A header-only error response, written by hand (the library refuses
 * vendor codes, and error responses carry no body, spec §3.2.1.3). */
static int
pack_error_resp(uint8_t *out, size_t outsize, uint32_t id, uint32_t status,
    uint32_t seq)
{
	if (outsize < SMPP_HEADER_LEN)
		return -1;
	smpp_pdu_header_encode(out, id, status, seq);
	return SMPP_HEADER_LEN;
}

int
smpp_pdu_pack_resp(uint8_t *out, size_t outsize, uint32_t id,
    uint32_t status, uint32_t seq, const char *message_id)
{
	if (seq == 0)
		return -1;
	if (status != ESME_ROK) {
		switch (id) {
		case SUBMIT_SM_RESP: case DELIVER_SM_RESP: case DATA_SM_RESP:
		case BIND_RECEIVER_RESP: case BIND_TRANSMITTER_RESP:
		case BIND_TRANSCEIVER_RESP: case CANCEL_SM_RESP:
			return pack_error_resp(out, outsize, id, status, seq);
		default:
			return -1;
		}
	}
	switch (id) {
	case SUBMIT_SM_RESP: {
		submit_sm_resp_t r;

		memset(&r, 0, sizeof(r));
		r.command_id = id;
		r.sequence_number = seq;
		if (put_field(r.message_id, sizeof(r.message_id), message_id))
			return -1;
		return lib_pack(id, out, outsize, &r);
	}
	case DELIVER_SM_RESP: {
		deliver_sm_resp_t r;

		memset(&r, 0, sizeof(r));
		r.command_id = id;
		r.sequence_number = seq;
		if (put_field(r.message_id, sizeof(r.message_id), message_id))
			return -1;
		return lib_pack(id, out, outsize, &r);
	}
	case DATA_SM_RESP: {
		data_sm_resp_t r;

		memset(&r, 0, sizeof(r));
		r.command_id = id;
		r.sequence_number = seq;
		if (put_field(r.message_id, sizeof(r.message_id), message_id))
			return -1;
		return lib_pack(id, out, outsize, &r);
	}
	case CANCEL_SM_RESP: {
		cancel_sm_resp_t r;	/* the header only (§4.9.2) */

		memset(&r, 0, sizeof(r));
		r.command_id = id;
		r.sequence_number = seq;
		return lib_pack(id, out, outsize, &r);
	}
	case BIND_RECEIVER_RESP: case BIND_TRANSMITTER_RESP:
	case BIND_TRANSCEIVER_RESP: {
		bind_transceiver_resp_t r;	/* one layout for the three */

		memset(&r, 0, sizeof(r));
		r.command_id = id;
		r.sequence_number = seq;
		if (put_field(r.system_id, sizeof(r.system_id), message_id))
			return -1;
		return lib_pack(id, out, outsize, &r);
	}
	default:
		return -1;
	}
}

static int
all_digits(const char *s)
{
	if (*s == 0)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int
smpp_pdu_pack_deliver(uint8_t *out, size_t outsize, uint32_t seq,
    const char *source, const char *destination, uint8_t esm_class,
    uint8_t data_coding, const uint8_t *body, size_t body_len,
    const char *tlv_id, int tlv_state)
{
	deliver_sm_t d;
	tlv_t t;
	size_t n;
	int r;

	if (seq == 0 || body_len > PACK_SM_MAX || (body_len && body == NULL))
		return -1;
	if (source == NULL)
		source = "";
	if (destination == NULL)
		destination = "";
	memset(&d, 0, sizeof(d));
	d.command_id = DELIVER_SM;
	d.sequence_number = seq;
	d.source_addr_ton = all_digits(source) ? 1 : (*source ? 5 : 0);
	d.source_addr_npi = all_digits(source) ? 1 : 0;
	d.dest_addr_ton = all_digits(destination) ? 1 : (*destination ? 5 : 0);
	d.dest_addr_npi = all_digits(destination) ? 1 : 0;
	d.esm_class = esm_class;
	d.data_coding = data_coding;
	if (put_field(d.source_addr, sizeof(d.source_addr), source) ||
	    put_field(d.destination_addr, sizeof(d.destination_addr),
	    destination))
		return -1;
	d.sm_length = (uint8_t)body_len;
	if (body_len > 0)
		memcpy(d.short_message, body, body_len);
	if (tlv_id != NULL) {
		n = strlen(tlv_id);
		if (n + 1 > MSGID_MAX || tlv_state < 0 || tlv_state > 255)
			return -1;
		/* build_tlv prepends: build state first so the id goes first
		 * on the wire. */
		memset(&t, 0, sizeof(t));
		t.tag = TLVID_message_state;
		t.length = 1;
		t.value.val08 = (uint8_t)tlv_state;
		if (build_tlv(&d.tlv, &t) != 0)
			goto fail;
		memset(&t, 0, sizeof(t));
		t.tag = TLVID_receipted_message_id;
		t.length = (uint16_t)(n + 1);
		memcpy(t.value.octet, tlv_id, n + 1);
		if (build_tlv(&d.tlv, &t) != 0)
			goto fail;
	}
	r = lib_pack(DELIVER_SM, out, outsize, &d);
	destroy_tlv(d.tlv);
	return r;
fail:
	destroy_tlv(d.tlv);
	return -1;
}

/*
 * cancel_sm is rare (one per withdrawn message) and goes through the
 * library like every PDU but submit_sm; each field is checked first, since
 * the library would truncate a long one silently (§10.4 bug 9).
 */
int
smpp_pdu_pack_cancel(uint8_t *out, size_t outsize, uint32_t seq,
    const struct smpp_cancel *c)
{
	cancel_sm_t p;

	if (seq == 0 || c->message_id == NULL || c->message_id[0] == 0 ||
	    c->destination == NULL || c->destination[0] == 0 ||
	    !ton_ok(c->source_ton) || !npi_ok(c->source_npi) ||
	    !ton_ok(c->dest_ton) || !npi_ok(c->dest_npi))
		return -1;
	memset(&p, 0, sizeof(p));
	p.command_id = CANCEL_SM;
	p.sequence_number = seq;
	p.source_addr_ton = c->source_ton;
	p.source_addr_npi = c->source_npi;
	p.dest_addr_ton = c->dest_ton;
	p.dest_addr_npi = c->dest_npi;
	if (put_field(p.service_type, sizeof(p.service_type),
	    c->service_type) ||
	    put_field(p.message_id, sizeof(p.message_id), c->message_id) ||
	    put_field(p.source_addr, sizeof(p.source_addr), c->source) ||
	    put_field(p.destination_addr, sizeof(p.destination_addr),
	    c->destination))
		return -1;
	return lib_pack(CANCEL_SM, out, outsize, &p);
}

int
smpp_pdu_unpack_cancel(const uint8_t *pdu, const struct smpp_header *h,
    struct smpp_cancel_fields *out)
{
	struct cur c = { pdu, h->length, SMPP_HEADER_LEN };
	cancel_sm_t p;
	int r;

	memset(out, 0, sizeof(*out));
	if (h->id != SMPP_CANCEL_SM || h->length < SMPP_HEADER_LEN ||
	    h->length > SMPP_MAX_PDU)
		return -1;
	/* By hand first: every field inside the PDU, nothing after. */
	if (cur_cstr(&c, out->service_type, sizeof(out->service_type)) ||
	    cur_cstr(&c, out->message_id, sizeof(out->message_id)) ||
	    cur_u8(&c, &out->source_ton) || cur_u8(&c, &out->source_npi) ||
	    cur_cstr(&c, out->source, sizeof(out->source)) ||
	    cur_u8(&c, &out->dest_ton) || cur_u8(&c, &out->dest_npi) ||
	    cur_cstr(&c, out->destination, sizeof(out->destination)) ||
	    c.off != c.len)
		goto refuse;
	memset(&p, 0, sizeof(p));
	arena_begin();
	r = smpp34_unpack(CANCEL_SM, &p, pdu, (int)h->length);
	arena_end();	/* cancel_sm has no TLVs; nothing is kept */
	if (r != 0)
		goto refuse;
	return 0;
refuse:
	memset(out, 0, sizeof(*out));
	return -1;
}

int
smpp_pdu_unpack_cancel_resp(const uint8_t *pdu, const struct smpp_header *h,
    uint32_t *status)
{
	(void)pdu;
	*status = h->status;
	if (h->id != (SMPP_CANCEL_SM | SMPP_RESP) || h->seq == 0 ||
	    h->length != SMPP_HEADER_LEN)
		return -1;
	return 0;
}
