#!/usr/bin/env bash
# Runs the whole product locally, offline: fetches the model (once), builds, serves, prints the URL.
# Extra arguments go to `imgpipe serve` (e.g. --port 0 --data DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh >&2
exec cargo run --quiet -p imgpipe -- serve "$@"
