#!/usr/bin/env bash
# Installs the system packages Herald needs, when missing. Used by serve.sh, test.sh and CI.
#   setup-deps.sh build   what building the server needs
#   setup-deps.sh test    plus the real peers the test suite runs against
set -euo pipefail
# cmake and a C compiler: the opus crate builds libopus from source.
want=(pkg-config cmake build-essential)
if [ "${1:-build}" = test ]; then
  # sip-tester: SIPp; postgresql: a real PostgreSQL for the store tests; iproute2 + util-linux:
  # private network namespaces for the RFC 4475 wire test; openssl: the TLS test certificate;
  # asterisk-core-sounds-en-wav: 25 minutes of speech for the in-band DTMF talk-off test;
  # xsltproc: turns the W3C VoiceXML IR tests (.txml) into VoiceXML; age: the standard tool an
  # auditor decrypts wrapped recording keys with; python3-venv: the venv schemathesis (below), the
  # OpenAPI fuzzer of the HTTP API test, is installed into.
  want+=(sip-tester postgresql iproute2 util-linux openssl asterisk-core-sounds-en-wav xsltproc age python3-venv)
fi
if [ "${1:-build}" = bench ]; then
  # kamailio: the SIP baseline; rtpengine-daemon: the media baseline (benches/load/).
  want+=(sip-tester kamailio rtpengine-daemon)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "Herald needs a Rust toolchain (1.95 or newer): install it with rustup (https://rustup.rs) and run this again." >&2
  exit 1
fi
if [ "${1:-build}" = test ] && ! command -v s3s-fs >/dev/null 2>&1; then
  # A real S3-compatible server (signature-checking) for the object-storage tests.
  echo "installing: s3s-fs (cargo install)" >&2
  cargo install s3s-fs --version 0.14.1 --features binary --locked --quiet
fi
schemathesis_version=4.32.5
schemathesis_venv="$(cd "$(dirname "$0")/.." && pwd)/target/schemathesis-venv"
if [ "${1:-build}" = test ] &&
  [ "$("$schemathesis_venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $schemathesis_version" ]; then
  # schemathesis (PyPI): fuzzes the HTTP API from its /openapi.json for server errors. Pinned, in a
  # venv under the ignored target/, so the tests themselves never download anything. Debian's
  # python3 first (python3-venv above), else whichever python3 is on PATH.
  echo "installing: schemathesis $schemathesis_version (pip, into target/schemathesis-venv)" >&2
  python=/usr/bin/python3
  "$python" -c 'import ensurepip, venv' 2>/dev/null || python=python3
  rm -rf "$schemathesis_venv"
  "$python" -m venv "$schemathesis_venv"
  "$schemathesis_venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi
