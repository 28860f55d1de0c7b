#!/bin/sh
# conf_check.sh - "smsverifyd -t" accepts the documented example
# configuration and refuses a bad one with its file:line.
#
# Run by "make check" with SV_BUILDDIR and SV_SRCDIR set.
set -u

builddir=${SV_BUILDDIR:-.}
srcdir=${SV_SRCDIR:-.}
daemon="$builddir/src/smsverifyd"
fail=0

if [ ! -x "$daemon" ]; then
	echo "conf_check: $daemon not built" >&2
	exit 99
fi

# 1. The example configuration is valid.
out=$("$daemon" -t -c "$srcdir/conf/smsverifyd.conf" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: conf/smsverifyd.conf refused (exit $rc):" >&2
	echo "$out" >&2
	fail=1
else
	case $out in
	*"configuration ok"*) echo "ok: conf/smsverifyd.conf" ;;
	*) echo "FAIL: no 'configuration ok' in: $out" >&2; fail=1 ;;
	esac
fi

# 2. A bad port is refused with exit 1, naming file and line.
bad="$srcdir/tests/data/conf/bad_port.conf"
out=$("$daemon" -t -c "$bad" 2>&1)
rc=$?
if [ $rc -ne 1 ]; then
	echo "FAIL: bad_port.conf: exit $rc, expected 1" >&2
	fail=1
fi
case $out in
*"$bad:8: [smsc carrier-a] port: 70000 is out of range 1..65535"*)
	echo "ok: bad_port.conf refused with file:line" ;;
*)
	echo "FAIL: bad_port.conf: expected $bad:8 port error, got:" >&2
	echo "$out" >&2
	fail=1 ;;
esac

exit $fail
