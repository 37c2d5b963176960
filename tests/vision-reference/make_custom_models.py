"""Small ONNX models whose answers are known, for the vision crate's custom-model tests.

- colour_classifier.onnx: NCHW [1, 3, 8, 8] -> mean colour -> Gemm (10 x identity) -> Softmax
  over 3 classes (colour_labels.txt: red, green, blue). A pure red image answers "red" with
  probability e^10 / (e^10 + 2) = 0.99991.
- red_detector.onnx: NHWC [1, 16, 16, 3] -> boxes [1, 1, 4] (constant 0.25..0.75), scores
  [1, 1] (mean of the red channel), classes [1, 1] (constant 0): "red thing" in the middle,
  as confident as the picture is red.
- Models that break the contract: dynamic_input.onnx (input [1, 3, h, w]), two_outputs.onnx,
  logits_classifier.onnx (no Softmax: scores outside 0..1).

Usage: python make_custom_models.py OUT_DIR
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, path):
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def colour_classifier(shape=(1, 3, 8, 8), softmax=True):
    w = numpy_helper.from_array((np.eye(3, dtype=np.float32) * 10.0), "w")
    b = numpy_helper.from_array(np.zeros(3, dtype=np.float32), "b")
    nodes = [
        helper.make_node("GlobalAveragePool", ["image"], ["mean"]),
        helper.make_node("Flatten", ["mean"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits" if softmax else "scores"], transB=1),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=1))
    graph = helper.make_graph(
        nodes,
        "colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])],
        [w, b],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def red_detector(extra_output=False):
    boxes = numpy_helper.from_array(np.array([[[0.25, 0.25, 0.75, 0.75]]], dtype=np.float32), "box_values")
    classes = numpy_helper.from_array(np.array([[0.0]], dtype=np.float32), "class_values")
    starts, ends, axes = (numpy_helper.from_array(np.array([v], dtype=np.int64), n) for v, n in ((0, "s"), (1, "e"), (1, "a")))
    nodes = [
        helper.make_node("Identity", ["box_values"], ["boxes"]),
        helper.make_node("ReduceMean", ["image"], ["mean"], axes=[1, 2], keepdims=0),
        helper.make_node("Slice", ["mean", "s", "e", "a"], ["scores"]),
        helper.make_node("Identity", ["class_values"], ["classes"]),
    ]
    outputs = [
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 1, 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1]),
        helper.make_tensor_value_info("classes", TensorProto.FLOAT, [1, 1]),
    ]
    if extra_output:
        outputs = outputs[:2]
        nodes = nodes[:3]
    graph = helper.make_graph(
        nodes,
        "red",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 16, 16, 3])],
        outputs,
        [boxes, classes, starts, ends, axes],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    save(colour_classifier(), os.path.join(out, "colour_classifier.onnx"))
    save(colour_classifier(shape=(1, 3, "h", "w")), os.path.join(out, "dynamic_input.onnx"))
    save(colour_classifier(softmax=False), os.path.join(out, "logits_classifier.onnx"))
    save(red_detector(), os.path.join(out, "red_detector.onnx"))
    save(red_detector(extra_output=True), os.path.join(out, "two_outputs.onnx"))
    with open(os.path.join(out, "colour_labels.txt"), "w") as f:
        f.write("red\ngreen\nblue\n")
    with open(os.path.join(out, "red_labels.txt"), "w") as f:
        f.write("Red Thing\n")
    print("custom models in", out)


if __name__ == "__main__":
    main()
