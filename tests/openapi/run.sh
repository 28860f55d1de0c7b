#!/usr/bin/env bash
# tests/openapi/run.sh - check smsverify's OpenAPI document against a real
# smsverifyd: start the SMSC simulator (with delivery receipts) and
# smsverifyd with admin, client and test keys, test numbers, an inbound
# number, a shield quick to trip and webhooks to tests/hook_sink, then
# openapi.test.js; stop them all.
# Builds nothing.
#
#	tests/openapi/run.sh [SMSVERIFYD SMSC_SIM]
#
# The binaries: the arguments, else $SMSVERIFYD and $SMSC_SIM, else
# build/asan/src/smsverifyd and build/asan/tests/smsc_sim (scripts/test's
# build).  Needs node and `npm ci` done in tests/openapi.  The logs of a
# failed run stay in its temporary directory (under $SV_TMPDIR or /tmp),
# whose path is printed; OPENAPI_KEEP=1 keeps them after a passing run too.
# The daemon and simulator are started by tests/status/start.sh.
# Exits 0 when the test passed, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
# shellcheck source=tests/status/start.sh
. "$top/tests/status/start.sh"

fail() {
	printf 'OpenAPI test: FAILED: %s\n' "$*" >&2
	exit 1
}

daemon=${1:-${SMSVERIFYD:-$SV_BUILD_ROOT/asan/src/smsverifyd}}
sim=${2:-${SMSC_SIM:-$SV_BUILD_ROOT/asan/tests/smsc_sim}}
hook=${HOOK_SINK:-$(dirname "$sim")/hook_sink}

# Everything missing is said plainly: a test that cannot run fails.
[ -x "$daemon" ] || fail "no smsverifyd at $daemon (build it: scripts/test," \
	"or pass its path)"
[ -x "$sim" ] || fail "no smsc_sim at $sim (build it, or pass its path)"
[ -x "$hook" ] || fail "no hook_sink at $hook (built beside smsc_sim;" \
	"or set HOOK_SINK)"
command -v node >/dev/null 2>&1 || fail "node is not installed" \
	"(Debian's nodejs package; scripts/bootstrap installs it)"
[ -f "$here/node_modules/ajv/package.json" ] ||
	fail "the validators are missing: run 'npm ci' in tests/openapi"
command -v curl >/dev/null 2>&1 || fail "curl is not installed"

base_tmp=${SV_TMPDIR:-/tmp}
work=$(mktemp -d "$base_tmp/smsverify-openapi-XXXXXX")

admin=admin-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
client=client-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
tester=test-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
secret=hook-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
hook_pid=''

result=1
# shellcheck disable=SC2317  # called by the EXIT trap
stop_all() {
	trap - INT TERM
	sv_stop "$st_daemon_pid"
	sv_stop "$st_sim_pid" "$hook_pid"
	if [ "$result" -eq 0 ] && [ "${OPENAPI_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	elif [ "$result" -eq 0 ]; then
		echo "OpenAPI test: logs kept in $work (OPENAPI_KEEP=1)"
	else
		echo "OpenAPI test: logs kept in $work" >&2
	fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# The webhook receiver: one JSON line per POST in hooks.jsonl.
"$hook" -p 0 -P "$work/hook.port" -o "$work/hooks.jsonl" \
	2>"$work/hook.log" &
hook_pid=$!
sv_wait_file "$work/hook.port" "$hook_pid" 10 "hook_sink"
hook_port=$(cat "$work/hook.port")
# The shield trips a range after 3 sends nobody approved (openapi.test.js
# sends each of its other sends to a range of its own).  The admin and
# client keys' events go to hook_sink.
cat >"$work/keys.conf" <<EOF
[key ops]
token = $admin
role = admin
webhook = http://127.0.0.1:$hook_port/ops
webhook_secret = $secret

[key shop]
token = $client
webhook = http://127.0.0.1:$hook_port/shop
webhook_secret = $secret

[key qa]
token = $tester
role = test
webhook = http://127.0.0.1:$hook_port/qa
webhook_secret = $secret

[test numbers]
numbers = +15005550000-+15005550099

[number inbox]
address = +447700900123
key = qa

[shield]
min_sample = 3
grace = 0
window = 10
conversion_floor = 50
cooldown = 600
EOF

# The inbound SMS the simulator sends on SIGUSR2 (openapi.test.js asks).
printf '%s\n' '{"from": "+447700900001", "to": "+447700900123",' \
	'"text": "Your code is 482913"}' | tr -d '\n' >"$work/mo.jsonl"
echo >>"$work/mo.jsonl"

st_start "$work" "$daemon" "$sim" \
	"--dlr delivered --dlr-delay-ms 200 --mo $work/mo.jsonl" \
	"$work/keys.conf" || fail "the simulator or smsverifyd did not start"
sv_say "OpenAPI test: smsverifyd on $st_url, bound to the simulator"

status=0
SMSVERIFY_URL=$st_url OA_ADMIN=$admin OA_CLIENT=$client OA_TEST=$tester \
OA_HANDSET=$work/handset.jsonl OA_HOOKS=$work/hooks.jsonl \
OA_HOOK_SECRET=$secret OA_SIM_PID=$st_sim_pid \
	timeout -k 5 120 node "$here/openapi.test.js" || status=$?

sv_stop "$st_daemon_pid"
st_daemon_pid=''
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
    "$work/daemon.log"; then
	echo "OpenAPI test: smsverifyd reported a sanitizer error" >&2
	sv_tail "$work/daemon.log" 60
	status=1
fi
if grep -qF -e "$admin" -e "$client" -e "$tester" -e "$secret" "$work/daemon.log"; then
	echo "OpenAPI test: a token or the webhook secret is in" \
	    "smsverifyd's log" >&2
	status=1
fi

if [ "$status" -eq 0 ]; then
	result=0
	echo "OpenAPI test: PASS"
else
	[ "$status" -eq 124 ] && echo "OpenAPI test: timed out after 120 s" >&2
	sv_tail "$work/daemon.log" 30
	echo "OpenAPI test: FAILED" >&2
fi
exit "$result"
