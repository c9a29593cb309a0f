#!/usr/bin/python3
"""Golden fake-quantization results from PyTorch, for tests/fake_quantize_test.cpp.

Run from anywhere with Debian's python3-torch (torch 1.13; the output is committed, so the
build and the tests never need PyTorch):

    /usr/bin/python3 tests/golden/make_quant_golden.py

It writes quant/fake_quantize_golden.json next to this script. Every float is stored as
its float32 bit pattern (8 hex digits per element, concatenated), so the bits survive.

  cases  one entry per call of
           torch.fake_quantize_per_tensor_affine           (op "per_tensor")
           torch.fake_quantize_per_channel_affine          (op "per_channel")
           torch._fake_quantize_learnable_per_tensor_affine  (op "learnable_per_tensor")
           torch._fake_quantize_learnable_per_channel_affine (op "learnable_per_channel")
         with the inputs (x, dy, scale, zero_point, qmin, qmax, axis, grad_factor) and the
         results: y, dx = d(y . dy)/dx and, for the learnable ops, dscale and dzero_point
         (torch's totals, summed by torch in float32). Learnable per-tensor cases also carry
         dscale_elem / dzero_point_elem: the same op called on each element alone, so each
         value is one term of the total, bit-exact (a one-element sum only turns -0 into +0).
         Learnable per-channel cases with x of shape [C, 1] have one element per channel,
         so their totals are per-element terms already.
  large  a 131075-element per-tensor case whose inputs are not stored: x and dy come from
         large_value() below, which the test repeats in C++ (a splitmix64 hash of the index
         turned into m * 2^-20 with a 24-bit signed integer m: an exact float32). Stored are
         FNV-1a 64-bit hashes of the float32 bytes of y, dx and the learnable dx, every
         1024th element of each (for a readable failure), and the learnable totals.

The x values of each small case mix: exact ties (x chosen so that float32 x * (1.0f/s) is
exactly k + 1/2), their float32 neighbours, random normals over the range, values far
outside it (|x/s| up to 1e15, below the 2^63 where torch's int64 cast stops being
defined), +0, -0, tiny and subnormal values. The learnable "fma" cases put ties next to a
zero point near -k, where torch's contracted z + x * (1/s) (an FMA) rounds differently
from the two-step expression; the kernel reproduces that.
"""
import json
import os

import numpy as np
import torch

f32 = np.float32
MASK = (1 << 64) - 1


def hex_bits(a):
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32)).reshape(-1)
    return "".join("%08x" % int(b) for b in a.view(np.uint32))


def tie_inputs(scale, ks, neighbours=True):
    """Float32 x with x * (1.0f/s) == k + 0.5 exactly in float32, for k in ks (when one exists
    within 64 ulps of (k + 0.5) / (1/s)), each followed by its two float32 neighbours."""
    inv = f32(1) / f32(scale)
    out = []
    for k in ks:
        target = f32(k + 0.5)
        x0 = f32(float(target) / float(inv))
        cands = [x0]
        lo = hi = x0
        for _ in range(64):
            lo = np.nextafter(lo, f32(-np.inf))
            hi = np.nextafter(hi, f32(np.inf))
            cands += [lo, hi]
        for x in cands:
            if f32(x * inv) == target:
                out.append(x)
                if neighbours:
                    out += [np.nextafter(x, f32(-np.inf)), np.nextafter(x, f32(np.inf))]
                break
    return out


def tie_levels(qmin, qmax, z):
    """k + 1/2 ties to test: both ends of the range (and a step beyond), around 0, and a spread inside."""
    lo, hi = qmin - z, qmax - z  # the range of rne(x/s)
    ks = set(range(lo - 2, lo + 3)) | set(range(hi - 3, hi + 2)) | set(range(-3, 3))
    ks |= set(np.linspace(lo, hi, 10).astype(int).tolist())
    return sorted(ks)


def case_inputs(scale, qmin, qmax, z, n_random, gen):
    """The x values of one small case (see the module docstring)."""
    s = float(f32(scale))
    xs = tie_inputs(s, tie_levels(qmin, qmax, z))
    span = (qmax - qmin) * s
    xs += [f32(v) for v in (torch.randn(n_random, generator=gen) * span * 0.4).tolist()]
    far = [1e3 * span, 1e6 * s, 1e15 * s]
    xs += [f32(v) for v in far] + [f32(-v) for v in far]
    xs += [f32(0.0), f32(-0.0), f32(1e-30), f32(-1e-30), f32(1e-41), f32(-1e-41)]
    return np.array(xs, dtype=f32)


def grads(fn, x, dy, *params):
    """y = fn(x, *params) and the gradients of sum(y * dy) to x and to each param."""
    x = torch.tensor(x).requires_grad_()
    ps = [p.clone().requires_grad_() if isinstance(p, torch.Tensor) and p.is_floating_point() else p for p in params]
    y = fn(x, *ps)
    y.backward(torch.tensor(dy))
    gs = [p.grad for p in ps if isinstance(p, torch.Tensor) and p.requires_grad]
    return y.detach(), x.grad, gs


def per_tensor_case(name, scale, z, qmin, qmax, gen, n_random=96):
    x = case_inputs(scale, qmin, qmax, z, n_random, gen)
    dy = torch.randn(len(x), generator=gen).numpy()
    s = float(f32(scale))
    y, dx, _ = grads(lambda t: torch.fake_quantize_per_tensor_affine(t, s, z, qmin, qmax), x, dy)
    return dict(name=name, op="per_tensor", shape=[len(x)], qmin=qmin, qmax=qmax, scale=hex_bits([s]),
                zero_point=[z], x=hex_bits(x), dy=hex_bits(dy), y=hex_bits(y), dx=hex_bits(dx))


def per_channel_case(name, shape, axis, scales, zps, qmin, qmax, gen):
    c = shape[axis]
    assert len(scales) == c and len(zps) == c
    n = int(np.prod(shape))
    # Per channel: that channel's ties and special values first, random values after.
    per = n // c
    rows = []
    for ch in range(c):
        vals = case_inputs(scales[ch], qmin, qmax, zps[ch], per, gen)
        rows.append(np.concatenate([vals[:per // 2], vals[-(per - per // 2):]]))
    other = [d for i, d in enumerate(shape) if i != axis]
    x = np.ascontiguousarray(np.moveaxis(np.stack(rows).reshape([c] + other), 0, axis))
    dy = torch.randn(shape, generator=gen).numpy()
    s = torch.tensor(np.array(scales, dtype=f32))
    zt = torch.tensor(zps, dtype=torch.int32)
    y, dx, _ = grads(lambda t: torch.fake_quantize_per_channel_affine(t, s, zt, axis, qmin, qmax), x, dy)
    assert y.numel() == n
    return dict(name=name, op="per_channel", shape=list(shape), axis=axis, qmin=qmin, qmax=qmax,
                scale=hex_bits(scales), zero_point=list(zps), x=hex_bits(x), dy=hex_bits(dy), y=hex_bits(y),
                dx=hex_bits(dx))


def learnable_tensor(t, s, z, qmin, qmax, gf):
    return torch._fake_quantize_learnable_per_tensor_affine(t, s, z, qmin, qmax, gf)


def learnable_per_tensor_case(name, scale, zp, qmin, qmax, gf, gen, x=None, n_random=96):
    s = torch.tensor([float(f32(scale))])
    z = torch.tensor([float(f32(zp))])
    if x is None:
        x = case_inputs(scale, qmin, qmax, int(round(zp)), n_random, gen)
    dy = torch.randn(len(x), generator=gen).numpy()
    y, dx, (ds, dz) = grads(lambda t, s_, z_: learnable_tensor(t, s_, z_, qmin, qmax, gf), x, dy, s, z)
    ds_elem, dz_elem = [], []
    for i in range(len(x)):
        _, _, (dsi, dzi) = grads(lambda t, s_, z_: learnable_tensor(t, s_, z_, qmin, qmax, gf), x[i:i + 1],
                                 dy[i:i + 1], s, z)
        ds_elem.append(dsi.item())
        dz_elem.append(dzi.item())
    return dict(name=name, op="learnable_per_tensor", shape=[len(x)], qmin=qmin, qmax=qmax,
                scale=hex_bits(s.numpy()), zero_point=hex_bits(z.numpy()), grad_factor=gf, x=hex_bits(x),
                dy=hex_bits(dy), y=hex_bits(y), dx=hex_bits(dx), dscale=hex_bits(ds), dzero_point=hex_bits(dz),
                dscale_elem=hex_bits(ds_elem), dzero_point_elem=hex_bits(dz_elem))


def learnable_per_channel_case(name, x, axis, scales, zps, qmin, qmax, gf, gen):
    s = torch.tensor(np.array(scales, dtype=f32))
    z = torch.tensor(np.array(zps, dtype=f32))
    dy = torch.randn(x.shape, generator=gen).numpy()
    fn = lambda t, s_, z_: torch._fake_quantize_learnable_per_channel_affine(t, s_, z_, axis, qmin, qmax, gf)
    y, dx, (ds, dz) = grads(fn, x, dy, s, z)
    return dict(name=name, op="learnable_per_channel", shape=list(x.shape), axis=axis, qmin=qmin, qmax=qmax,
                scale=hex_bits(scales), zero_point=hex_bits(zps), grad_factor=gf, x=hex_bits(x), dy=hex_bits(dy),
                y=hex_bits(y), dx=hex_bits(dx), dscale=hex_bits(ds), dzero_point=hex_bits(dz))


def fma_inputs(scale, kmin, kmax):
    """Ties of float32 x * (1/s) whose exact product is not the tie (an FMA sees the difference)."""
    inv = f32(1) / f32(scale)
    out = []
    for x in tie_inputs(scale, range(kmin, kmax + 1), neighbours=False):
        if float(x) * float(inv) != float(f32(x * inv)):  # exact in double: 24 x 24 bits
            out.append(x)
    return out


# ---- the large case ----

LARGE_N = 131075  # 2^17 + 3: full SIMD vectors, several chunks and a tail
LARGE_SCALE = float(f32(0.0123))
LARGE_ZP = 3


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def large_value(stream, i):
    """An exact float32: m * 2^-20 with m a 24-bit signed integer (|v| < 8)."""
    h = splitmix64((stream << 40) | i)
    m = (h >> 40) - (1 << 23)
    return np.ldexp(float(m), -20)


def fnv1a64(a):
    h = 0xCBF29CE484222325
    for b in np.ascontiguousarray(np.asarray(a, dtype=np.float32)).reshape(-1).view(np.uint8).tobytes():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return "%016x" % h


def large_case():
    x = np.array([large_value(1, i) for i in range(LARGE_N)], dtype=f32)
    dy = np.array([large_value(2, i) for i in range(LARGE_N)], dtype=f32)
    y, dx, _ = grads(lambda t: torch.fake_quantize_per_tensor_affine(t, LARGE_SCALE, LARGE_ZP, -128, 127), x, dy)
    s = torch.tensor([LARGE_SCALE])
    zp = torch.tensor([2.7])  # forward z = 3, torch's per-tensor backward z = trunc(3.2) = 3
    gf = 1.0 / np.sqrt(LARGE_N * 127)
    yl, dxl, (ds, dz) = grads(lambda t, s_, z_: learnable_tensor(t, s_, z_, -128, 127, float(gf)), x, dy, s, zp)
    assert torch.equal(yl, y)
    sub = slice(0, LARGE_N, 1024)
    return dict(n=LARGE_N, scale=hex_bits([LARGE_SCALE]), zero_point=LARGE_ZP, qmin=-128, qmax=127,
                learnable_zero_point=hex_bits(zp.numpy()), grad_factor=float(gf),
                y_fnv1a64=fnv1a64(y), dx_fnv1a64=fnv1a64(dx), learnable_dx_fnv1a64=fnv1a64(dxl),
                subsample_step=1024, y_sub=hex_bits(y.numpy()[sub]), dx_sub=hex_bits(dx.numpy()[sub]),
                learnable_dx_sub=hex_bits(dxl.numpy()[sub]), dscale=hex_bits(ds), dzero_point=hex_bits(dz))


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    cases = [
        per_tensor_case("int8_s0.0123_z3", 0.0123, 3, -128, 127, gen),
        per_tensor_case("uint8_s0.1_z128", 0.1, 128, 0, 255, gen),
        per_tensor_case("int4_s0.37_z-2", 0.37, -2, -8, 7, gen),
        per_tensor_case("uint4_s0.0625_z0", 0.0625, 0, 0, 15, gen),
        per_tensor_case("int8narrow_s1/127_z0", 1.0 / 127.0, 0, -127, 127, gen),
        per_tensor_case("uint8_s0.0039_z0", 0.0039, 0, 0, 255, gen),
        per_tensor_case("int16_s3e-4_z-7", 3e-4, -7, -32768, 32767, gen, n_random=64),
        per_channel_case("axis1_int8", [3, 5, 16], 1, [0.0123, 0.1, 0.37, 1e-3, 0.05], [3, 0, -2, 100, -128],
                         -128, 127, gen),
        per_channel_case("axis0_uint8", [4, 3, 4, 4], 0, [0.02, 0.1, 0.0625, 0.003], [128, 0, 255, 7], 0, 255, gen),
        per_channel_case("axis-1_int4", [6, 7], 1, [0.37, 0.1, 0.25, 0.013, 1.5, 0.07, 0.5], [0, -2, 7, -8, 1, 3, 0],
                         -8, 7, gen),
        learnable_per_tensor_case("int8_zp3.3", 0.0123, 3.3, -128, 127, 1.0, gen),
        learnable_per_tensor_case("int8_zp-2.4_gf0.3", 0.05, -2.4, -128, 127, 0.3, gen),  # forward z -2, backward -1
        learnable_per_tensor_case("uint8_zp2.5", 0.1, 2.5, 0, 255, 0.01, gen),  # forward z 2, backward 3
        learnable_per_tensor_case("int4_zp0.6", 0.37, 0.6, -8, 7, 1.0 / np.sqrt(200 * 7), gen),
        learnable_per_tensor_case("int8_fma_zp-100", 0.1, -100.0, -128, 127, 1.0, gen,
                                  x=np.array(fma_inputs(0.1, 80, 126), dtype=f32)),
    ]
    # Learnable per channel, one element per channel ([C, 1], axis 0): exact per-element terms.
    c = 160
    scales = np.array(torch.empty(c).uniform_(0.01, 0.5, generator=gen).numpy(), dtype=f32)
    zps = np.array(torch.empty(c).uniform_(-131, 130, generator=gen).numpy(), dtype=f32)
    zps[:8] = [2.5, 3.5, -2.5, -0.5, 0.5, 300.0, -300.0, -2.4]
    x = np.array([f32(v) for v in (torch.randn(c, generator=gen) * 10).tolist()], dtype=f32)
    for i in range(8, 40):  # ties of each channel's own scale
        ties = tie_inputs(float(scales[i]), [i % 50 - 25], neighbours=False)
        if ties:
            x[i] = ties[0]
    cases.append(learnable_per_channel_case("int8_one_per_channel", x.reshape(c, 1), 0, scales, zps, -128, 127,
                                            0.7, gen))
    # ... including fma-sensitive ties: x * (1/s) a tie near k, zero point near -k.
    xs, ss, zz = [], [], []
    for i, sc in enumerate([0.1, 0.3, 0.07, 0.011]):
        for x_ in fma_inputs(sc, 80, 120)[:20]:
            k = int(np.floor(float(f32(x_ * (f32(1) / f32(sc))))))
            xs.append(x_), ss.append(sc), zz.append(float(-k + 1 + (i % 3)))
    cases.append(learnable_per_channel_case("int8_fma_one_per_channel", np.array(xs, dtype=f32).reshape(-1, 1), 0,
                                            np.array(ss, dtype=f32), np.array(zz, dtype=f32), -128, 127, 1.0, gen))
    # Several elements per channel: totals (summed in float32 by torch), dx exact.
    xm = (torch.randn(4, 5, 8, generator=gen) * 3).numpy()
    cases.append(learnable_per_channel_case("uint8_axis1", xm, 1, np.array([0.0123, 0.1, 0.37, 1e-2, 0.05], f32),
                                            np.array([3.3, 0.0, 127.5, 100.2, 255.7], f32), 0, 255, 0.05, gen))
    xm = (torch.randn(7, 3, generator=gen) * 2).numpy()
    cases.append(learnable_per_channel_case("int4_axis1_inner1", xm, 1, np.array([0.37, 0.1, 0.25], f32),
                                            np.array([0.4, -2.6, 7.9], f32), -8, 7, 1.0, gen))
    golden = dict(torch_version=torch.__version__, cases=cases, large=large_case())
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quant")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "fake_quantize_golden.json")
    with open(path, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print("wrote", path, os.path.getsize(path), "bytes;", len(cases), "cases")


if __name__ == "__main__":
    main()
