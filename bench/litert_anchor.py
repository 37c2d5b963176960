"""The classifier's anchor for bench/labels.py: the reference TFLite interpreter (ai-edge-litert,
one thread) running EfficientNet-Lite3 as shipped (int8), on the same photos decoded as the
pipeline does (longest side at most 640 px), resized to 280x280. Prints one JSON object:
per-image milliseconds (resize + invoke) over ROUNDS passes after one warm-up pass.

Usage: python litert_anchor.py MODEL.tflite ROUNDS PHOTO...
"""

import json
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image


def view(path):
    image = Image.open(path).convert("RGB")
    image.thumbnail((640, 640))
    return image


def main():
    model, rounds, photos = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    interpreter = Interpreter(model_path=model, num_threads=1)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    images = [view(p) for p in photos]
    times = []
    for round_ in range(rounds + 1):
        for image in images:
            started = time.perf_counter()
            pixels = np.asarray(image.resize((280, 280), Image.BILINEAR), dtype=np.uint8)[None]
            interpreter.set_tensor(inp["index"], pixels)
            interpreter.invoke()
            interpreter.get_tensor(out["index"])
            if round_ > 0:
                times.append((time.perf_counter() - started) * 1e3)
    print(json.dumps({"ms": times}))


if __name__ == "__main__":
    main()
