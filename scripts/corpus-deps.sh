#!/usr/bin/env bash
# Installs what the real-prose corpus (crates/corpus) is made from: the
# reStructuredText sources of the Python documentation in Debian's
# python3-doc. Idempotent; needs root only when the package is missing.
#
#   scripts/corpus-deps.sh && cargo run -p outpost-corpus -- --out corpus.jsonl
set -euo pipefail

if ls -d /usr/share/doc/python3.*/html/_sources >/dev/null 2>&1; then
    exit 0
fi
echo "corpus-deps: installing python3-doc (the corpus's source)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update >&2
apt-get install -y --no-install-recommends python3-doc >&2
ls -d /usr/share/doc/python3.*/html/_sources >/dev/null
