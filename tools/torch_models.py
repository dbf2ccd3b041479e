"""torch_models.py: cnnlab's models as PyTorch nn.Modules, under the names
`cnnlab export --format safetensors` writes (docs/export.md).

A cnnlab model is a list of layers, each reading the layer before or the
earlier layers its `inputs` name (-1: the image). CnnlabNet holds the same list
as `self.layers` (an nn.ModuleList), one PyTorch module per cnnlab layer, so
its state_dict names are "layers.INDEX.weight", "layers.4.running_mean", ...
exactly the exporter's. Every built-in model and model file is built from the
layer list the exporter stores in the file's metadata ("layers"), so

    from torch_models import load_safetensors, model_from_safetensors
    net = model_from_safetensors("run/model.safetensors")   # strict load_state_dict
    logits = net(normalise(x01, net.mean, net.std))           # x01: (N, 3, H, W) in [0, 1]

The module computes in NCHW what cnnlab computes in NHWC: conv and linear
weights are PyTorch's layouts already; layer norm's (C, H, W) parameters are
transposed by the exporter. The file format is read here with the standard
library only (8-byte header size, JSON header, raw buffer), so no safetensors
package is needed; save_safetensors writes the same layout for `cnnlab import`.
"""
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": (torch.float32, 4), "I64": (torch.int64, 8)}


def load_safetensors(path):
    """(tensors by name, metadata dict) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        dtype, size = DTYPES[t["dtype"]]
        b, e = t["data_offsets"]
        buf = bytearray(raw[base + b:base + e])
        v = torch.frombuffer(buf, dtype=dtype) if buf else torch.zeros(0, dtype=dtype)
        tensors[name] = v.reshape(t["shape"]).clone()
    return tensors, meta


def save_safetensors(path, tensors, metadata=None):
    """Writes tensors (name -> float32 or int64 tensor) in the safetensors layout."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        code = "F32" if t.dtype == torch.float32 else "I64"
        data = t.numpy().tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class Act(nn.Module):
    def __init__(self, act):
        super().__init__()
        self.act = act

    def forward(self, x):
        return {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                "leaky_relu": lambda v: F.leaky_relu(v, 0.01), "gelu": F.gelu,
                "elu": F.elu}[self.act](x)


class Flatten(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class GlobalPool(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.op = op

    def forward(self, x):
        return x.amax((2, 3)) if self.op == "max" else x.mean((2, 3))


class Norm(nn.Module):
    """BatchNorm2d/1d, LayerNorm([C, H, W]), InstanceNorm2d(affine) or GroupNorm
    by the input's rank: cnnlab's vectors are (N, F) here."""

    def __init__(self, kind, layer):
        super().__init__()
        c, h, w = layer["in"]
        self.kind, self.eps = kind, layer["eps"] or 1e-5
        shape = (c, h, w) if kind == "layernorm" else (c,)
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))
        self.groups = {"layernorm": 1, "instancenorm": c}.get(kind, layer["groups"])
        if kind == "batchnorm":
            self.register_buffer("running_mean", torch.zeros(c))
            self.register_buffer("running_var", torch.ones(c))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        if self.kind == "batchnorm":
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                self.training, 0.1, self.eps)
        four = x.dim() == 4
        y = x if four else x[:, :, None, None]
        if self.kind == "layernorm":
            y = F.layer_norm(y, y.shape[1:], self.weight, self.bias, 1e-5)
        else:
            y = F.group_norm(y, self.groups, self.weight, self.bias, 1e-5)
        return y if four else y.flatten(1)


class Shortcut(nn.Module):
    """He et al.'s option A: every stride-th pixel, channels zero-padded."""

    def __init__(self, stride, cin, cout):
        super().__init__()
        self.stride, self.b, self.after = stride, (cout - cin) // 2, cout - cin - (cout - cin) // 2

    def forward(self, x):
        s = self.stride
        return F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, self.b, self.after))


class Scale(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return x * self.s


class Merge(nn.Module):
    """add, concat (channels) and gate (map * sigmoid(logits))."""

    def __init__(self, op):
        super().__init__()
        self.op = op

    def forward(self, *xs):
        if any(x.dim() == 4 for x in xs):
            xs = [x if x.dim() == 4 else x[:, :, None, None] for x in xs]
        if self.op == "add":
            return sum(xs[1:], xs[0])
        if self.op == "concat":
            return torch.cat(xs, 1)
        return xs[0] * torch.sigmoid(xs[1])


class Linear(nn.Linear):
    def forward(self, x):
        return super().forward(x.flatten(1))


def layer_module(layer):
    """The PyTorch module of one cnnlab layer (its metadata entry)."""
    kind = layer["kind"]
    cin = layer["in"][0]
    if kind == "conv":
        g = max(layer["groups"], 1)
        return nn.Conv2d(cin, layer["channels"], layer["k"], layer["stride"], layer["pad"],
                         groups=g, bias=bool(layer["bias"]))
    if kind == "linear":
        return Linear(cin, layer["channels"], bias=bool(layer["bias"]))
    if kind == "act":
        return Act(layer["act"])
    if kind in ("maxpool", "avgpool"):
        cls = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
        return cls(layer["k"], layer["stride"], layer["pad"])
    if kind in ("gap", "gmp"):
        return GlobalPool("max" if kind == "gmp" else "mean")
    if kind == "flatten":
        return Flatten()
    if kind in ("batchnorm", "layernorm", "instancenorm", "groupnorm"):
        return Norm(kind, layer)
    if kind in ("identity", "dropout", "dropout2d"):
        return nn.Identity()
    if kind in ("add", "concat", "gate"):
        return Merge(kind)
    if kind == "shortcut":
        return Shortcut(layer["stride"], cin, layer["out"][0])
    if kind == "scale":
        return Scale(layer["scale"])
    raise ValueError("no PyTorch module for cnnlab layer kind %r" % kind)


class CnnlabNet(nn.Module):
    def __init__(self, layers, mean=None, std=None):
        super().__init__()
        self.spec = layers
        self.layers = nn.ModuleList(layer_module(l) for l in layers)
        self.mean, self.std = mean, std

    def forward(self, x):
        """x: normalised images (N, C, H, W); returns the logits (N, classes)."""
        outs = []
        for spec, mod in zip(self.spec, self.layers):
            outs.append(mod(*[x if j < 0 else outs[j] for j in spec["inputs"]]))
        return outs[-1].flatten(1)


def normalise(x01, mean, std):
    """(x - mean) / std per channel, as cnnlab's input (x in [0, 1])."""
    m = torch.tensor(mean, dtype=x01.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x01.dtype).view(1, -1, 1, 1)
    return (x01 - m) / s


def model_from_safetensors(path):
    """The module of an exported file with its weights loaded (strict=True), in eval mode."""
    tensors, meta = load_safetensors(path)
    net = CnnlabNet(json.loads(meta["layers"]), json.loads(meta["mean"]), json.loads(meta["std"]))
    net.load_state_dict(tensors, strict=True)
    return net.eval()
