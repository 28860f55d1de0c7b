/*
 * smpp_status.c - SMPP command_status: its name and what it means for the
 * message that got it.
 *
 * The one place where command_status values are mapped (STYLE.md habit 4).
 * Names are those of /usr/include/libsmpp34/smpp34.h (= SMPP 3.4 §5.1.3),
 * plus the layer's two pseudo statuses; the classes follow SMPP-NOTES.md §9:
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

static const struct {
	uint32_t status;
	const char *name;
} names[] = {
	{ 0x00000000, "ESME_ROK" },
	{ 0x00000001, "ESME_RINVMSGLEN" },
	{ 0x00000002, "ESME_RINVCMDLEN" },
	{ 0x00000003, "ESME_RINVCMDID" },
	{ 0x00000004, "ESME_RINVBNDSTS" },
	{ 0x00000005, "ESME_RALYBND" },
	{ 0x00000006, "ESME_RINVPRTFLG" },
	{ 0x00000007, "ESME_RINVREGDLVFLG" },
	{ 0x00000008, "ESME_RSYSERR" },
	{ 0x0000000A, "ESME_RINVSRCADR" },
	{ 0x0000000B, "ESME_RINVDSTADR" },
	{ 0x0000000C, "ESME_RINVMSGID" },
	{ 0x0000000D, "ESME_RBINDFAIL" },
	{ 0x0000000E, "ESME_RINVPASWD" },
	{ 0x0000000F, "ESME_RINVSYSID" },
	{ 0x00000011, "ESME_RCANCELFAIL" },
	{ 0x00000013, "ESME_RREPLACEFAIL" },
	{ 0x00000014, "ESME_RMSGQFUL" },
	{ 0x00000015, "ESME_RINVSERTYP" },
	{ 0x00000033, "ESME_RINVNUMDESTS" },
	{ 0x00000034, "ESME_RINVDLNAME" },
	{ 0x00000040, "ESME_RINVDESTFLAG" },
	{ 0x00000042, "ESME_RINVSUBREP" },
	{ 0x00000043, "ESME_RINVESMCLASS" },
	{ 0x00000044, "ESME_RCNTSUBDL" },
	{ 0x00000045, "ESME_RSUBMITFAIL" },
	{ 0x00000048, "ESME_RINVSRCTON" },
	{ 0x00000049, "ESME_RINVSRCNPI" },
	{ 0x00000050, "ESME_RINVDSTTON" },
	{ 0x00000051, "ESME_RINVDSTNPI" },
	{ 0x00000053, "ESME_RINVSYSTYP" },
	{ 0x00000054, "ESME_RINVREPFLAG" },
	{ 0x00000055, "ESME_RINVNUMMSGS" },
	{ 0x00000058, "ESME_RTHROTTLED" },
	{ 0x00000061, "ESME_RINVSCHED" },
	{ 0x00000062, "ESME_RINVEXPIRY" },
	{ 0x00000063, "ESME_RINVDFTMSGID" },
	{ 0x00000064, "ESME_RX_T_APPN" },
	{ 0x00000065, "ESME_RX_P_APPN" },
	{ 0x00000066, "ESME_RX_R_APPN" },
	{ 0x00000067, "ESME_RQUERYFAIL" },
	{ 0x000000C0, "ESME_RINVOPTPARSTREAM" },
	{ 0x000000C1, "ESME_ROPTPARNOTALLWD" },
	{ 0x000000C2, "ESME_RINVPARLEN" },
	{ 0x000000C3, "ESME_RMISSINGOPTPARAM" },
	{ 0x000000C4, "ESME_RINVOPTPARAMVAL" },
	{ 0x000000FE, "ESME_RDELIVERYFAILURE" },
	{ 0x000000FF, "ESME_RUNKNOWNERR" },
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
	case 0x00000000:		/* ESME_ROK */
		return SMPP_CLASS_OK;
	case 0x00000058:		/* ESME_RTHROTTLED */
	case 0x00000014:		/* ESME_RMSGQFUL */
	case 0x00000008:		/* ESME_RSYSERR */
	case 0x00000064:		/* ESME_RX_T_APPN */
	case SMPP_STATUS_TIMEOUT:
	case SMPP_STATUS_NOT_SENT:
		return SMPP_CLASS_RETRY;
	case 0x00000065:		/* ESME_RX_P_APPN */
	case 0x00000066:		/* ESME_RX_R_APPN */
	case 0x0000000B:		/* ESME_RINVDSTADR */
		return SMPP_CLASS_FINAL;
	default:
		/* ESME_RSUBMITFAIL, ESME_RUNKNOWNERR, source address and
		 * TON/NPI, bad lengths and TLVs, vendor 0x04xx, bind state,
		 * and anything unknown: another SMSC may take it. */
		return SMPP_CLASS_RETRY_OTHER;
	}
}
