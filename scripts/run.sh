#!/usr/bin/env bash
# Runs the whole product locally, offline: fetches the model (once), builds, serves, prints the URL.
# Extra arguments go to `imgpipe serve` (e.g. --port 0 --data DIR).
#
# The build is `cargo build --workspace --bins`, exactly the test script's first build, so
# whichever of the two runs first, the other reuses what it built.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/fetch-model.sh >&2
echo "building imgpipe (the first build takes a while; later ones are quick) ..." >&2
cargo build --workspace --bins >&2
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec "$target_dir/debug/imgpipe" serve "$@"
