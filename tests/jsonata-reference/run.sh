#!/usr/bin/env bash
# Evaluates the corpus (corpus.json, then every corpus-*.json in name order) with the reference JSONata (npm jsonata, pinned in package-lock.json to
# the version AWS Step Functions uses) and writes the expected results for
# local/jsonata/tests/reference.rs. Idempotent and cached on the inputs' hash.
#
# Usage: tests/jsonata-reference/run.sh [OUT_DIR]   (default: $HOME/.cache/imgpipe/jsonata-reference)
# Prints the expected-results file on its last line
# (export IMGPIPE_JSONATA_REFERENCE=$(... | tail -n 1)).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${1:-${HOME}/.cache/imgpipe/jsonata-reference}"
LC_COLLATE=C
CORPUS=("$HERE/corpus.json")
for extra in "$HERE"/corpus-*.json; do [[ -e "$extra" ]] && CORPUS+=("$extra"); done
KEY="$(cat "${CORPUS[@]}" "$HERE/evaluate.js" "$HERE/package-lock.json" | sha256sum | cut -c1-16)"
EXPECTED="$OUT/expected-$KEY.json"

if [[ ! -f "$EXPECTED" ]]; then
    mkdir -p "$OUT"
    (cd "$HERE" && npm ci --silent --no-audit --no-fund) >&2
    node "$HERE/evaluate.js" "${CORPUS[@]}" > "$EXPECTED.tmp"
    mv "$EXPECTED.tmp" "$EXPECTED"
fi
echo "$EXPECTED"
