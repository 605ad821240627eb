#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, when missing.
# Runs apt-get only as root; otherwise names what to install and fails.
set -euo pipefail
# libmtdev1: Kivy's multitouch input on a Linux touchscreen (without it Kivy logs an error at start)
# postgresql: the server binaries (initdb, pg_ctl) the tests start their own throwaway cluster with
# nginx: the tests run Debian's nginx (their own `nginx -c`, loopback ports) in front of two centers
PACKAGES=(mosquitto libgl1 libgl1-mesa-dri libegl1 libegl-mesa0 libmtdev1 chromium fonts-noto-cjk openssl
          postgresql nginx)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # Only the binaries: without this the package creates a "main" cluster and
    # starts it on 5432 as a service, which nothing here uses (create one with
    # `pg_createcluster <version> main --start` when the center should run on it).
    apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
    pg_conftool /etc/postgresql-common/createcluster.conf set create_main_cluster false
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    # The package starts its default site on port 80; the tests start their own nginx.
    systemctl disable --now nginx >/dev/null 2>&1 || true
fi
