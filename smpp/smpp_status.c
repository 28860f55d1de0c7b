/*
 * smpp_status.c - SMPP command_status: its name and what it means for the
 * message that got it.
 *
 * The one place where command_status values are mapped (STYLE.md habit 4).
 * The codes and their names are smpp.h's ESME_* (= SMPP 3.4 §5.1.3), plus
 * the layer's two pseudo statuses; the classes follow SMPP-NOTES.md §9:
 * throttling, a full queue, a system error or a temporary application error
 * retry on the same SMSC; permanent application errors and an invalid
 * destination are final; everything else (submit failures, unknown errors,
 * sender-id, TON/NPI and length or TLV problems, the 0x400-0x4FF vendor
 * range, codes we have never heard of) sends the message to another SMSC.
 * A missing response (SMPP_STATUS_TIMEOUT) or a connection lost before one
 * (SMPP_STATUS_NOT_SENT) retries.  Pure: no state but a name buffer for
 * unknown codes, so like the rest of smpp/ it runs on the loop thread only.
 */
#include <stdint.h>
#include <stdio.h>

#include "smpp.h"

/* Each code by its smpp.h name, spelled once. */
#define NAMED(esme) { esme, #esme }

static const struct {
	uint32_t status;
	const char *name;
} names[] = {
	NAMED(ESME_ROK),
	NAMED(ESME_RINVMSGLEN),
	NAMED(ESME_RINVCMDLEN),
	NAMED(ESME_RINVCMDID),
	NAMED(ESME_RINVBNDSTS),
	NAMED(ESME_RALYBND),
	NAMED(ESME_RINVPRTFLG),
	NAMED(ESME_RINVREGDLVFLG),
	NAMED(ESME_RSYSERR),
	NAMED(ESME_RINVSRCADR),
	NAMED(ESME_RINVDSTADR),
	NAMED(ESME_RINVMSGID),
	NAMED(ESME_RBINDFAIL),
	NAMED(ESME_RINVPASWD),
	NAMED(ESME_RINVSYSID),
	NAMED(ESME_RCANCELFAIL),
	NAMED(ESME_RREPLACEFAIL),
	NAMED(ESME_RMSGQFUL),
	NAMED(ESME_RINVSERTYP),
	NAMED(ESME_RINVNUMDESTS),
	NAMED(ESME_RINVDLNAME),
	NAMED(ESME_RINVDESTFLAG),
	NAMED(ESME_RINVSUBREP),
	NAMED(ESME_RINVESMCLASS),
	NAMED(ESME_RCNTSUBDL),
	NAMED(ESME_RSUBMITFAIL),
	NAMED(ESME_RINVSRCTON),
	NAMED(ESME_RINVSRCNPI),
	NAMED(ESME_RINVDSTTON),
	NAMED(ESME_RINVDSTNPI),
	NAMED(ESME_RINVSYSTYP),
	NAMED(ESME_RINVREPFLAG),
	NAMED(ESME_RINVNUMMSGS),
	NAMED(ESME_RTHROTTLED),
	NAMED(ESME_RINVSCHED),
	NAMED(ESME_RINVEXPIRY),
	NAMED(ESME_RINVDFTMSGID),
	NAMED(ESME_RX_T_APPN),
	NAMED(ESME_RX_P_APPN),
	NAMED(ESME_RX_R_APPN),
	NAMED(ESME_RQUERYFAIL),
	NAMED(ESME_RINVOPTPARSTREAM),
	NAMED(ESME_ROPTPARNOTALLWD),
	NAMED(ESME_RINVPARLEN),
	NAMED(ESME_RMISSINGOPTPARAM),
	NAMED(ESME_RINVOPTPARAMVAL),
	NAMED(ESME_RDELIVERYFAILURE),
	NAMED(ESME_RUNKNOWNERR),
	{ SMPP_STATUS_TIMEOUT, "TIMEOUT" },
	{ SMPP_STATUS_NOT_SENT, "NOT_SENT" },
};

const char *
smpp_strstatus(uint32_t status)
{
	static char unknown[sizeof("0x00000000")];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].status == status)
			return names[i].name;
	/* Single-threaded layer: one buffer, valid until the next call. */
	snprintf(unknown, sizeof(unknown), "0x%08X", (unsigned)status);
	return unknown;
}

enum smpp_status_class
smpp_status_class(uint32_t status)
{
	switch (status) {
	case ESME_ROK:
		return SMPP_CLASS_OK;
	case ESME_RTHROTTLED:
	case ESME_RMSGQFUL:
	case ESME_RSYSERR:
	case ESME_RX_T_APPN:
	case SMPP_STATUS_TIMEOUT:
	case SMPP_STATUS_NOT_SENT:
		return SMPP_CLASS_RETRY;
	case ESME_RX_P_APPN:
	case ESME_RX_R_APPN:
	case ESME_RINVDSTADR:
		return SMPP_CLASS_FINAL;
	default:
		/* ESME_RSUBMITFAIL, ESME_RUNKNOWNERR, source address and
		 * TON/NPI, bad lengths and TLVs, vendor 0x04xx, bind state,
		 * and anything unknown: another SMSC may take it. */
		return SMPP_CLASS_RETRY_OTHER;
	}
}
