/*
 * verif_state.c - the one state machine of a verification's status
 * (verif_state.h says what each move does).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "util.h"
#include "verif_state.h"

int
verif_can_enter(int from, int to)
{
	if (from != VERIF_PENDING)
		return 0;
	switch (to) {
	case VERIF_APPROVED:
	case VERIF_EXPIRED:
	case VERIF_CANCELED:
	case VERIF_MAX_ATTEMPTS:
	case VERIF_FAILED:
		return 1;
	default:
		return 0;
	}
}

int
verif_enter(struct verif *v, int to, const char *why, int64_t now)
{
	int from = v->status;

	if (!verif_can_enter(from, to))
		return -1;
	v->status = to;
	v->updated_at = now;
	if (v->sealed != NULL) {
		OPENSSL_cleanse(v->sealed, strlen(v->sealed));
		free(v->sealed);
		v->sealed = NULL;
	}
	if (to == VERIF_FAILED) {
		v->send_state = SEND_FAILED;
		util_strlcpy(v->fail_reason, why, sizeof(v->fail_reason));
	}
	log_info("verif.state", "id=%s from=%s to=%s why=%s", v->id,
	    verif_strstatus(from), verif_strstatus(to), why);
	return 0;
}
