#!/usr/bin/env bash
# Lambda runs the functions on arm64 (template.yaml). This cross-builds the thumbnail code the way
# `sam build` does (cargo-lambda with Zig, so libjpeg-turbo's C goes through Zig's cc too), runs
# it under qemu-aarch64 on the thumbnail set and checks its thumbnails against the x86-64 build's.
#
# Usage: bench/arm64.sh   (installs qemu-user and arm64 glibc from Debian, cargo-lambda from PyPI
#                          into the bench venv, and the aarch64 Rust standard library with rustup)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
CACHE="${IMGPIPE_BENCH_CACHE:-$HOME/.cache/imgpipe/bench}"
PHOTOS="$CACHE/photos/usr/share/backgrounds/mate"
say() { echo "[arm64.sh] $*" >&2; }

if ! command -v qemu-aarch64 >/dev/null || [[ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]]; then
    say "qemu-user, libc6-arm64-cross (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        qemu-user libc6-arm64-cross libgcc-s1-arm64-cross >/dev/null
fi
[[ -x "$CACHE/venv/bin/python" ]] || python3 -m venv "$CACHE/venv"
"$CACHE/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt" cargo-lambda
rustup target add aarch64-unknown-linux-gnu >/dev/null
[[ -f "$PHOTOS/abstract/Elephants_5640x3172.jpg" ]] || { say "photos missing: run bench/run.sh once"; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/h-bench}"
cd "$ROOT"
say "x86-64 and arm64 (cargo lambda --arm64) release builds in $CARGO_TARGET_DIR"
cargo build --release --quiet -p imgpipe-imaging --example thumbnail_bench
PATH="$CACHE/venv/bin:$PATH" cargo lambda build --release --arm64 --quiet -p imgpipe-imaging --example thumbnail_bench
arm="$(ls -t "$CARGO_TARGET_DIR"/aarch64-unknown-linux-gnu/release/examples/thumbnail_bench* | grep -v '\.d$' | head -n 1)"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/x86_64" "$out/arm64"
files=(nature/Dune.jpg nature/Storm.jpg nature/Wood.jpg abstract/Elephants_3840x2160.jpg abstract/Elephants_5640x3172.jpg)
"$CARGO_TARGET_DIR/release/examples/thumbnail_bench" thumbnail --out "$out/x86_64" "${files[@]/#/$PHOTOS/}" >/dev/null
qemu-aarch64 -L /usr/aarch64-linux-gnu "$arm" thumbnail --out "$out/arm64" "${files[@]/#/$PHOTOS/}" >/dev/null
say "$(file -b "$arm" | cut -d, -f1-2)"
"$CACHE/venv/bin/python" -c '
import os, sys
sys.path.insert(0, sys.argv[1])
import bench
from PIL import Image
out = sys.argv[2]
worst = 1.0
print("| thumbnail | size (x86-64 / arm64) | SSIM arm64 vs x86-64 |")
print("|---|---|---:|")
for name in sorted(os.listdir(os.path.join(out, "x86_64"))):
    a, b = (Image.open(os.path.join(out, arch, name)) for arch in ("x86_64", "arm64"))
    s = bench.ssim(bench.luma(a), bench.luma(b)) if a.size == b.size else 0.0
    worst = min(worst, s)
    print(f"| {name} | {a.size[0]}x{a.size[1]} / {b.size[0]}x{b.size[1]} | {s:.4f} |")
sys.exit(0 if worst >= 0.99 else 1)
' "$HERE" "$out"
