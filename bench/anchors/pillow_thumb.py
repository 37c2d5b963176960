"""Pillow anchor for bench/run.sh: the same thumbnails as imgpipe (1024 and 256 px, JPEG q80),
the way Pillow does them best: draft() (JPEG DCT scaling) to the 1024 px target, exif_transpose,
LANCZOS to 1024 px, then 256 px from those pixels.

Usage: python3 pillow_thumb.py [--passes N] [--warmup N] [--out DIR] FILE...
Prints one JSON line per file: {"file": ..., "ms": [per-pass milliseconds]}.
"""
import argparse
import io
import json
import os
import time

from PIL import Image, ImageOps


def fit(width, height, size):
    """Dimensions with the longest side min(size, longest), rounded as imgpipe and sharp do."""
    longest = max(width, height)
    target = min(size, longest)
    return (max(1, round(width * target / longest)), max(1, round(height * target / longest)))


def thumbnails(data):
    im = Image.open(io.BytesIO(data))
    # Oriented size first, so draft() is asked for the stored-orientation target.
    w, h = im.size
    bw, bh = fit(w, h, 1024)
    if im.format == "JPEG":
        im.draft("RGB", (bw, bh))
    im = ImageOps.exif_transpose(im)
    if im.mode != "RGB":
        im = im.convert("RGB")
    big = im.resize(fit(*im.size, 1024) if im.size != (bw, bh) else im.size, Image.LANCZOS)
    small = big.resize(fit(*big.size, 256), Image.LANCZOS)
    out = []
    for size, img in ((1024, big), (256, small)):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        out.append((size, buf.getvalue()))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--passes", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--out")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    for file in args.files:
        with open(file, "rb") as f:
            data = f.read()
        ms = []
        for p in range(args.warmup + args.passes):
            start = time.perf_counter()
            thumbs = thumbnails(data)
            took = (time.perf_counter() - start) * 1e3
            if p >= args.warmup:
                ms.append(took)
            if args.out and p == args.warmup + args.passes - 1:
                stem = os.path.splitext(os.path.basename(file))[0]
                for size, jpeg in thumbs:
                    with open(os.path.join(args.out, f"{stem}_{size}.jpg"), "wb") as f:
                        f.write(jpeg)
        print(json.dumps({"file": file, "ms": ms}), flush=True)


if __name__ == "__main__":
    main()
