/*
 * smpp.h - the public face of the SMPP 3.4 session layer (smpp/).
 *
 * This is the only header src/ includes from smpp/.  The layer knows
 * nothing of verifications: it holds one bind to one SMSC on a libevent
 * loop (connect, bind, enquire_link, a window of outstanding requests,
 * reconnect with backoff), turns text into short_message octets, and reads
 * delivery receipts.  Everything here runs on the loop thread only
 * (libsmpp34 keeps global state).
 *
 * Ownership: a session owns its socket, timers and window.  The cookie given
 * with each submit belongs to the caller; the session hands it back exactly
 * once through submit_done (answered, timed out, or dropped with the
 * connection) unless the session is freed first, in which case
 * submit_done fires with SMPP_STATUS_NOT_SENT for each outstanding cookie
 * during smpp_session_free().  A cancel's cookie comes back the same way
 * through cancel_done.
 */
#ifndef SMPP_H
#define SMPP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct smpp_session;

/* Session states.  smpp_strstate() names them for logs and /v1/smscs
 * ("idle", "bound", ...: a static string; "unknown" for no state). */
enum smpp_state {
	SMPP_IDLE = 0,     /* created, not started */
	SMPP_CONNECTING,   /* TCP connect in progress */
	SMPP_BINDING,      /* bind sent, waiting for bind_resp */
	SMPP_BOUND,        /* submits allowed */
	SMPP_UNBINDING,    /* unbind sent (ours or theirs), closing */
	SMPP_BACKOFF,      /* disconnected, reconnect timer armed */
	SMPP_STOPPED,      /* stopped for good (smpp_session_stop finished) */
};
const char *smpp_strstate(enum smpp_state);

enum smpp_bind_type {
	SMPP_BIND_TRANSCEIVER = 0,
	SMPP_BIND_TRANSMITTER,
	SMPP_BIND_RECEIVER,
};

/* command_status values (SMPP 3.4 §5.1.3), named once for the whole tree:
 * smpp/ answers PDUs with them, src/ compares submit results and acks
 * receipts with them.  They are written exactly as libsmpp34's smpp34.h
 * writes them (unsuffixed hex int constants), so smpp_pdu.c, the one file
 * that sees both headers, gets a legal identical redefinition and the
 * compiler warns there if the two ever disagree.  smpp_strstatus() names
 * them, smpp_status_class() says what they mean for a message. */
#define ESME_ROK              0x00000000 /* no error */
#define ESME_RINVMSGLEN       0x00000001 /* message length is invalid */
#define ESME_RINVCMDLEN       0x00000002 /* command length is invalid */
#define ESME_RINVCMDID        0x00000003 /* invalid command ID */
#define ESME_RINVBNDSTS       0x00000004 /* incorrect bind status for it */
#define ESME_RALYBND          0x00000005 /* already in bound state */
#define ESME_RINVPRTFLG       0x00000006 /* invalid priority flag */
#define ESME_RINVREGDLVFLG    0x00000007 /* invalid registered delivery */
#define ESME_RSYSERR          0x00000008 /* system error */
#define ESME_RINVSRCADR       0x0000000A /* invalid source address */
#define ESME_RINVDSTADR       0x0000000B /* invalid destination address */
#define ESME_RINVMSGID        0x0000000C /* message ID is invalid */
#define ESME_RBINDFAIL        0x0000000D /* bind failed */
#define ESME_RINVPASWD        0x0000000E /* invalid password */
#define ESME_RINVSYSID        0x0000000F /* invalid system ID */
#define ESME_RCANCELFAIL      0x00000011 /* cancel_sm failed */
#define ESME_RREPLACEFAIL     0x00000013 /* replace_sm failed */
#define ESME_RMSGQFUL         0x00000014 /* message queue full */
#define ESME_RINVSERTYP       0x00000015 /* invalid service type */
#define ESME_RINVNUMDESTS     0x00000033 /* invalid number of destinations */
#define ESME_RINVDLNAME       0x00000034 /* invalid distribution list name */
#define ESME_RINVDESTFLAG     0x00000040 /* invalid destination flag */
#define ESME_RINVSUBREP       0x00000042 /* invalid submit with replace */
#define ESME_RINVESMCLASS     0x00000043 /* invalid esm_class */
#define ESME_RCNTSUBDL        0x00000044 /* cannot submit to a list */
#define ESME_RSUBMITFAIL      0x00000045 /* submit_sm or submit_multi failed */
#define ESME_RINVSRCTON       0x00000048 /* invalid source TON */
#define ESME_RINVSRCNPI       0x00000049 /* invalid source NPI */
#define ESME_RINVDSTTON       0x00000050 /* invalid destination TON */
#define ESME_RINVDSTNPI       0x00000051 /* invalid destination NPI */
#define ESME_RINVSYSTYP       0x00000053 /* invalid system_type */
#define ESME_RINVREPFLAG      0x00000054 /* invalid replace_if_present */
#define ESME_RINVNUMMSGS      0x00000055 /* invalid number of messages */
#define ESME_RTHROTTLED       0x00000058 /* throttling: over the rate */
#define ESME_RINVSCHED        0x00000061 /* invalid scheduled delivery time */
#define ESME_RINVEXPIRY       0x00000062 /* invalid validity period */
#define ESME_RINVDFTMSGID     0x00000063 /* predefined message not found */
#define ESME_RX_T_APPN        0x00000064 /* receiver temporary app error */
#define ESME_RX_P_APPN        0x00000065 /* receiver permanent app error */
#define ESME_RX_R_APPN        0x00000066 /* receiver reject message error */
#define ESME_RQUERYFAIL       0x00000067 /* query_sm failed */
#define ESME_RINVOPTPARSTREAM 0x000000C0 /* error in the TLV part */
#define ESME_ROPTPARNOTALLWD  0x000000C1 /* TLV not allowed */
#define ESME_RINVPARLEN       0x000000C2 /* invalid parameter length */
#define ESME_RMISSINGOPTPARAM 0x000000C3 /* expected TLV missing */
#define ESME_RINVOPTPARAMVAL  0x000000C4 /* invalid TLV value */
#define ESME_RDELIVERYFAILURE 0x000000FE /* delivery failure (data_sm_resp) */
#define ESME_RUNKNOWNERR      0x000000FF /* unknown error */

/* Pseudo command_status values the layer reports (above the 32-bit SMPP
 * range used by real SMSCs is impossible, so they sit in a vendor gap). */
#define SMPP_STATUS_TIMEOUT  0xFFFF0001u /* no submit_sm_resp in time */
#define SMPP_STATUS_NOT_SENT 0xFFFF0002u /* connection dropped before a response */

/* What a command_status means for the message that got it. */
enum smpp_status_class {
	SMPP_CLASS_OK = 0,        /* accepted */
	SMPP_CLASS_RETRY,         /* retry on the same SMSC after a pause */
	SMPP_CLASS_RETRY_OTHER,   /* try another SMSC */
	SMPP_CLASS_FINAL,         /* the number or message is refused for good */
};
/* Name of a command_status: "ESME_RTHROTTLED", "TIMEOUT" and "NOT_SENT" for
 * the pseudo statuses, "0x00000401" for one without a name (in a static
 * buffer, valid until the next call; loop thread only). */
const char *smpp_strstatus(uint32_t status);
/* What status means for the message that got it (SMPP-NOTES.md §9; the
 * table is in smpp_status.c): any code, vendor or unknown, has a class.
 * Pure. */
enum smpp_status_class smpp_status_class(uint32_t status);

struct smpp_config {
	const char *name;         /* for log lines only */
	const char *host;
	int port;
	const char *system_id;    /* <= 15 characters */
	const char *password;     /* <= 8 characters; never logged */
	const char *system_type;  /* <= 12 characters, may be "" */
	enum smpp_bind_type bind_type;
	int window;               /* outstanding requests, >= 1 */
	int enquire_link;         /* seconds of idle before enquire_link */
	int response_timeout;     /* seconds to wait for any response */
	int reconnect_min_ms;     /* first backoff; doubles up to max, jittered
	                             (see smpp_backoff_next) */
	int reconnect_max_ms;
	/* TLS to the SMSC (0 = plain TCP).  The peer's certificate must chain
	 * to tls_ca_file (PEM; NULL = the system store) and name
	 * tls_server_name (NULL = host), which is also sent as SNI when it is
	 * not an IP address.  A failed handshake backs off like a failed
	 * connect. */
	int tls;
	const char *tls_ca_file;
	const char *tls_server_name;
};

/*
 * Reconnect policy (smpp_backoff.c).  A bind must stay up
 * SMPP_STABLE_BIND_MS before the backoff goes back to reconnect_min_ms, so
 * an SMSC that binds and closes at once is retried ever more slowly; a
 * bind refused for its credentials waits at least SMPP_AUTH_BACKOFF_MS.
 */
#define SMPP_STABLE_BIND_MS 30000
#define SMPP_AUTH_BACKOFF_MS 60000

/* The wait before the next connect after a drop, in milliseconds, and the
 * plain backoff after it in *cur_ms (a session starts it at min_ms).
 * up_ms: how long the bind that just ended had been bound (-1: it never
 * bound); SMPP_STABLE_BIND_MS or more starts the plain backoff again at
 * min_ms.  auth_failed: the bind was refused for its credentials; the wait
 * is then max(max_ms, SMPP_AUTH_BACKOFF_MS) and *cur_ms is not doubled.
 * Otherwise the wait is *cur_ms, which then doubles up to max_ms.  rnd
 * (uniform over 32 bits) adds up to a quarter of the wait, never less than
 * nothing: the wait is never under min_ms, nor under SMPP_AUTH_BACKOFF_MS
 * for credentials.  Pure. */
int smpp_backoff_next(int *cur_ms, int min_ms, int max_ms, int64_t up_ms,
    int auth_failed, uint32_t rnd);

/* The largest message_payload we send (a long OTP text in UCS-2). */
#define SMPP_MAX_PAYLOAD 2048

/* One submit_sm.  Strings are copied; nothing is kept after submit returns. */
struct smpp_message {
	const char *source;       /* sender: alphanumeric or digits */
	uint8_t source_ton, source_npi;
	const char *destination;  /* E.164 digits without '+' */
	uint8_t esm_class;
	uint8_t data_coding;
	const uint8_t *body;      /* short_message octets */
	size_t body_len;          /* <= 253, or <= SMPP_MAX_PAYLOAD with
	                             use_payload */
	int use_payload;          /* body goes in the message_payload TLV
	                             (sm_length 0): the SMSC splits it */
	const char *validity_period; /* "" or SMPP time, e.g. "000000001000000R" */
	uint8_t registered_delivery; /* 1 = receipt on success or failure */
};

/* One cancel_sm (SMPP 3.4 §4.9): withdraw a message the SMSC accepted and
 * has not delivered yet.  Every field must be the one the submit_sm went
 * with (the SMSC matches them), message_id as its submit_sm_resp gave it.
 * Strings are copied; nothing is kept after smpp_session_cancel()
 * returns. */
struct smpp_cancel {
	const char *message_id;   /* 1..64 characters */
	const char *service_type; /* "" or up to 5 characters */
	const char *source;       /* up to 20 characters */
	uint8_t source_ton, source_npi;
	const char *destination;  /* up to 20 characters, not empty */
	uint8_t dest_ton, dest_npi;
};

/* The most cancel_sm one bind has outstanding (and never more than half
 * its window, at least one): past that smpp_session_cancel() refuses, so
 * cancels never crowd submits out of the window. */
#define SMPP_CANCELS_MAX 8

/* Delivery receipt states (message_state TLV values). */
enum smpp_msg_state {
	SMPP_MSG_UNKNOWN_STATE = 0,
	SMPP_MSG_ENROUTE = 1,
	SMPP_MSG_DELIVERED = 2,
	SMPP_MSG_EXPIRED = 3,
	SMPP_MSG_DELETED = 4,
	SMPP_MSG_UNDELIVERABLE = 5,
	SMPP_MSG_ACCEPTED = 6,
	SMPP_MSG_UNKNOWN = 7,
	SMPP_MSG_REJECTED = 8,
};

/* A delivery receipt, from TLVs or the receipt text.  Never holds the
 * receipt's "text:" field (it echoes the code). */
struct smpp_receipt {
	char message_id[66];      /* as the SMSC wrote it, trimmed */
	enum smpp_msg_state state;
	char stat[8];             /* the 7-letter text state, "" if none */
	int err;                  /* err: from the text, -1 if none */
	int network_error;        /* network_error_code TLV's code, -1 if none */
	char source[22];          /* the receipt's source_addr (the handset) */
	char destination[22];
	int from_tlv;             /* 1 when id and state came from TLVs */
};

/* Parse the receipt text ("id:... sub:... stat:DELIVRD err:000 ..."), pure.
 * Returns 0 and fills out when id and stat were found, -1 otherwise. */
int smpp_receipt_parse_text(const uint8_t *text, size_t len, struct smpp_receipt *out);

/* Normalise a message id for receipt matching: mode 0 as a string (trim,
 * upper-case, strip leading zeros), 1 the id is hex -> its value in
 * decimal, 2 the id is decimal -> its value in upper-case hex.  Any length.
 * Returns 0, or -1 when id is not a number in that base.  (smpp_receipt.c) */
int smpp_msgid_normalise(const char *id, int mode, char *out, size_t outsize);

/* The most parts a concatenated text may be cut into here (an OTP text
 * needs one or two; four is already generous). */
#define SMPP_SEGMENTS_MAX 4
/* Octets of one part's short_message as smpp_text_split() writes it (up
 * to 160 septets); a part of a longer text (at most 153 septets or 134
 * octets of UCS-2) still fits behind its 6-octet concatenation UDH. */
#define SMPP_SEGMENT_OCTETS 160

/* How many SMS parts the text needs (160/153 GSM septets, 70/67 UCS-2
 * units), or -1 for invalid UTF-8.  (smpp_text.c) */
int smpp_text_parts(const char *utf8, int default_is_latin1);

/* Split UTF-8 text into SMS parts for short_message (without UDH): part i's
 * octets go to parts[i], its length to lens[i].  One part holds up to 160
 * GSM septets or 70 UCS-2 units (140 octets of Latin-1 when
 * default_is_latin1 picks Latin-1: treat it like GSM, 160); when more parts
 * are needed each holds at most 153 septets / 67 UCS-2 units (134 octets for
 * UCS-2), never splitting an ESC pair or a UTF-16 surrogate pair.  The
 * encoding (and *data_coding) is the one smpp_text_encode would choose for
 * the whole text.  Returns the part count (1..max_parts), or -1 for invalid
 * UTF-8 or when more than max_parts parts would be needed. */
int smpp_text_split(const char *utf8, int default_is_latin1,
    uint8_t parts[][SMPP_SEGMENT_OCTETS], size_t *lens, int max_parts,
    uint8_t *data_coding);

/* A text cut into the short_message bodies of the submit_sm it needs, as
 * smpp_segments_make() leaves it; the caller fills in the rest of each
 * struct smpp_message (addresses, validity, receipt) and copies
 * data_coding, esm_class, use_payload and each body into it.  The storage
 * is inside the struct (no allocation); it holds the text, so a one-time
 * code: smpp_segments_clear() it once the submits are out.  Read the
 * bodies with smpp_segments_body(). */
struct smpp_segments {
	int n;                  /* bodies, 1..SMPP_SEGMENTS_MAX (0 when clear) */
	int use_payload;        /* 1: one body, for the message_payload TLV */
	uint8_t data_coding;    /* for every body: 0x00 GSM/Latin-1, 0x08 UCS-2 */
	uint8_t esm_class;      /* 0x40 (UDHI) when the bodies start with the
	                           concatenation UDH, else 0 */
	size_t len[SMPP_SEGMENTS_MAX]; /* octets of body i, UDH included */
	uint8_t buf[SMPP_SEGMENTS_MAX * SMPP_SEGMENT_OCTETS]; /* the bodies */
};

/* Cut UTF-8 text into the bodies of its submit_sm, pure.  The encoding is
 * smpp_text_encode()'s and the cut smpp_text_split()'s:
 *  - a text that fits one SMS: one body, esm_class 0;
 *  - a longer one with long_payload: one body holding the whole encoded
 *    text, use_payload 1, esm_class 0 (the SMSC splits it);
 *  - a longer one without: one body per part, each behind the 8-bit
 *    reference concatenation UDH of TS 23.040 (05 00 03 ref n i, i from 1),
 *    esm_class 0x40.
 * ref is the reference the handset joins the parts by; vary it per
 * message (it is used only in the last case).  max_parts (1 to
 * SMPP_SEGMENTS_MAX) bounds the parts the text may need, whichever form it
 * goes in.  Returns out->n (>= 1), or -1 with *out cleared when the text
 * is NULL or not valid UTF-8, needs more than max_parts parts, or max_parts
 * is out of range.  *out is overwritten whatever it held. */
int smpp_segments_make(const char *utf8, int default_is_latin1,
    int long_payload, uint8_t ref, int max_parts, struct smpp_segments *out);
/* Body i (0 <= i < n) of seg, seg->len[i] octets, valid until seg is
 * cleared or made again.  (The struct may be copied, since bodies are found
 * by offset, not by pointer; each copy holds the code and needs clearing.) */
static inline const uint8_t *
smpp_segments_body(const struct smpp_segments *seg, int i)
{
	return seg->buf + (size_t)i * SMPP_SEGMENT_OCTETS;
}
/* Erase seg (explicit_bzero: the bodies hold a code); n becomes 0.  Safe
 * to call on a cleared or failed one. */
void smpp_segments_clear(struct smpp_segments *seg);

/* Text encoding.  SMPP_DC_GSM: GSM 03.38 unpacked (one septet per octet,
 * extension characters as ESC pairs); SMPP_DC_LATIN1; SMPP_DC_UCS2
 * (big-endian UTF-16). */
enum smpp_charset { SMPP_CS_GSM = 0, SMPP_CS_LATIN1, SMPP_CS_UCS2 };

/* Encode UTF-8 text for short_message.  Picks GSM (data_coding 0x00, or
 * Latin-1 when default_is_latin1 and every character fits Latin-1) when
 * every character fits, else UCS-2 (0x08).  Writes at most outsize octets;
 * returns the octet count, or -1 when the text is not valid UTF-8 or does
 * not fit outsize.  *data_coding and *units (characters as the handset
 * counts them: septets or UTF-16 units) are set. */
int smpp_text_encode(const char *utf8, int default_is_latin1, uint8_t *out,
    size_t outsize, uint8_t *data_coding, size_t *units);
/* Decode short_message octets to UTF-8 (NUL-terminated).  data_coding 0x00
 * is read as GSM unless default_is_latin1; 0x01 (IA5), 0x03 (Latin-1) and
 * 0x08 (UCS-2) are read as such, and so are the message-class forms of GSM
 * and UCS-2 (0x10-0x1F, 0xF0-0xFF; TS 23.038 §4).  GSM's extension table
 * is read after ESC; a UCS-2 surrogate pair is one character, an unpaired
 * surrogate U+FFFD.  Returns the UTF-8 length, or -1 (out set to "") for
 * another data_coding (8-bit data), malformed UCS-2 or an outsize too
 * small. */
int smpp_text_decode(uint8_t data_coding, int default_is_latin1,
    const uint8_t *in, size_t len, char *out, size_t outsize);

/* One part of a concatenated message, as its user data header says
 * (TS 23.040 §9.2.3.24.1 IEI 0x00, 8-bit reference, and §9.2.3.24.8 IEI
 * 0x08, 16-bit reference). */
struct smpp_concat {
	int present;              /* 1: a usable concatenation IE was found */
	int ref16;                /* 1: the 16-bit reference form */
	uint16_t ref;             /* the reference the parts share */
	uint8_t total;            /* parts in the message, >= 1 */
	uint8_t seq;              /* this part, 1..total */
};

/* Split an MO body (short_message, or message_payload) into its user data
 * header and its text.  udhi: esm_class has the UDHI bit (0x40); without
 * it the whole body is text (returns 0, c->present 0).  With it, body[0]
 * is UDHL and the IEs follow; the last concatenation IE wins, and one with
 * a part count of 0 or a part number of 0 or past the count is ignored
 * (the part then reads as a message of its own).  Returns the offset of
 * the text (1 + UDHL), or -1 when the header is malformed: UDHL past the
 * body, an IE past UDHL.  *c is always set.  Pure; reads only
 * body[0..len). */
int smpp_udh_parse(const uint8_t *body, size_t len, int udhi,
    struct smpp_concat *c);

/* An inbound (mobile originated) message: a deliver_sm or data_sm that is
 * not a delivery receipt, as it came.  The owner decodes it
 * (smpp_udh_parse(), smpp_text_decode()).  Valid during the callback
 * only. */
struct smpp_mo {
	char source[22];          /* the handset, as the SMSC wrote it */
	char destination[22];     /* our number or short code */
	uint8_t source_ton, dest_ton;
	uint8_t esm_class;        /* 0x40: body starts with a UDH */
	uint8_t data_coding;
	const uint8_t *body;      /* short_message, or the message_payload
	                             TLV when short_message is empty */
	size_t body_len;
	int from_payload;         /* 1: body is the message_payload */
};

/* Callbacks a session's owner provides.  All run on the loop, from the
 * session's events (state also from inside smpp_session_start() and
 * smpp_session_stop()); each may call back into the session, and
 * smpp_session_free() from one only marks the session dead (it is freed
 * when the session's handler returns).  Any may be NULL: receipts are then
 * acknowledged at once. */
struct smpp_callbacks {
	/* The session moved from one state to another (logged already). */
	void (*state)(void *arg, struct smpp_session *, enum smpp_state from,
	    enum smpp_state to);
	/* A submit ended: status 0 with the SMSC's message_id, an SMSC
	 * command_status (message_id ""), SMPP_STATUS_TIMEOUT or
	 * SMPP_STATUS_NOT_SENT.  Fires once per accepted submit. */
	void (*submit_done)(void *arg, struct smpp_session *, void *cookie,
	    uint32_t status, const char *message_id);
	/* A delivery receipt (deliver_sm or data_sm with the receipt bit).
	 * The owner must answer it with smpp_session_receipt_ack(), now or after
	 * it has stored the receipt; `ack` identifies the PDU. */
	void (*receipt)(void *arg, struct smpp_session *,
	    const struct smpp_receipt *, uint64_t ack);
	/* An inbound message.  Answered like a receipt: the owner calls
	 * smpp_session_receipt_ack() with ack once it has stored it
	 * (ESME_RX_T_APPN: the SMSC sends it again).  NULL: inbound
	 * messages are logged and acknowledged at once. */
	void (*mo)(void *arg, struct smpp_session *, const struct smpp_mo *,
	    uint64_t ack);
	/* A cancel_sm ended: ESME_ROK (withdrawn), the SMSC's
	 * command_status (ESME_RCANCELFAIL: already final, or unknown to
	 * it), SMPP_STATUS_TIMEOUT or SMPP_STATUS_NOT_SENT.  Fires once per
	 * smpp_session_cancel() that returned 0, like submit_done (also
	 * during smpp_session_free()).  NULL: cancels end silently. */
	void (*cancel_done)(void *arg, struct smpp_session *, void *cookie,
	    uint32_t status);
};

/* Create a session on base; nothing happens until smpp_session_start().
 * The config strings and the callback table are copied; arg is handed back
 * to every callback.  Returns NULL (logged as smpp.config) when the config
 * is unusable: host neither numeric nor "localhost", port, window, timers
 * or backoff out of range, credentials too long. */
struct smpp_session *smpp_session_new(struct event_base *,
    const struct smpp_config *, const struct smpp_callbacks *, void *arg);
/* Connect and bind; on any failure, back off and reconnect by itself
 * until smpp_session_stop() or smpp_session_free().  Call once. */
void smpp_session_start(struct smpp_session *);
/* Submit one message.  Returns 0 when it went on the wire (submit_done will
 * fire for cookie), -1 when the session is not bound or its window is full. */
int smpp_session_submit(struct smpp_session *, const struct smpp_message *,
    void *cookie);
/* Send one cancel_sm (it takes a window slot, with the same response
 * deadline as a submit).  Returns 0 when it went on the wire (cancel_done
 * will fire for cookie), -1 when the session is not bound or stopping, its
 * window is full, SMPP_CANCELS_MAX (or half the window) cancels are
 * outstanding already, or a field does not fit (logged).  Never retried
 * by the session. */
int smpp_session_cancel(struct smpp_session *, const struct smpp_cancel *,
    void *cookie);
/* Answer a receipt given to the receipt callback, or an inbound message
 * given to the mo callback, with command_status status
 * (ESME_ROK, or ESME_RX_T_APPN to make the SMSC send it again).  A stale
 * ack (the connection it came on is gone) is ignored. */
void smpp_session_receipt_ack(struct smpp_session *, uint64_t ack,
    uint32_t status);
/* Its current state. */
enum smpp_state smpp_session_state(const struct smpp_session *);
/* Submits smpp_session_submit() would take now: free window slots, 0 when
 * not bound or stopping. */
int smpp_session_window_free(const struct smpp_session *);
/* The config's name (the session's copy, valid until it is freed). */
const char *smpp_session_name(const struct smpp_session *);
/* Stop: no new submits; wait (bounded by response_timeout) for outstanding
 * responses, unbind, wait for unbind_resp (bounded), close, enter
 * SMPP_STOPPED and call done.  done may be NULL. */
void smpp_session_stop(struct smpp_session *, void (*done)(void *arg),
    void *arg);
/* Free at once, closing the socket; outstanding cookies come back through
 * submit_done with SMPP_STATUS_NOT_SENT.  Not from inside a callback of
 * the same session. */
void smpp_session_free(struct smpp_session *);

/* A session's counters since smpp_session_new(). */
struct smpp_session_stats {
	uint64_t submits;         /* submit_sm that went on the wire */
	uint64_t submit_ok;       /* ... answered ESME_ROK */
	uint64_t submit_err;      /* ... ended otherwise, timeouts apart */
	uint64_t timeouts;        /* ... ended SMPP_STATUS_TIMEOUT */
	uint64_t receipts;        /* delivery receipts handed to the owner */
	uint64_t reconnects;      /* connects after a backoff */
	uint64_t binds_failed;    /* bind refused or nacked, or unanswered */
	uint64_t read_pauses;     /* reading stopped: too much queued to the
	                             SMSC (SMPP_OUT_HIGH in smpp_session.c) */
	uint64_t hostile;         /* binds dropped as hostile: output not
	                             drained in time, or error answers over
	                             SMPP_NACK_RATE a second */
	uint64_t cancels;         /* cancel_sm that went on the wire */
	uint64_t cancel_ok;       /* ... answered ESME_ROK */
	uint64_t cancel_err;      /* ... ended otherwise, timeouts apart */
	uint64_t cancel_timeouts; /* ... ended SMPP_STATUS_TIMEOUT */
	int window_used;          /* outstanding requests now */
	int backoff_ms;           /* the last reconnect wait armed, 0: none */
	uint32_t last_bind_status; /* of the last bind_resp or its nack */
};
/* Copy the session's counters into *out. */
void smpp_session_stats(const struct smpp_session *,
    struct smpp_session_stats *out);

#endif /* SMPP_H */
