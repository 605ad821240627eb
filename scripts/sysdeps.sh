#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, when missing.
# Runs apt-get only as root; otherwise names what to install and fails.
set -euo pipefail
# libmtdev1: Kivy's multitouch input on a Linux touchscreen (without it Kivy logs an error at start)
PACKAGES=(mosquitto libgl1 libgl1-mesa-dri libegl1 libegl-mesa0 libmtdev1 chromium fonts-noto-cjk openssl)
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
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
