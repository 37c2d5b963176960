#!/usr/bin/env bash
# The one benchmark command: installs the anchors (sharp from npm, Pillow and boto3 from PyPI,
# photos from Debian's mate-backgrounds), builds the release binaries, measures imgpipe side by
# side with them and writes docs/performance.md.
#
# Usage: bench/run.sh [bench.py options, e.g. --rounds 3 --only thumbnails]
# Env: IMGPIPE_BENCH_CACHE (default ~/.cache/imgpipe/bench) holds the venv and photos;
#      CARGO_TARGET_DIR (default target/h-bench) the release build.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${IMGPIPE_BENCH_CACHE:-$HOME/.cache/imgpipe/bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/h-bench}"
say() { echo "[run.sh] $*" >&2; }
mkdir -p "$CACHE"

say "sharp (npm, pinned by package-lock.json)"
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

say "Pillow, numpy, boto3 (PyPI, pinned by requirements.txt) into $CACHE/venv"
if [[ ! -x "$CACHE/venv/bin/python" ]]; then
    python3 -m venv "$CACHE/venv"
fi
"$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"

PHOTOS="$CACHE/photos/usr/share/backgrounds/mate"
if [[ ! -f "$PHOTOS/abstract/Elephants_5640x3172.jpg" ]]; then
    say "photos: apt-get download mate-backgrounds"
    (
        cd "$CACHE"
        rm -f mate-backgrounds_*.deb
        apt-get download mate-backgrounds 2>/dev/null || { apt-get update >/dev/null && apt-get download mate-backgrounds; }
        dpkg-deb -x mate-backgrounds_*.deb photos
    )
fi

say "release build in $CARGO_TARGET_DIR"
cd "$ROOT"
cargo build --release --quiet -p imgpipe-imaging --example thumbnail_bench
ARGS=(--photos "$PHOTOS" --thumbnail-bench "$CARGO_TARGET_DIR/release/examples/thumbnail_bench")
for fn in validate detect-labels thumbnail persist presign query; do
    if cargo build --release --quiet -p "$fn" 2>"$CACHE/build-$fn.log"; then
        ARGS+=(--function "$fn=$CARGO_TARGET_DIR/release/$fn")
    else
        say "function $fn does not build; skipped (see $CACHE/build-$fn.log)"
    fi
done
if cargo build --release --quiet -p imgpipe 2>"$CACHE/build-imgpipe.log"; then
    ARGS+=(--imgpipe "$CARGO_TARGET_DIR/release/imgpipe")
    if MODEL="$(bash "$ROOT/scripts/fetch-model.sh" 2>"$CACHE/fetch-model.log" | tail -n 1)" && [[ -f "$MODEL" ]]; then
        ARGS+=(--model "$MODEL")
    else
        say "model not fetched (see $CACHE/fetch-model.log)"
    fi
else
    say "imgpipe does not build; end-to-end skipped (see $CACHE/build-imgpipe.log)"
fi

say "measuring"
exec "$CACHE/venv/bin/python" "$HERE/bench.py" "${ARGS[@]}" "$@"
