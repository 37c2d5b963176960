"""Reference answers of the EfficientNet-Lite3 classifier, from the reference TFLite interpreter
(ai-edge-litert) running the int8 model as shipped.

For each photo: decode, shrink to at most 640 px (as the pipeline's decoder does), resize to
280x280 (Pillow bilinear), and write the exact model input (`<name>.rgb`, 280*280*3 bytes) and
the output's top 5 (class index, probability) into reference.json. The Rust test feeds the same
bytes to the converted ONNX graph through tract and compares.

Usage: python classifier_reference.py MODEL.tflite OUT_DIR PHOTO...
"""

import json
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

SIDE = 280


def main():
    model, out, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
    interpreter = Interpreter(model_path=model)
    interpreter.allocate_tensors()
    inp, outp = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert list(inp["shape"]) == [1, SIDE, SIDE, 3] and inp["dtype"] == np.uint8, inp
    scale, zero = outp["quantization"]
    answers = []
    for photo in photos:
        image = Image.open(photo)
        image.draft("RGB", (640, 640))
        image = image.convert("RGB")
        image.thumbnail((640, 640), Image.BILINEAR)
        pixels = np.asarray(image.resize((SIDE, SIDE), Image.BILINEAR), dtype=np.uint8)
        name = os.path.basename(photo)
        with open(os.path.join(out, name + ".rgb"), "wb") as f:
            f.write(pixels.tobytes())
        interpreter.set_tensor(inp["index"], pixels[None])
        interpreter.invoke()
        probs = (interpreter.get_tensor(outp["index"])[0].astype(np.float32) - zero) * scale
        top = np.argsort(-probs, kind="stable")[:5]
        answers.append({"photo": name, "input": name + ".rgb", "top5": [[int(i), float(probs[i])] for i in top]})
        print(name, [(int(i), round(float(probs[i]), 3)) for i in top])
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"model": "efficientnet_lite3.tflite", "interpreter": "ai-edge-litert", "photos": answers}, f, indent=1)


if __name__ == "__main__":
    main()
