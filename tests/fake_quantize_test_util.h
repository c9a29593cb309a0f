// Helpers of the fake_quantize suites: golden-file decoding, running an op forward and
// backward, the QUANT_NUMERICS §1/§3/§5.2 formulas written out independently of quant/
// (plain float arithmetic and the std:: rounding functions named in §1), inputs with ties,
// and the scale of summed gradients (from the kernel's own per-element terms, for a bound).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "quant/fake_quantize.h"
#include "tensor/ops.h"

namespace lowbit::test {

// "3f800000bf800000" -> {1.0f, -1.0f}: float32 bit patterns, 8 hex digits each.
inline std::vector<float> floats_from_hex(const std::string& hex) {
  std::vector<float> out(hex.size() / 8);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t b = static_cast<uint32_t>(std::stoul(hex.substr(8 * i, 8), nullptr, 16));
    std::memcpy(&out[i], &b, 4);
  }
  return out;
}

// FNV-1a 64 of the float32 bytes (little endian), as make_quant_golden.py's fnv1a64().
inline std::string fnv1a64(const Tensor& t) {
  const std::vector<float> v = t.to_vector<float>();
  uint64_t h = 0xCBF29CE484222325ull;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  for (size_t i = 0; i < v.size() * 4; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// make_quant_golden.py's large_value(stream, i) for i < n: m * 2^-20, m a 24-bit signed integer.
inline Tensor large_input(uint64_t stream, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t h = splitmix64((stream << 40) | static_cast<uint64_t>(i));
    const int64_t m = static_cast<int64_t>(h >> 40) - (int64_t{1} << 23);
    v[static_cast<size_t>(i)] = std::ldexp(static_cast<float>(m), -20);
  }
  return from_vector(v);
}

// An op run forward and backward with gradient dy: y, dx and (learnable) dscale, dzero_point.
struct Result {
  Tensor y, dx, dscale, dzero_point;
};

// Leaves are new handles on the caller's data (detach), so strides are kept and the
// caller's tensors never collect gradients.
inline Result run_fixed(const Tensor& x, const Tensor& dy, const std::function<Tensor(const Tensor&)>& op) {
  Tensor leaf = detach(x);
  set_requires_grad(leaf);
  const Tensor y = op(leaf);
  backward(y, dy);
  return {detach(y), grad(leaf), Tensor(), Tensor()};
}

inline Result run_learnable(const Tensor& x, const Tensor& dy, const Tensor& scale, const Tensor& zero_point,
                            const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>& op) {
  Tensor lx = detach(x), ls = detach(scale), lz = detach(zero_point);
  set_requires_grad(lx);
  set_requires_grad(ls);
  set_requires_grad(lz);
  const Tensor y = op(lx, ls, lz);
  backward(y, dy);
  return {detach(y), grad(lx), grad(ls), grad(lz)};
}

// Sum over everything but the channel axis of |per-element term|, f64: the scale of the
// totals, for the bound on the difference of two summation orders. The terms come from
// the CPU kernel with the zero point rounded as fake_quantize.h states for formula pytorch.
struct Terms {
  Tensor abs_dscale, abs_dzero_point;
};

inline Terms learnable_terms(const Tensor& x, const Tensor& dy, const Tensor& scale, const Tensor& zero_point,
                             int64_t axis, int64_t qmin, int64_t qmax, double grad_factor,
                             const quant::LearnableOptions& options, bool per_tensor = false) {
  quant::FakeQuantizeLearnableParams lp;
  lp.fq.dtype = DType::f32;
  lp.fq.qmin = qmin;
  lp.fq.qmax = qmax;
  lp.fq.policy = options.policy;
  lp.formula = options.formula;
  lp.grad_factor = grad_factor;
  if (per_tensor) {
    lp.fq.inner = x.numel();
  } else {
    for (int64_t d = 0; d < axis; ++d) lp.fq.outer *= x.size(d);
    lp.fq.channels = x.size(axis);
    lp.fq.inner = x.numel() / (lp.fq.outer * lp.fq.channels);
  }
  std::vector<float> z = zero_point.to_vector<float>();
  for (float& v : z)
    v = per_tensor ? std::trunc(std::clamp(v + 0.5f, float(qmin), float(qmax)))
                   : std::clamp(std::nearbyint(v), float(qmin), float(qmax));
  const Tensor xc = x.contiguous(), gyc = dy.contiguous(), sc = scale.contiguous(), zc = from_vector(z);
  Tensor dx = empty(xc.sizes()), ds = empty(xc.sizes()), dz = empty(xc.sizes());
  quant::fake_quantize_learnable_backward(Device::cpu(), lp, dx.data_ptr(), ds.data_ptr(), dz.data_ptr(),
                                          gyc.data_ptr(), xc.data_ptr(), sc.data_ptr(), zc.data_ptr());
  const Shape v = {lp.fq.outer, lp.fq.channels, lp.fq.inner};
  return {raw::sum(raw::abs(ds).to(DType::f64).view(v), {0, 2}), raw::sum(raw::abs(dz).to(DType::f64).view(v), {0, 2})};
}

// ---- QUANT_NUMERICS §1, §3.1, §3.2 and §5.2 for one float32 element ----

inline float round_by(float a, quant::Rounding r) {
  switch (r) {
    case quant::Rounding::half_even:
      return std::nearbyint(a);
    case quant::Rounding::half_away:
      return std::round(a);
    case quant::Rounding::half_up:
      return std::floor(a + 0.5f);
  }
  return a;
}

struct Expected {
  float y = 0;
  bool inside = false, below = false, above = false;
  float code_minus_v = 0;                     // (code - z) - v: LSQ's scale term inside the range
  float dx = 0, dscale = 0, dzero_point = 0;  // expected_lsq only
};

// Finite x only (std::min / std::max do not propagate NaN).
inline Expected expected_fake_quant(float x, float s, float z, float qmin, float qmax, const quant::NumericPolicy& p,
                                    bool paper_mask = false) {
  using namespace quant;
  const float v = p.scale == ScaleApply::divide ? x / s : x * (1.0f / s);
  const bool z_before = p.zero_point == ZeroPointOrder::before_rounding;
  const float u = z_before ? v + z : v;                                          // what is rounded
  const float lo = z_before ? qmin : qmin - z, hi = z_before ? qmax : qmax - z;  // u's range
  float code, tested, tlo, thi;
  if (p.clamp == ClampOrder::after_rounding) {
    const float q = z_before ? round_by(u, p.rounding) : round_by(u, p.rounding) + z;
    code = std::min(std::max(q, qmin), qmax);
    tested = paper_mask ? u : q;
    tlo = paper_mask ? lo : qmin;
    thi = paper_mask ? hi : qmax;
  } else {
    const float r = round_by(std::min(std::max(u, lo), hi), p.rounding);
    code = z_before ? r : r + z;
    tested = u;
    tlo = lo;
    thi = hi;
  }
  Expected e;
  e.y = (code - z) * s;
  e.below = tested < tlo;
  e.above = tested > thi;
  e.inside = !e.below && !e.above;
  e.code_minus_v = (code - z) - v;
  return e;
}

// LSQ (§5.2): dx = dy [inside]; ds = dy (code - z - v) g inside, dy (qmin|qmax - z) g
// outside; dz = -dy s g outside, 0 inside.
inline Expected expected_lsq(float x, float dy, float s, float z, float qmin, float qmax, const quant::NumericPolicy& p,
                             quant::LsqMask mask, float g) {
  Expected e = expected_fake_quant(x, s, z, qmin, qmax, p, mask == quant::LsqMask::paper);
  e.dx = dy * (e.inside ? 1.0f : 0.0f);
  if (e.inside) {
    e.dscale = dy * e.code_minus_v * g;
    e.dzero_point = 0.0f;
  } else {
    e.dscale = dy * ((e.below ? qmin : qmax) - z) * g;
    e.dzero_point = dy * -1.0f * s * g;
  }
  return e;
}

// Float32 x near k + 1/2 levels of scale s for k across [qmin - z - 2, qmax - z + 2]:
// exact ties of x * (1/s) and of x / s (searched among nearby floats), their float
// neighbours, then random values over the range, far outside values, +0, -0, tiny ones.
inline std::vector<float> policy_inputs(float s, int64_t z, int64_t qmin, int64_t qmax) {
  std::vector<float> xs;
  const float inv = 1.0f / s;
  for (int64_t k = qmin - z - 2; k <= qmax - z + 2; ++k) {
    const float t = static_cast<float>(k) + 0.5f;
    float lo = t * s, hi = lo;
    bool mul_found = false, div_found = false;
    for (int step = 0; step < 64 && !(mul_found && div_found); ++step) {
      for (float c : {lo, hi}) {
        if (!mul_found && c * inv == t) {
          xs.insert(xs.end(), {c, std::nextafter(c, -1e30f), std::nextafter(c, 1e30f)});
          mul_found = true;
        }
        if (!div_found && c / s == t) {
          xs.insert(xs.end(), {c, std::nextafter(c, -1e30f), std::nextafter(c, 1e30f)});
          div_found = true;
        }
      }
      lo = std::nextafter(lo, -1e30f);
      hi = std::nextafter(hi, 1e30f);
    }
  }
  std::mt19937 rng(static_cast<uint32_t>(qmax - qmin + z));
  const float span = static_cast<float>(qmax - qmin) * s;
  std::uniform_real_distribution<float> d(-0.8f * span, 0.8f * span);
  for (int i = 0; i < 200; ++i) xs.push_back(d(rng));
  for (float f : {1e3f, 1e6f, 1e12f}) xs.insert(xs.end(), {f * s, -f * s});
  xs.insert(xs.end(), {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-41f, -1e-41f});
  return xs;
}

}  // namespace lowbit::test
