#!/usr/bin/env bash
# The local models' speed bench (issue 13): builds the labels example and imgpipe (release), makes
# sure the models, the original .tflite (the anchor's) and its interpreter are there
# (tests/vision-reference/run.sh), then runs bench/labels.py, which writes its own section of
# docs/performance.md.
#
# Usage: bench/labels.sh [labels.py options, e.g. --rounds 5]
# Env: CARGO_TARGET_DIR (default target); PROFILE=dev to bench the dev build of imgpipe.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="$HOME/.cache/imgpipe"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${PROFILE:-release}"
say() { echo "[labels.sh] $*" >&2; }
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"

MODEL="$(bash "$ROOT/scripts/fetch-model.sh" | tail -n 1)"
# The reference data step fetches the original .tflite, mate-backgrounds and a venv with LiteRT.
bash "$ROOT/tests/vision-reference/run.sh" >/dev/null

say "building the labels example (release) and imgpipe ($PROFILE)"
cd "$ROOT"
cargo build --release --quiet -p vision --example labels
build_imgpipe

say "measuring"
exec python3 "$HERE/labels.py" --labels-bin "$CARGO_TARGET_DIR/release/examples/labels" --imgpipe "$BIN" \
    --profile "$PROFILE" --model "$MODEL" --tflite "$CACHE/efficientnet_lite3.tflite" \
    --litert-python "$CACHE/vision-reference-venv/bin/python" \
    --photos "$CACHE/bench/photos/usr/share/backgrounds/mate" "$@"
