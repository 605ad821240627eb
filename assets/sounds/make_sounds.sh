#!/usr/bin/env bash
# Regenerates the kiosk's voice prompts (committed; run once by hand).
# Needs espeak-ng (Debian package espeak-ng, Mandarin voice "cmn"); the
# kiosk only plays the WAV files and never needs espeak-ng itself.
set -euo pipefail
cd "$(dirname "$0")"
say() { espeak-ng -v cmn -s 150 -a 160 -w "$1.wav" "$2"; }
say reminder "请您完成评价。请点击屏幕上的按钮。"
say thanks "感谢您的评价。"
say rate "请您对本次服务作出评价。"
ls -l ./*.wav
