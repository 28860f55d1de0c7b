/*
 * smsc_sim_args.c - the simulator's command line (usage, the options'
 * values).  See smsc_sim.c.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "peer.h"
#include "smpp.h"
#include "smpp_pdu.h"
#include "smsc_sim.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: smsc_sim [-p PORT] [-P PORTFILE] [-u SYSTEM_ID] "
	    "[-w PASSWORD] [-o HANDSET_LOG]\n"
	    "\t[--dlr none|delivered|undeliv] [--dlr-delay-ms N]\n"
	    "\t[--id-format dec|hex] [--dlr-id-format dec|hex] "
	    "[--dlr-tlv 0|1]\n"
	    "\t[--latin1] [--fail-every N] [--max-rate N] "
	    "[--refuse-prefix DIGITS]\n"
	    "\t[--drop-after N] [--resp-delay-ms N] [--hold-resp] "
	    "[--concat-timeout-ms N] [--bind-then-close]\n"
	    "\t[--flood-enquire N] [--flood-nack N] [--flood-resp N]\n"
	    "\t[--flood-unknown N] [--unmatched-receipts N] [--mo FILE] [-q]\n"
	    "\t[--deliver-delay-ms N] [--hold-max N] [--refuse-cancel] "
	    "[--ignore-cancel]\n");
	exit(2);
}

/* A non-negative integer option, or usage(). */
static long
num_arg(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 0 || v > max)
		usage();
	return v;
}

static int
format_arg(const char *s)
{
	if (strcmp(s, "dec") == 0)
		return 0;
	if (strcmp(s, "hex") == 0)
		return 1;
	usage();
	return 0;
}

enum {
	OPT_DLR = 256, OPT_DLR_DELAY, OPT_ID_FORMAT, OPT_DLR_ID_FORMAT,
	OPT_DLR_TLV, OPT_LATIN1, OPT_FAIL_EVERY, OPT_FAIL_STATUS,
	OPT_REFUSE_PREFIX,
	OPT_DROP_AFTER, OPT_RESP_DELAY, OPT_HOLD_RESP, OPT_CONCAT_TIMEOUT,
	OPT_BIND_THEN_CLOSE, OPT_FLOOD_ENQUIRE, OPT_FLOOD_NACK, OPT_FLOOD_RESP,
	OPT_FLOOD_UNKNOWN, OPT_UNMATCHED, OPT_MO,
	OPT_DELIVER_DELAY = 512, OPT_REFUSE_CANCEL, OPT_IGNORE_CANCEL,
	OPT_HOLD_MAX, OPT_MAX_RATE,
};

void
parse_args(int argc, char **argv, struct sim_opts *o)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "portfile", required_argument, NULL, 'P' },
		{ "system-id", required_argument, NULL, 'u' },
		{ "password", required_argument, NULL, 'w' },
		{ "handset", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "dlr", required_argument, NULL, OPT_DLR },
		{ "dlr-delay-ms", required_argument, NULL, OPT_DLR_DELAY },
		{ "id-format", required_argument, NULL, OPT_ID_FORMAT },
		{ "dlr-id-format", required_argument, NULL, OPT_DLR_ID_FORMAT },
		{ "dlr-tlv", required_argument, NULL, OPT_DLR_TLV },
		{ "latin1", no_argument, NULL, OPT_LATIN1 },
		{ "fail-every", required_argument, NULL, OPT_FAIL_EVERY },
		{ "max-rate", required_argument, NULL, OPT_MAX_RATE },
		{ "fail-status", required_argument, NULL, OPT_FAIL_STATUS },
		{ "refuse-prefix", required_argument, NULL, OPT_REFUSE_PREFIX },
		{ "drop-after", required_argument, NULL, OPT_DROP_AFTER },
		{ "resp-delay-ms", required_argument, NULL, OPT_RESP_DELAY },
		{ "hold-resp", no_argument, NULL, OPT_HOLD_RESP },
		{ "concat-timeout-ms", required_argument, NULL,
		    OPT_CONCAT_TIMEOUT },
		{ "bind-then-close", no_argument, NULL, OPT_BIND_THEN_CLOSE },
		{ "flood-enquire", required_argument, NULL, OPT_FLOOD_ENQUIRE },
		{ "flood-nack", required_argument, NULL, OPT_FLOOD_NACK },
		{ "flood-resp", required_argument, NULL, OPT_FLOOD_RESP },
		{ "flood-unknown", required_argument, NULL, OPT_FLOOD_UNKNOWN },
		{ "mo", required_argument, NULL, OPT_MO },
		{ "unmatched-receipts", required_argument, NULL,
		    OPT_UNMATCHED },
		{ "deliver-delay-ms", required_argument, NULL,
		    OPT_DELIVER_DELAY },
		{ "refuse-cancel", no_argument, NULL, OPT_REFUSE_CANCEL },
		{ "hold-max", required_argument, NULL, OPT_HOLD_MAX },
		{ "ignore-cancel", no_argument, NULL, OPT_IGNORE_CANCEL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, dlr_id_set = 0;

	memset(o, 0, sizeof(*o));
	o->dlr_tlv = 1;
	o->concat_timeout_ms = CONCAT_TIMEOUT_MS;
	o->hold_max = HOLD_MAX;
	while ((ch = getopt_long(argc, argv, "p:P:u:w:o:qh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'p': o->port = (int)num_arg(optarg, 65535); break;
		case 'P': o->portfile = optarg; break;
		case 'u': o->system_id = optarg; break;
		case 'w': o->password = optarg; break;
		case 'o': o->handset = optarg; break;
		case 'q': o->quiet = 1; break;
		case OPT_DLR:
			if (strcmp(optarg, "none") == 0)
				o->dlr = DLR_NONE;
			else if (strcmp(optarg, "delivered") == 0)
				o->dlr = DLR_DELIVERED;
			else if (strcmp(optarg, "undeliv") == 0)
				o->dlr = DLR_UNDELIV;
			else
				usage();
			break;
		case OPT_DLR_DELAY:
			o->dlr_delay_ms = (int)num_arg(optarg, 86400000);
			break;
		case OPT_ID_FORMAT: o->id_hex = format_arg(optarg); break;
		case OPT_DLR_ID_FORMAT:
			o->dlr_id_hex = format_arg(optarg);
			dlr_id_set = 1;
			break;
		case OPT_DLR_TLV: o->dlr_tlv = (int)num_arg(optarg, 1); break;
		case OPT_LATIN1: o->latin1 = 1; break;
		case OPT_FAIL_STATUS: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 0);
			if (*optarg == '\0' || *end != '\0' || v == 0 ||
			    v > 0xFFFFFFFFul)
				usage();
			o->fail_status = (uint32_t)v;
			break;
		}
		case OPT_FAIL_EVERY:
			o->fail_every = num_arg(optarg, 1000000000);
			break;
		case OPT_MAX_RATE:
			o->max_rate = num_arg(optarg, 1000000000);
			break;
		case OPT_REFUSE_PREFIX: o->refuse_prefix = optarg; break;
		case OPT_DROP_AFTER:
			o->drop_after = num_arg(optarg, 1000000000);
			break;
		case OPT_RESP_DELAY:
			o->resp_delay_ms = (int)num_arg(optarg, 3600000);
			break;
		case OPT_HOLD_RESP: o->hold_resp = 1; break;
		case OPT_BIND_THEN_CLOSE: o->bind_then_close = 1; break;
		case OPT_FLOOD_ENQUIRE:
			o->flood[FLOOD_ENQUIRE] = num_arg(optarg, 100000000);
			break;
		case OPT_FLOOD_NACK:
			o->flood[FLOOD_NACK] = num_arg(optarg, 100000000);
			break;
		case OPT_FLOOD_RESP:
			o->flood[FLOOD_RESP] = num_arg(optarg, 100000000);
			break;
		case OPT_FLOOD_UNKNOWN:
			o->flood[FLOOD_UNKNOWN] = num_arg(optarg, 100000000);
			break;
		case OPT_MO: o->mo_file = optarg; break;
		case OPT_UNMATCHED:
			o->flood[FLOOD_RECEIPT] = num_arg(optarg, 100000000);
			break;
		case OPT_CONCAT_TIMEOUT:
			o->concat_timeout_ms = (int)num_arg(optarg, 3600000);
			break;
		case OPT_DELIVER_DELAY:
			o->deliver_delay_ms = (int)num_arg(optarg, 3600000);
			break;
		case OPT_REFUSE_CANCEL: o->refuse_cancel = 1; break;
		case OPT_HOLD_MAX:
			o->hold_max = (int)num_arg(optarg, HOLD_MAX);
			if (o->hold_max < 1)
				usage();
			break;
		case OPT_IGNORE_CANCEL: o->ignore_cancel = 1; break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (!dlr_id_set)
		o->dlr_id_hex = o->id_hex;
}
