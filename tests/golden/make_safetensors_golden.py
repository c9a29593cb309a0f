#!/usr/bin/python3
"""Golden safetensors files written from PyTorch, for tests/safetensors_test.cpp.

Run from anywhere with Debian's python3-torch (torch 1.13; results are committed, so the
build and the tests never need PyTorch):

    /usr/bin/python3 tests/golden/make_safetensors_golden.py

It writes, next to this script:

  torch_state.safetensors   the state dict of a tiny torchvision-style network
                            (conv1 -> bn1 -> relu -> global average pool -> fc), seeded and
                            run for 3 training steps so BN's running statistics and
                            num_batches_tracked (an I64 0-d tensor) are not defaults;
                            metadata {"format": "pt"} as safetensors.torch.save_model adds.
  torch_dtypes.safetensors  one tensor per dtype lowbit reads (F64 F32 I64 I32 I8 U8 BOOL),
                            extreme integers, a transposed (non-contiguous) source, a 0-d
                            tensor, two empty tensors, and non-ASCII metadata.
  safetensors_expected.json for each file: its metadata and, per tensor in header order,
                            dtype, shape, every value (row-major) and the float64 sum.

The `safetensors` Python package is not packaged for Debian, so write_safetensors() below
writes the format by hand following the spec (https://github.com/huggingface/safetensors,
README "Format"): an 8-byte little-endian u64 N, then N bytes of JSON header
{"__metadata__": {...}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
padded with spaces to a multiple of 8, then the tensors' little-endian bytes, tiling the
buffer with no holes. Like lowbit's writer (nn/safetensors.h) and the reference writer,
the buffer holds 8-byte dtypes first, then 4-byte, then 1-byte ones (stable otherwise),
so each tensor is aligned to its element size. The JSON is compact and keeps the given
order, metadata keys sorted: lowbit re-saving what it loads from these files must
reproduce them byte for byte (the test checks this).

Reading a lowbit-written checkpoint back in PyTorch:

    from safetensors.torch import load_file        # with the `safetensors` package (pip)
    model.load_state_dict(load_file("ckpt.safetensors"))

or without the package, with read_safetensors() from this script:

    /usr/bin/python3 tests/golden/make_safetensors_golden.py --read ckpt.safetensors
"""
import json
import os
import struct
import sys

import torch

DTYPES = {  # torch dtype -> safetensors name
    torch.float64: "F64", torch.float32: "F32", torch.int64: "I64", torch.int32: "I32",
    torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}
HERE = os.path.dirname(os.path.abspath(__file__))


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> torch.Tensor (any layout). metadata: dict str -> str."""
    items = [(name, t.detach().cpu().contiguous()) for name, t in tensors.items()]
    order = sorted(range(len(items)), key=lambda i: -items[i][1].element_size())  # stable
    begin, cursor = {}, 0
    for i in order:
        begin[i] = cursor
        cursor += items[i][1].numel() * items[i][1].element_size()
    header = {}
    if metadata:
        header["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    for i, (name, t) in enumerate(items):
        nbytes = t.numel() * t.element_size()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [begin[i], begin[i] + nbytes]}
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    data = b"".join(items[i][1].numpy().tobytes() for i in order)  # numpy: little-endian on x86
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def read_safetensors(path):
    """Returns (dict name -> torch.Tensor in header order, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    buffer = raw[8 + n:]
    by_name = {v: k for k, v in DTYPES.items()}
    metadata = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        dtype = by_name[info["dtype"]]
        b, e = info["data_offsets"]
        if b == e:
            out[name] = torch.empty(info["shape"], dtype=dtype)
        else:
            out[name] = torch.frombuffer(bytearray(buffer[b:e]), dtype=dtype).reshape(info["shape"])
    return out, metadata


class TinyNet(torch.nn.Module):
    """torchvision naming: conv1 / bn1 / fc, as in ResNet's stem and head."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 4, kernel_size=3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.bn1(self.conv1(x))).mean(dim=(2, 3)))


def state_tensors():
    torch.manual_seed(0)
    net = TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):  # moves weights, running stats and num_batches_tracked off their defaults
        opt.zero_grad()
        net(torch.randn(2, 3, 5, 5)).square().mean().backward()
        opt.step()
    return dict(net.state_dict())


def dtype_tensors():
    torch.manual_seed(1)
    return {
        "f64": torch.randn(2, 3, dtype=torch.float64),
        "f32_transposed": torch.randn(3, 2).t(),  # non-contiguous source
        "i64": torch.tensor([-(2 ** 63), -1, 0, 2 ** 62 + 5, 2 ** 63 - 1], dtype=torch.int64),
        "i32": torch.arange(-3, 3, dtype=torch.int32).reshape(2, 3) * 1000003,
        "i8": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False, False], [False, True, True]]),
        "scalar": torch.tensor(3.5),  # 0-d, shape []
        "empty_f32": torch.zeros(0, 3),
        "empty_i64": torch.zeros(2, 0, dtype=torch.int64),
    }


def describe(tensors):
    out = []
    for name, t in tensors.items():
        t = t.contiguous()
        floating = t.dtype.is_floating_point
        values = [float(v) if floating else int(v) for v in t.reshape(-1).tolist()]
        total = 0.0
        for v in values:  # sequential float64 sum in row-major order, as the C++ test sums
            total += float(v)
        out.append({"name": name, "dtype": DTYPES[t.dtype], "shape": list(t.shape), "sum": total,
                    "values": values})
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--read":
        tensors, metadata = read_safetensors(sys.argv[2])
        print("metadata:", metadata)
        for name, t in tensors.items():
            print(f"{name}: {t.dtype} {list(t.shape)} sum {t.double().sum().item()!r}")
        return
    files = {
        "torch_state.safetensors": (state_tensors(), {"format": "pt"}),
        "torch_dtypes.safetensors": (dtype_tensors(), {"format": "pt", "note": "lowbit golden µ"}),
    }
    expected = {}
    for filename, (tensors, metadata) in files.items():
        write_safetensors(os.path.join(HERE, filename), tensors, metadata)
        back, back_meta = read_safetensors(os.path.join(HERE, filename))  # self-check
        assert back_meta == metadata and list(back) == list(tensors)
        assert all(torch.equal(back[k], tensors[k]) for k in tensors)
        expected[filename] = {"metadata": metadata, "tensors": describe(tensors)}
    with open(os.path.join(HERE, "safetensors_expected.json"), "w", encoding="utf-8") as f:
        f.write(pretty(expected) + "\n")


def pretty(expected):
    """JSON with one line per tensor: small, and diffs well when the golden changes."""
    def dumps(value):
        return json.dumps(value, ensure_ascii=False)
    files = []
    for filename, content in expected.items():
        tensors = ",\n    ".join(dumps(t) for t in content["tensors"])
        files.append(f'  {dumps(filename)}: {{\n   "metadata": {dumps(content["metadata"])},\n'
                     f'   "tensors": [\n    {tensors}]}}')
    return "{\n" + ",\n".join(files) + "\n}"


if __name__ == "__main__":
    main()
