#!/usr/bin/env bash
# tests/signup/run.sh - run the signup browser test against a real smsverifyd:
# start the SMSC simulator, smsverifyd with a test key, the signup page's
# backend (server.js), then signup.test.js in headless Chromium; stop them
# all.  Builds nothing.
#
#	tests/signup/run.sh [SMSVERIFYD SMSC_SIM]
#
# The binaries: the arguments, else $SMSVERIFYD and $SMSC_SIM, else
# build/asan/src/smsverifyd and build/asan/tests/smsc_sim (scripts/test's
# build).  Needs node, `npm ci` done in tests/signup, and Chromium
# ($CHROMIUM, default /usr/bin/chromium).  The screenshot goes to
# $SIGNUP_ARTIFACTS (default build/signup); the logs of a failed run stay in
# its temporary directory (under $SV_TMPDIR or /tmp), whose path is printed;
# SIGNUP_KEEP=1 keeps them after a passing run too.
# Exits 0 when the test passed, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

fail() {
	printf 'signup test: FAILED: %s\n' "$*" >&2
	exit 1
}

daemon=${1:-${SMSVERIFYD:-$SV_BUILD_ROOT/asan/src/smsverifyd}}
sim=${2:-${SMSC_SIM:-$SV_BUILD_ROOT/asan/tests/smsc_sim}}
chromium=${CHROMIUM:-/usr/bin/chromium}
artifacts=${SIGNUP_ARTIFACTS:-$SV_BUILD_ROOT/signup}

# Everything missing is said plainly: a test that cannot run fails.
[ -x "$daemon" ] || fail "no smsverifyd at $daemon (build it: scripts/test," \
	"or pass its path)"
[ -x "$sim" ] || fail "no smsc_sim at $sim (build it, or pass its path)"
[ -x "$chromium" ] || fail "Chromium is not installed ($chromium is" \
	"missing): install Debian's chromium package (scripts/bootstrap does)" \
	"or set CHROMIUM"
command -v node >/dev/null 2>&1 || fail "node is not installed" \
	"(Debian's nodejs package; scripts/bootstrap installs it)"
[ -f "$here/node_modules/playwright-core/package.json" ] ||
	fail "playwright-core is missing: run 'npm ci' in tests/signup"
command -v curl >/dev/null 2>&1 || fail "curl is not installed"

base_tmp=${SV_TMPDIR:-/tmp}
work=$(mktemp -d "$base_tmp/smsverify-signup-XXXXXX")
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)

token=signup-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')

# A port on 127.0.0.1 nothing listens on, below the kernel's ephemeral range
# (an outgoing connection's local port is not seen by a connect test, but
# makes a bind fail).
free_port() {
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
	fail "no free TCP port found on 127.0.0.1"
}

# write_conf HTTP_PORT SIM_PORT: smsverifyd's configuration.
write_conf() {
	cat >"$work/smsverifyd.conf" <<EOF
[server]
listen = 127.0.0.1:$1
secret_file = $work/secret
request_timeout = 10
submit_wait_ms = 3000
log_level = info

[store]
path = $work/db
map_size = 64M
sweep_interval = 1

[verify]
code_length = 6
expiry = 600
max_check_attempts = 5
default_country = US

[smsc sim]
host = 127.0.0.1
port = $2
system_id = smsverify
password = secret1
reconnect_min_ms = 100
reconnect_max_ms = 500
response_timeout = 5

; the signup page's key: a test key, its sends are captured, never submitted
[key signup]
token = $token
role = test
EOF
}

sim_pid=''
daemon_pid=''
page_pid=''
result=1
# shellcheck disable=SC2317  # called by the EXIT trap
stop_all() {
	trap - INT TERM
	sv_stop "$page_pid"
	sv_stop "$daemon_pid"
	sv_stop "$sim_pid"
	if [ "$result" -eq 0 ] && [ "${SIGNUP_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	elif [ "$result" -eq 0 ]; then
		echo "signup test: logs kept in $work (SIGNUP_KEEP=1)"
	else
		echo "signup test: logs kept in $work" >&2
	fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# The simulator binds port 0 and writes the port it got.
"$sim" -p 0 -P "$work/sim.port" -o "$work/handset.jsonl" -q \
	-u smsverify -w secret1 2>"$work/sim.log" &
sim_pid=$!
sv_wait_file "$work/sim.port" "$sim_pid" 10 "the SMSC simulator"
sim_port=$(cat "$work/sim.port")
sv_say "signup test: SMSC simulator on 127.0.0.1:$sim_port"

# smsverifyd's listen port cannot be 0 (it is not readable back): pick one,
# and another when something took it in the meantime (at most 5 tries, each
# bounded to 20 s).
sv_url=''
for try in 1 2 3 4 5; do
	http_port=$(free_port)
	write_conf "$http_port" "$sim_port"
	"$daemon" -c "$work/smsverifyd.conf" 2>"$work/daemon.log" &
	daemon_pid=$!
	for _ in $(seq 1 200); do
		if curl -fsS -o /dev/null --max-time 1 \
		    "http://127.0.0.1:$http_port/healthz" 2>/dev/null; then
			sv_url=http://127.0.0.1:$http_port
			break
		fi
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$sv_url" ] && break
	sv_stop "$daemon_pid"
	daemon_pid=''
	if ! grep -q 'Address already in use' "$work/daemon.log"; then
		sv_tail "$work/daemon.log"
		fail "smsverifyd did not start (try $try)"
	fi
	echo "signup test: port $http_port was taken, another one" >&2
done
[ -n "$sv_url" ] || fail "smsverifyd found no free port in 5 tries"
sv_say "signup test: smsverifyd on $sv_url"

sv_say "signup test: the signup page (server.js)"
SMSVERIFY_URL=$sv_url SMSVERIFY_TOKEN=$token PORT=0 \
SIGNUP_PORT_FILE=$work/page.port \
	node "$here/server.js" >"$work/page.log" 2>&1 &
page_pid=$!
sv_wait_file "$work/page.port" "$page_pid" 10 "server.js"
page_url=http://127.0.0.1:$(cat "$work/page.port")/
sv_wait_http "$page_url" "$page_pid" 10 server.js "$work/page.log"

sv_say "signup test: headless Chromium"
status=0
SIGNUP_URL=$page_url SMSVERIFY_URL=$sv_url SMSVERIFY_TOKEN=$token \
CHROMIUM=$chromium SIGNUP_ARTIFACTS=$artifacts \
	timeout -k 5 120 node "$here/signup.test.js" || status=$?

# Nothing of this test reaches the simulated handset: the key is a test key.
if [ -s "$work/handset.jsonl" ]; then
	echo "signup test: the simulator's handset received a message" \
	    "(a test key's send reached the SMSC)" >&2
	status=1
fi
sv_stop "$page_pid" "$daemon_pid"
page_pid='' daemon_pid=''
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
    "$work/daemon.log"; then
	echo "signup test: smsverifyd reported a sanitizer error" >&2
	sv_tail "$work/daemon.log" 60
	status=1
fi

if [ "$status" -eq 0 ]; then
	result=0
	echo "signup test: PASS (screenshot: $artifacts/signup-verified.png)"
else
	[ "$status" -eq 124 ] && echo "signup test: timed out after 120 s" >&2
	sv_tail "$work/page.log" 20
	sv_tail "$work/daemon.log" 30
	echo "signup test: FAILED" >&2
fi
exit "$result"
