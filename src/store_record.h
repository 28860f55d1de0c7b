/*
 * store_record.h - a verification's record, as the verif database holds
 * it: encoding, decoding, and the head the index logic reads.  Private to
 * the store: store_record.c holds the codec, store_verif.c and
 * store_sweep.c put and get the octets.  Nothing here touches LMDB.
 *
 * Record format 2 (binary, written by this code).  Integers are fixed
 * width, little-endian, two's complement; a string is a u16 length and
 * that many octets (no NUL, none inside).  The fields the index logic
 * needs come first at fixed offsets, then key and phone, so
 * store_record_head_decode() reads them without touching the rest.
 *
 *    0  u8   version: 2
 *    1  u8   flags: REC_SEALED, REC_METADATA (which optional strings follow)
 *    2  i32  status
 *    6  i32  send_state
 *   10  i64  expires_at
 *   18  i64  created_at
 *   26  i64  updated_at
 *   34  i32  attempt
 *   38  i32  checks
 *   42  i32  max_checks
 *   46  32   code_hmac
 *   78  str  key, phone, id, api, sender, fail_reason
 *       str  sealed (when REC_SEALED), metadata (when REC_METADATA)
 *       u8   nsend (at most VERIF_MAX_SENDS), then per send:
 *            str smsc, str message_id, i64 submitted_at, i32 dlr,
 *            i64 dlr_at, i32 error, str reason
 *
 * The record ends exactly there: trailing octets, a length past the end
 * or one too long for its field, an unknown flag or version are refused.
 * Format 1 is JSON text, so its first octet is '{': such records (from
 * an older database) still decode, through jansson; they are rewritten
 * in format 2 the next time they are put.
 */
#ifndef STORE_RECORD_H
#define STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "util.h"

/* What the index logic needs of a stored record. */
struct store_record_head {
	int status, send_state;
	int64_t expires_at;
	char key[33], phone[17];
};

/* The encoded size of v, or 0 when it cannot be encoded (a field without
 * its NUL, an optional string longer than 65535 octets, a bad nsend). */
size_t store_record_size(const struct verif *v);
/* Write v in format 2 into p, which holds store_record_size(v) (non-zero)
 * octets. */
void store_record_encode(const struct verif *v, uint8_t *p);
/* Parse a record into out (zeroed first; cleared again on failure), by
 * its first octet: '{' format 1, 2 format 2.  STORE_OK, or STORE_ERR for
 * a malformed record or a format this code does not know (logged).  On
 * success out owns its sealed and metadata strings: verif_clear() it. */
int store_record_decode(const void *buf, size_t len, struct verif *out);
/* The head of a stored record into h, without decoding (or allocating)
 * the rest when it is format 2.  STORE_OK or STORE_ERR (logged). */
int store_record_head_decode(const void *buf, size_t len,
    struct store_record_head *h);

/* The little-endian integers the records (and the outbox values in
 * store_outbox.c) hold: put_u32() and friends, in util.h. */

#endif
