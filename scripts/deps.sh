#!/bin/sh
# Install what gust needs to build and test, from Debian's packages only. Idempotent: installs
# nothing when everything is present. Run as root (or with sudo) on Debian 12.
set -eu

PKGS="gcc make pkg-config libyaml-dev libjansson-dev libicu-dev libsqlite3-dev tzdata
      libmicrohttpd-dev libsodium-dev libcurl4-openssl-dev libsystemd-dev curl
      clang libclang-rt-14-dev procps jq util-linux python3 iproute2 prometheus"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "gust: missing Debian packages:$missing" >&2
	echo "gust: run this script as root (or: sudo $0)" >&2
	exit 1
fi
echo "gust: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
# prometheus (the GET /metrics test scrapes with a real one, on a port of its own): under
# systemd the package starts a service of its own on :9090 that nothing here uses.
case " $missing " in
*" prometheus "*)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now prometheus >/dev/null 2>&1 || true
	fi
	;;
esac
