# shellcheck shell=bash
# tests/status/start.sh - sourced by tests/status/run.sh and
# tests/openapi/run.sh (after scripts/lib.sh): start the SMSC simulator and
# smsverifyd on 127.0.0.1, on ports chosen here, in a work directory.
#
#	st_start WORK DAEMON SIM "SIM_ARGS" EXTRA_CONF_FILE
#
# The simulator takes system_id smsverify, password secret1, writes its
# handset log to WORK/handset.jsonl and gets SIM_ARGS (e.g. "--dlr
# delivered").  smsverifyd runs on WORK/smsverifyd.conf: [server], [store],
# [verify], [smsc sim], then the lines of EXTRA_CONF_FILE (its keys and
# whatever else the test needs).  On return st_sim_pid, st_daemon_pid and
# st_url (http://127.0.0.1:PORT) are set and the SMSC is bound; on failure
# it prints why and returns 1.  The caller stops both (sv_stop).

# shellcheck disable=SC2034  # the caller's
st_sim_pid=''
st_daemon_pid=''
st_url=''

# A port on 127.0.0.1 nothing listens on, below the kernel's ephemeral range
# (an outgoing connection's local port is not seen by a connect test, but
# makes a bind fail).
st_free_port() {
	local port low

	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$low" -gt 11000 ] || low=32768
	for _ in $(seq 1 50); do
		port=$((10000 + (RANDOM * 32768 + RANDOM) % (low - 10000)))
		if ! sv_port_in_use 127.0.0.1 "$port"; then
			echo "$port"
			return 0
		fi
	done
	echo "no free TCP port found on 127.0.0.1" >&2
	return 1
}

# st_write_conf WORK HTTP_PORT SIM_PORT EXTRA_CONF_FILE
st_write_conf() {
	cat >"$1/smsverifyd.conf" <<EOC
[server]
listen = 127.0.0.1:$2
secret_file = $1/secret
request_timeout = 10
submit_wait_ms = 3000
log_level = info

[store]
path = $1/db
map_size = 64M
sweep_interval = 1

[verify]
code_length = 6
expiry = 600
max_check_attempts = 5
default_country = US

[smsc sim]
host = 127.0.0.1
port = $3
system_id = smsverify
password = secret1
reconnect_min_ms = 100
reconnect_max_ms = 500
response_timeout = 5

EOC
	cat "$4" >>"$1/smsverifyd.conf"
}

st_start() {
	local work=$1 daemon=$2 sim=$3 sim_args=$4 extra=$5 port try

	# The simulator binds port 0 and writes the port it got.
	# shellcheck disable=SC2086  # SIM_ARGS are words
	"$sim" -p 0 -P "$work/sim.port" -o "$work/handset.jsonl" -q \
		-u smsverify -w secret1 $sim_args 2>"$work/sim.log" &
	st_sim_pid=$!
	for _ in $(seq 1 100); do
		[ -s "$work/sim.port" ] && break
		kill -0 "$st_sim_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -s "$work/sim.port" ]; then
		sv_tail "$work/sim.log"
		echo "the SMSC simulator did not start" >&2
		return 1
	fi

	# smsverifyd's listen port cannot be 0 (it is not readable back): pick
	# one, and another when something took it in the meantime (at most 5
	# tries, each bounded to 20 s).
	for try in 1 2 3 4 5; do
		port=$(st_free_port) || return 1
		st_write_conf "$work" "$port" "$(cat "$work/sim.port")" "$extra"
		"$daemon" -c "$work/smsverifyd.conf" 2>"$work/daemon.log" &
		st_daemon_pid=$!
		for _ in $(seq 1 200); do
			# /healthz says "ok" once a bind is up.
			if curl -fsS --max-time 1 "http://127.0.0.1:$port/healthz" \
			    2>/dev/null | grep -q '"status":"ok"'; then
				# shellcheck disable=SC2034  # the caller's
				st_url=http://127.0.0.1:$port
				return 0
			fi
			kill -0 "$st_daemon_pid" 2>/dev/null || break
			sleep 0.1
		done
		sv_stop "$st_daemon_pid"
		st_daemon_pid=''
		if ! grep -q 'Address already in use' "$work/daemon.log"; then
			sv_tail "$work/daemon.log"
			echo "smsverifyd did not start, or bound no SMSC, in 20 s" \
			    "(try $try)" >&2
			return 1
		fi
		echo "port $port was taken, another one" >&2
	done
	echo "smsverifyd found no free port in 5 tries" >&2
	return 1
}
