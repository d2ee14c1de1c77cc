#!/usr/bin/env bash
# Regenerates the shipped synthetic prompts under prompts/ with espeak-ng (Debian package
# `espeak-ng`) and `flac`. The output is committed; serving never runs this.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
say() { # say FILE VOICE TEXT
  espeak-ng -v "$2" -s 150 -w "$tmp/raw.wav" "$3"
  # espeak-ng writes 22.05 kHz; Herald resamples per codec, so the source rate is kept.
  flac -s -f --best -o "$repo/prompts/$1.flac" "$tmp/raw.wav"
}
mkdir -p "$repo/prompts"
say welcome en-gb "Welcome to Herald. This call is answered by the Herald media server. Each key you press on your phone is noted in the call record."
