"""Convert the int8-quantized EfficientNet-Lite TFLite classifier to a float ONNX graph.

tract's TFLite front end cannot read this model (old-schema operator codes, QUANTIZE), so
scripts/fetch-model.sh runs this once, at fetch time, in a throwaway venv (pinned `tflite`,
`onnx`, `numpy`). Weights and biases are dequantized (real = scale * (q - zero_point), per
channel where the model says so); activations run in float. The graph keeps the model's own
contract apart from the types:

  input  "images"  float32 [1, H, W, 3], pixel values 0..255 (the uint8 input, as floats)
  output "probs"   float32 [1, 1000], softmax probabilities

Only the operators this model family uses are supported (CONV_2D, DEPTHWISE_CONV_2D, ADD,
AVERAGE_POOL_2D, MEAN over H,W, RESHAPE, FULLY_CONNECTED, SOFTMAX, QUANTIZE, DEQUANTIZE);
anything else is an error, never a silent skip.

Usage: python tflite-to-onnx.py MODEL.tflite OUT.onnx
"""

import sys

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

ACT_NONE, ACT_RELU, ACT_RELU6 = 0, 1, 3


class Converter:
    def __init__(self, model):
        self.model = model
        self.graph = model.Subgraphs(0)
        self.nodes = []
        self.inits = []
        self.names = {}  # tflite tensor index -> onnx value name (NCHW for 4-D activations)
        self.count = 0

    # ---------------------------------------------------------------- tflite access

    def tensor(self, ix):
        return self.graph.Tensors(ix)

    def shape(self, ix):
        return [int(d) for d in self.tensor(ix).ShapeAsNumpy()]

    def quant(self, ix):
        q = self.tensor(ix).Quantization()
        if q is None or q.ScaleLength() == 0:
            return None
        return q.ScaleAsNumpy().astype(np.float32), q.ZeroPointAsNumpy().astype(np.int64), q.QuantizedDimension()

    def constant(self, ix):
        """A constant tensor's values as float32, dequantized when quantized."""
        t = self.tensor(ix)
        buf = self.model.Buffers(t.Buffer()).DataAsNumpy()
        if isinstance(buf, int) or len(buf) == 0:
            raise SystemExit(f"tensor {ix} ({t.Name()}) has no constant data")
        dtype = {
            tflite.TensorType.INT8: np.int8,
            tflite.TensorType.UINT8: np.uint8,
            tflite.TensorType.INT32: np.int32,
            tflite.TensorType.FLOAT32: np.float32,
        }[t.Type()]
        values = np.frombuffer(buf.tobytes(), dtype=dtype).reshape(self.shape(ix))
        q = self.quant(ix)
        if q is None or dtype == np.float32:
            return values.astype(np.float32)
        scale, zero, axis = q
        if len(scale) > 1:
            bshape = [1] * values.ndim
            bshape[axis] = len(scale)
            scale, zero = scale.reshape(bshape), zero.reshape(bshape)
        return ((values.astype(np.int64) - zero).astype(np.float32) * scale).astype(np.float32)

    # ---------------------------------------------------------------- onnx building

    def fresh(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def init(self, hint, array):
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, hint, **attrs):
        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def activation(self, value, fused):
        if fused == ACT_NONE:
            return value
        if fused == ACT_RELU:
            return self.node("Relu", [value], "relu")
        if fused == ACT_RELU6:
            lo, hi = self.init("zero", np.array(0, np.float32)), self.init("six", np.array(6, np.float32))
            return self.node("Clip", [value, lo, hi], "relu6")
        raise SystemExit(f"unsupported fused activation {fused}")

    @staticmethod
    def same_pads(in_hw, k_hw, strides):
        """TFLite SAME padding (the extra pixel goes after), as ONNX [top, left, bottom, right]."""
        before, after = [], []
        for size, k, s in zip(in_hw, k_hw, strides):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            before.append(total // 2)
            after.append(total - total // 2)
        return before + after

    def conv(self, op, depthwise):
        inputs = op.InputsAsNumpy()
        opts = tflite.DepthwiseConv2DOptions() if depthwise else tflite.Conv2DOptions()
        table = op.BuiltinOptions()
        opts.Init(table.Bytes, table.Pos)
        if opts.DilationHFactor() != 1 or opts.DilationWFactor() != 1:
            raise SystemExit("dilated convolutions are not supported")
        weights = self.constant(inputs[1])
        if depthwise:
            # [1, kh, kw, C*m] -> [C*m, 1, kh, kw], one group per input channel.
            w = weights.transpose(3, 0, 1, 2)
            group = self.shape(inputs[0])[3]
        else:
            # [O, kh, kw, I] -> [O, I, kh, kw]
            w = weights.transpose(0, 3, 1, 2)
            group = 1
        strides = [opts.StrideH(), opts.StrideW()]
        k_hw = list(w.shape[2:])
        in_hw = self.shape(inputs[0])[1:3]
        pads = self.same_pads(in_hw, k_hw, strides) if opts.Padding() == tflite.Padding.SAME else [0, 0, 0, 0]
        args = [self.names[inputs[0]], self.init("w", w)]
        if len(inputs) > 2 and inputs[2] >= 0:
            args.append(self.init("b", self.constant(inputs[2]).reshape(-1)))
        out = self.node("Conv", args, "conv", strides=strides, pads=pads, kernel_shape=k_hw, group=group)
        return self.activation(out, opts.FusedActivationFunction())

    def convert_op(self, op, name):
        inputs, outputs = op.InputsAsNumpy(), op.OutputsAsNumpy()
        if name in ("QUANTIZE", "DEQUANTIZE"):
            return self.names[inputs[0]]
        if name == "CONV_2D":
            return self.conv(op, depthwise=False)
        if name == "DEPTHWISE_CONV_2D":
            return self.conv(op, depthwise=True)
        if name == "ADD":
            opts = tflite.AddOptions()
            table = op.BuiltinOptions()
            if table is not None:
                opts.Init(table.Bytes, table.Pos)
            out = self.node("Add", [self.names[inputs[0]], self.names[inputs[1]]], "add")
            return self.activation(out, opts.FusedActivationFunction() if table is not None else ACT_NONE)
        if name == "AVERAGE_POOL_2D":
            opts = tflite.Pool2DOptions()
            table = op.BuiltinOptions()
            opts.Init(table.Bytes, table.Pos)
            in_hw = self.shape(inputs[0])[1:3]
            if [opts.FilterHeight(), opts.FilterWidth()] != in_hw or opts.Padding() != tflite.Padding.VALID:
                raise SystemExit("only global average pooling is supported")
            out = self.node("GlobalAveragePool", [self.names[inputs[0]]], "pool")
            return self.activation(out, opts.FusedActivationFunction())
        if name == "MEAN":
            axes = self.constant(inputs[1]).astype(np.int64).tolist()
            if sorted(axes) != [1, 2]:
                raise SystemExit(f"MEAN over axes {axes} is not supported")
            return self.node("GlobalAveragePool", [self.names[inputs[0]]], "pool")
        if name == "RESHAPE":
            target = self.shape(outputs[0])
            if len(target) != 2 or target[0] != 1:
                raise SystemExit(f"RESHAPE to {target} is not supported")
            return self.node("Flatten", [self.names[inputs[0]]], "flat", axis=1)
        if name == "FULLY_CONNECTED":
            opts = tflite.FullyConnectedOptions()
            table = op.BuiltinOptions()
            opts.Init(table.Bytes, table.Pos)
            args = [self.names[inputs[0]], self.init("fc_w", self.constant(inputs[1]))]
            if len(inputs) > 2 and inputs[2] >= 0:
                args.append(self.init("fc_b", self.constant(inputs[2]).reshape(-1)))
            out = self.node("Gemm", args, "fc", transB=1)
            return self.activation(out, opts.FusedActivationFunction())
        if name == "SOFTMAX":
            opts = tflite.SoftmaxOptions()
            table = op.BuiltinOptions()
            opts.Init(table.Bytes, table.Pos)
            value = self.names[inputs[0]]
            if abs(opts.Beta() - 1.0) > 1e-6:
                value = self.node("Mul", [value, self.init("beta", np.array(opts.Beta(), np.float32))], "beta")
            return self.node("Softmax", [value], "softmax", axis=-1)
        raise SystemExit(f"unsupported operator {name}")

    def run(self):
        g = self.graph
        if g.InputsLength() != 1 or g.OutputsLength() != 1:
            raise SystemExit("expected one input and one output")
        in_ix, out_ix = g.Inputs(0), g.Outputs(0)
        in_shape = self.shape(in_ix)
        if len(in_shape) != 4 or in_shape[3] != 3:
            raise SystemExit(f"expected an NHWC RGB input, got {in_shape}")
        # Pixels 0..255 -> the real values the quantized input stands for, then NHWC -> NCHW.
        x = "images"
        q = self.quant(in_ix)
        if q is not None and self.tensor(in_ix).Type() != tflite.TensorType.FLOAT32:
            scale, zero, _ = q
            x = self.node("Sub", [x, self.init("in_zero", np.array(float(zero[0]), np.float32))], "in_sub")
            x = self.node("Mul", [x, self.init("in_scale", np.array(scale[0], np.float32))], "in_mul")
        self.names[in_ix] = self.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = tflite.opcode2name(builtin)
            out = self.convert_op(op, name)
            self.names[op.OutputsAsNumpy()[0]] = out
        self.nodes.append(helper.make_node("Identity", [self.names[out_ix]], ["probs"]))
        out_shape = self.shape(out_ix)
        graph = helper.make_graph(
            self.nodes,
            "efficientnet_lite",
            [helper.make_tensor_value_info("images", TensorProto.FLOAT, in_shape)],
            [helper.make_tensor_value_info("probs", TensorProto.FLOAT, out_shape)],
            self.inits,
        )
        model = helper.make_model(
            graph, producer_name="imgpipe tflite-to-onnx", opset_imports=[helper.make_opsetid("", 13)]
        )
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: tflite-to-onnx.py MODEL.tflite OUT.onnx")
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    model = tflite.Model.GetRootAsModel(data, 0)
    onnx_model = Converter(model).run()
    with open(sys.argv[2], "wb") as f:
        f.write(onnx_model.SerializeToString())


if __name__ == "__main__":
    main()
