#!/bin/sh
# unit_check.sh - "systemd-analyze verify" accepts conf/smsverifyd.service
# (with this build's smsverifyd in ExecStart=), refuses a broken copy of it
# (so the check can fail), and the unit keeps the settings the daemon is
# installed with: Type=notify, the watchdog, the hardening.
#
# Run by "make check" with SV_BUILDDIR, SV_SRCDIR and SYSTEMD_ANALYZE (the
# one configure found) set.  Skipped (77), saying so, only when there is
# no systemd-analyze: scripts/bootstrap installs Debian's systemd package
# for it.
set -u

builddir=${SV_BUILDDIR:-.}
srcdir=${SV_SRCDIR:-.}
sa=${SYSTEMD_ANALYZE:-}
[ -n "$sa" ] || sa=$(command -v systemd-analyze 2>/dev/null || true)
if [ -z "$sa" ] || [ ! -x "$sa" ]; then
	echo "SKIP: systemd-analyze not found (scripts/bootstrap installs" \
	    "the Debian package systemd)"
	exit 77
fi
unit_in=$srcdir/conf/smsverifyd.service.in
[ -r "$unit_in" ] || { echo "FAIL: no $unit_in" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smsverify-unit.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0

# verify UNIT: 0 when systemd-analyze has nothing to say about it.
verify() {
	out=$("$sa" verify --man=no "$1" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ]
}

# 1. The unit as installed, ExecStart= on this build's daemon.
sed -e "s|@sbindir@|$builddir/src|g" -e "s|@sysconfdir@|$tmp/etc|g" \
    "$unit_in" >"$tmp/smsverifyd.service"
if verify "$tmp/smsverifyd.service"; then
	echo "ok: systemd-analyze verify smsverifyd.service"
else
	echo "FAIL: systemd-analyze verify smsverifyd.service (exit $rc):" >&2
	echo "$out" >&2
	fail=1
fi

# 2. A broken copy is refused: the check above can fail.
sed -e 's/^Type=notify$/Type=notifyy/' -e 's/^ProtectSystem=strict$/ProtectSystem=stricter/' \
    "$tmp/smsverifyd.service" >"$tmp/broken.service"
mkdir -p "$tmp/b" && mv "$tmp/broken.service" "$tmp/b/smsverifyd.service"
if verify "$tmp/b/smsverifyd.service"; then
	echo "FAIL: systemd-analyze verify took a broken unit" >&2
	fail=1
else
	echo "ok: a broken unit is refused"
fi

# 3. What the daemon and its tests rely on.
for line in Type=notify WatchdogSec=30 NoNewPrivileges=yes \
    CapabilityBoundingSet= DynamicUser=yes StateDirectory=smsverify \
    ProtectSystem=strict PrivateTmp=yes ProtectHome=yes \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
    SystemCallFilter=@system-service SystemCallArchitectures=native \
    'ExecReload=/bin/kill -HUP $MAINPID'; do
	if ! grep -qxF "$line" "$unit_in"; then
		echo "FAIL: $unit_in has no line '$line'" >&2
		fail=1
	fi
done
[ $fail -eq 0 ] && echo "ok: the unit's settings"
exit $fail
