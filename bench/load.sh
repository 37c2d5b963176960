#!/usr/bin/env bash
# The reliability load bench: builds imgpipe, finds real photos and runs bench/load.py (plain,
# kill -9 ×3, 5% dependency faults), which writes its own section of docs/performance.md.
#
# Usage: bench/load.sh [load.py options, e.g. --uploads 60 --runs plain,faults]
# Env: CARGO_TARGET_DIR (default target); IMGPIPE_BENCH_CACHE (default ~/.cache/imgpipe/bench) holds
#      Debian's mate-backgrounds (as bench/run.sh fetches it); IMGPIPE_TEST_PHOTOS the scikit-image
#      photos (tests/fixtures/photos.sh); IMGPIPE_MODEL the model (scripts/fetch-model.sh);
#      PROFILE=release for a release build (default dev: the workspace's dev profile optimizes
#      dependencies, the model and the imaging code at opt-level 2).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${IMGPIPE_BENCH_CACHE:-$HOME/.cache/imgpipe/bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${PROFILE:-dev}"
say() { echo "[load.sh] $*" >&2; }
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

PHOTOS="$CACHE/photos/usr/share/backgrounds/mate"
if [[ ! -d "$PHOTOS/nature" ]]; then
    say "photos: apt-get download mate-backgrounds"
    mkdir -p "$CACHE"
    (
        cd "$CACHE"
        rm -f mate-backgrounds_*.deb
        apt-get download mate-backgrounds 2>/dev/null || { apt-get update >/dev/null && apt-get download mate-backgrounds; }
        dpkg-deb -x mate-backgrounds_*.deb photos
    )
fi
# The nature photos (real photographs, 80 KB-1.3 MB JPEGs) and, if present, scikit-image's.
ARGS=()
for f in "$PHOTOS"/nature/*.jpg "${IMGPIPE_TEST_PHOTOS:-$HOME/.cache/imgpipe/photos}"/{chelsea,coffee,astronaut}.png; do
    [[ -f "$f" ]] && ARGS+=(--photo "$f")
done

MODEL="${IMGPIPE_MODEL:-}"
if [[ -z "$MODEL" || ! -f "$MODEL" ]]; then
    MODEL="$(bash "$ROOT/scripts/fetch-model.sh" | tail -n 1)"
fi

say "building imgpipe ($PROFILE profile) in $CARGO_TARGET_DIR"
cd "$ROOT"
build_imgpipe

say "measuring"
exec python3 "$HERE/load.py" --imgpipe "$BIN" --model "$MODEL" --profile "$PROFILE" "${ARGS[@]}" "$@"
