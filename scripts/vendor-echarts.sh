#!/usr/bin/env bash
# Re-fetches the vendored Apache ECharts (center/static/vendor/echarts/) from
# the npm registry at the pinned version and checks it: the package tarballs'
# and the shipped script's sha256 must be the pinned ones. The halls run on an
# intranet, so the dashboard never loads a chart library from a CDN.
#
#   bash scripts/vendor-echarts.sh           # fetch, check, write the folder
#   bash scripts/vendor-echarts.sh --check   # fetch, check, compare with the folder
#
# To move to another version: set the versions below, run with UPDATE=1 to
# print the new checksums, pin them here, run again, look at the charts
# (tests/center/test_browser_report.py) and commit the folder with this file.
set -euo pipefail
ECHARTS_VERSION=5.6.0
ECHARTS_TGZ_SHA256=e1b82487dd7f8d9f0438eec1f1433051148e0095ac7a15d4db890afda45cf610
ECHARTS_MIN_SHA256=bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1
# the renderer bundled into echarts.min.js (BSD-3-Clause): its licence travels along
ZRENDER_VERSION=5.6.1
ZRENDER_TGZ_SHA256=0a2228b558e1a4bd8f1c74d67bb492923e3f5807d03c83d1665fb97af180dc26

here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/center/static/vendor/echarts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {   # name version expected-sha256 -> extracted into $work/name
    local name=$1 version=$2 want=$3 tgz got
    tgz=$(cd "$work" && npm pack --silent "$name@$version")
    got=$(sha256sum "$work/$tgz" | cut -d' ' -f1)
    if [ "${UPDATE:-}" = 1 ]; then
        echo "$name@$version tarball sha256 $got"
    elif [ "$got" != "$want" ]; then
        echo "vendor-echarts: $name@$version tarball sha256 is $got, expected $want" >&2
        exit 1
    fi
    mkdir -p "$work/$name"
    tar xzf "$work/$tgz" -C "$work/$name" --strip-components=1
}

fetch echarts "$ECHARTS_VERSION" "$ECHARTS_TGZ_SHA256"
fetch zrender "$ZRENDER_VERSION" "$ZRENDER_TGZ_SHA256"
deps=$(node -p "require('$work/echarts/package.json').dependencies.zrender")
if [ "$deps" != "$ZRENDER_VERSION" ]; then
    echo "vendor-echarts: echarts@$ECHARTS_VERSION bundles zrender $deps, not $ZRENDER_VERSION" >&2
    exit 1
fi
min=$(sha256sum "$work/echarts/dist/echarts.min.js" | cut -d' ' -f1)
if [ "${UPDATE:-}" = 1 ]; then
    echo "echarts.min.js sha256 $min"
    exit 0
fi
[ "$min" = "$ECHARTS_MIN_SHA256" ] || { echo "vendor-echarts: echarts.min.js sha256 is $min, expected $ECHARTS_MIN_SHA256" >&2; exit 1; }

out="$work/out"
mkdir -p "$out"
cp "$work/echarts/dist/echarts.min.js" "$work/echarts/LICENSE" "$work/echarts/NOTICE" "$out/"
cp "$work/echarts/licenses/LICENSE-d3" "$out/LICENSE-d3"
cp "$work/zrender/LICENSE" "$out/LICENSE-zrender"
cat > "$out/SOURCE.txt" <<TXT
Apache ECharts $ECHARTS_VERSION, dist/echarts.min.js of the npm package echarts@$ECHARTS_VERSION
(sha256 $ECHARTS_MIN_SHA256), with its LICENSE (Apache-2.0) and NOTICE, the d3
licence its LICENSE names (LICENSE-d3) and the licence of the bundled renderer
zrender@$ZRENDER_VERSION (LICENSE-zrender, BSD-3-Clause).
Re-fetched and checked by scripts/vendor-echarts.sh; do not edit by hand.
TXT
if [ "${1:-}" = "--check" ]; then
    diff -r "$out" "$dest" && echo "vendor-echarts: $dest is echarts@$ECHARTS_VERSION as pinned"
    exit
fi
rm -rf "$dest"
mkdir -p "$dest"
cp "$out"/* "$dest/"
echo "vendor-echarts: wrote echarts@$ECHARTS_VERSION into $dest"
