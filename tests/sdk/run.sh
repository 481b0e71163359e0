#!/usr/bin/env bash
# Run the SDK conformance suite: official cloud SDKs against a real `weir serve` on loopback.
#   tests/sdk/run.sh PYTHON WEIR_BIN
# PYTHON: an interpreter with tests/sdk/requirements.txt installed; WEIR_BIN: the weir binary.
# Exit code = test result.
set -euo pipefail
if [ "$#" -ne 2 ]; then
  echo "usage: $0 PYTHON WEIR_BIN" >&2
  exit 2
fi
python=$1
weir_bin=$2
case "$weir_bin" in /*) ;; *) weir_bin="$PWD/$weir_bin" ;; esac
cd "$(dirname "$0")/../.."
export WEIR_BIN="$weir_bin"
exec "$python" -m unittest discover -s tests/sdk -t . -v
