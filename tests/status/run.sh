#!/usr/bin/env bash
# tests/status/run.sh - run the status page's browser test against a real
# smsverifyd: start the SMSC simulator (with delivery receipts) and
# smsverifyd with an admin key and a client key, then status.test.js in
# headless Chromium; stop them all.  Builds nothing.
#
#	tests/status/run.sh [SMSVERIFYD SMSC_SIM]
#
# The binaries: the arguments, else $SMSVERIFYD and $SMSC_SIM, else
# build/asan/src/smsverifyd and build/asan/tests/smsc_sim (scripts/test's
# build).  Needs node, `npm ci` done in tests/status, and Chromium
# ($CHROMIUM, default /usr/bin/chromium).  The screenshots go to
# $STATUS_ARTIFACTS (default build/status); the logs of a failed run stay
# in its temporary directory (under $SV_TMPDIR or /tmp), whose path is
# printed; STATUS_KEEP=1 keeps them after a passing run too.
# Exits 0 when the test passed, 1 otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
# shellcheck source=tests/status/start.sh
. "$here/start.sh"

fail() {
	printf 'status page test: FAILED: %s\n' "$*" >&2
	exit 1
}

daemon=${1:-${SMSVERIFYD:-$SV_BUILD_ROOT/asan/src/smsverifyd}}
sim=${2:-${SMSC_SIM:-$SV_BUILD_ROOT/asan/tests/smsc_sim}}
chromium=${CHROMIUM:-/usr/bin/chromium}
artifacts=${STATUS_ARTIFACTS:-$SV_BUILD_ROOT/status}

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
	fail "playwright-core is missing: run 'npm ci' in tests/status"
command -v curl >/dev/null 2>&1 || fail "curl is not installed"

base_tmp=${SV_TMPDIR:-/tmp}
work=$(mktemp -d "$base_tmp/smsverify-status-XXXXXX")
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)

admin=admin-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
client=client-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
printf '[key ops]\ntoken = %s\nrole = admin\n\n[key shop]\ntoken = %s\n' \
	"$admin" "$client" >"$work/keys.conf"

result=1
# shellcheck disable=SC2317  # called by the EXIT trap
stop_all() {
	trap - INT TERM
	sv_stop "$st_daemon_pid"
	sv_stop "$st_sim_pid"
	if [ "$result" -eq 0 ] && [ "${STATUS_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	elif [ "$result" -eq 0 ]; then
		echo "status page test: logs kept in $work (STATUS_KEEP=1)"
	else
		echo "status page test: logs kept in $work" >&2
	fi
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

st_start "$work" "$daemon" "$sim" "--dlr delivered --dlr-delay-ms 200" \
	"$work/keys.conf" || fail "the simulator or smsverifyd did not start"
sv_say "status page test: smsverifyd on $st_url, bound to the simulator"

sv_say "status page test: headless Chromium"
status=0
SMSVERIFY_URL=$st_url STATUS_ADMIN_TOKEN=$admin STATUS_CLIENT_TOKEN=$client \
STATUS_HANDSET=$work/handset.jsonl CHROMIUM=$chromium \
STATUS_ARTIFACTS=$artifacts \
	timeout -k 5 120 node "$here/status.test.js" || status=$?

sv_stop "$st_daemon_pid"
st_daemon_pid=''
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
    "$work/daemon.log"; then
	echo "status page test: smsverifyd reported a sanitizer error" >&2
	sv_tail "$work/daemon.log" 60
	status=1
fi
if grep -qF -e "$admin" -e "$client" "$work/daemon.log"; then
	echo "status page test: a token is in smsverifyd's log" >&2
	status=1
fi

if [ "$status" -eq 0 ]; then
	result=0
	echo "status page test: PASS (screenshots: $artifacts/status-live.png" \
	    "$artifacts/status-stats.png $artifacts/status-refused.png)"
else
	[ "$status" -eq 124 ] && echo "status page test: timed out after 120 s" >&2
	sv_tail "$work/daemon.log" 30
	echo "status page test: FAILED" >&2
fi
exit "$result"
