// fake_quantize: PyTorch golden vectors (tests/golden/make_quant_golden.py), every policy
// option against the QUANT_NUMERICS §1/§3 formulas written again here, LSQ (§5.2), the
// documented inf/NaN behaviour, empty and 0-d input, non-contiguous input, determinism
// across thread counts. cpu == ref for the raw kernels: fake_quantize_parity_test.cpp;
// gradcheck and bad input: fake_quantize_grad_test.cpp.
#include "quant/fake_quantize.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/config.h"
#include "tensor/ops.h"
#include "tests/fake_quantize_test_util.h"
#include "tests/golden_util.h"
#include "tests/grad_test_util.h"
#include "tests/test_util.h"

namespace lowbit::quant {
namespace {

using test::bit_equal;

// ---- golden vectors from torch 1.13 -------------------------------------------

const nlohmann::json& golden() {
  static const nlohmann::json g = test::read_golden_json("quant/fake_quantize_golden.json");
  return g;
}

Tensor golden_tensor(const nlohmann::json& c, const char* key, const Shape& shape) {
  return from_vector(test::floats_from_hex(c.at(key).get<std::string>()), shape);
}

Shape shape_of(const nlohmann::json& c) { return c.at("shape").get<Shape>(); }

// Runs every golden case of `op` once with the fast CPU kernels and once in reference mode.
template <typename Fn>
void for_each_golden(const std::string& op, Fn&& fn) {
  int n = 0;
  for (bool reference : {false, true}) {
    ReferenceModeGuard guard(reference);
    for (const nlohmann::json& c : golden().at("cases")) {
      if (c.at("op") != op) continue;
      SCOPED_TRACE(c.at("name").get<std::string>() + (reference ? " (ref)" : " (cpu)"));
      fn(c);
      ++n;
    }
  }
  EXPECT_GT(n, 0) << "no golden case for " << op;
}

TEST(FakeQuantizeGolden, PerTensorForwardAndStraightThroughGradient) {
  for_each_golden("per_tensor", [](const nlohmann::json& c) {
    const Shape shape = shape_of(c);
    const double s = test::floats_from_hex(c.at("scale").get<std::string>())[0];
    const test::Result r =
        test::run_fixed(golden_tensor(c, "x", shape), golden_tensor(c, "dy", shape), [&](const Tensor& x) {
          return fake_quantize_per_tensor_affine(x, s, c.at("zero_point")[0], c.at("qmin"), c.at("qmax"));
        });
    EXPECT_TRUE(bit_equal(golden_tensor(c, "y", shape), r.y, "y"));
    EXPECT_TRUE(bit_equal(golden_tensor(c, "dx", shape), r.dx, "dx"));
  });
}

TEST(FakeQuantizeGolden, PerChannelForwardAndStraightThroughGradient) {
  for_each_golden("per_channel", [](const nlohmann::json& c) {
    const Shape shape = shape_of(c);
    const std::vector<float> s = test::floats_from_hex(c.at("scale").get<std::string>());
    const Tensor scale = from_vector(s), zp = from_vector(c.at("zero_point").get<std::vector<int32_t>>());
    const test::Result r =
        test::run_fixed(golden_tensor(c, "x", shape), golden_tensor(c, "dy", shape), [&](const Tensor& x) {
          return fake_quantize_per_channel_affine(x, scale, zp, c.at("axis"), c.at("qmin"), c.at("qmax"));
        });
    EXPECT_TRUE(bit_equal(golden_tensor(c, "y", shape), r.y, "y"));
    EXPECT_TRUE(bit_equal(golden_tensor(c, "dx", shape), r.dx, "dx"));
  });
}

// torch sums the per-element terms of dscale / dzero_point in float32 (cascade sum), lowbit
// in double rounded once (raw::sum). Both are within n * 2^-24 * sum|terms| of the exact sum,
// and in practice within log2(n) of that; the bound below, 2^-20 * sum|terms| (16 float32
// ulps of the largest possible total), holds for both with a margin for n <= 131075.
::testing::AssertionResult sums_close(const Tensor& torch_sum, const Tensor& ours, const Tensor& abs_terms,
                                      const std::string& what) {
  const std::vector<double> t = torch_sum.to_vector<double>(), o = ours.to_vector<double>();
  const std::vector<double> a = abs_terms.to_vector<double>();
  if (t.size() != o.size() || t.size() != a.size()) return ::testing::AssertionFailure() << what << ": sizes differ";
  for (size_t i = 0; i < t.size(); ++i) {
    const double bound = std::ldexp(a[i], -20);
    if (!(std::fabs(t[i] - o[i]) <= bound))
      return ::testing::AssertionFailure() << what << "[" << i << "]: torch " << t[i] << " lowbit " << o[i]
                                           << " differ by " << std::fabs(t[i] - o[i]) << " > bound " << bound;
  }
  return ::testing::AssertionSuccess();
}

TEST(FakeQuantizeGolden, LearnablePerTensorForwardGradientsAndPerElementTerms) {
  for_each_golden("learnable_per_tensor", [](const nlohmann::json& c) {
    const Shape shape = shape_of(c);
    const Tensor x = golden_tensor(c, "x", shape), dy = golden_tensor(c, "dy", shape);
    const Tensor s = golden_tensor(c, "scale", {1}), zp = golden_tensor(c, "zero_point", {1});
    const int64_t qmin = c.at("qmin"), qmax = c.at("qmax");
    const double gf = c.at("grad_factor");
    auto op = [&](const Tensor& xi, const Tensor& si, const Tensor& zi) {
      return fake_quantize_learnable_per_tensor_affine(xi, si, zi, qmin, qmax, gf);
    };
    const test::Result r = test::run_learnable(x, dy, s, zp, op);
    EXPECT_TRUE(bit_equal(golden_tensor(c, "y", shape), r.y, "y"));
    EXPECT_TRUE(bit_equal(golden_tensor(c, "dx", shape), r.dx, "dx"));
    // Each element alone: the per-element terms, bit for bit.
    const int64_t n = shape[0];
    std::vector<float> ds(n), dz(n);
    for (int64_t i = 0; i < n; ++i) {
      const test::Result e =
          test::run_learnable(x.narrow(0, i, 1).contiguous(), dy.narrow(0, i, 1).contiguous(), s, zp, op);
      ds[i] = static_cast<float>(e.dscale.item());
      dz[i] = static_cast<float>(e.dzero_point.item());
    }
    EXPECT_TRUE(bit_equal(golden_tensor(c, "dscale_elem", shape), from_vector(ds), "dscale per element"));
    EXPECT_TRUE(bit_equal(golden_tensor(c, "dzero_point_elem", shape), from_vector(dz), "dzero_point per element"));
    // Totals: within the bound of sums_close.
    const Tensor abs_ds = raw::sum(raw::abs(golden_tensor(c, "dscale_elem", shape)).to(DType::f64), {0}, true);
    const Tensor abs_dz = raw::sum(raw::abs(golden_tensor(c, "dzero_point_elem", shape)).to(DType::f64), {0}, true);
    EXPECT_TRUE(sums_close(golden_tensor(c, "dscale", {1}), r.dscale, abs_ds, "dscale total"));
    EXPECT_TRUE(sums_close(golden_tensor(c, "dzero_point", {1}), r.dzero_point, abs_dz, "dzero_point total"));
  });
}

TEST(FakeQuantizeGolden, LearnablePerChannelForwardAndGradients) {
  for_each_golden("learnable_per_channel", [](const nlohmann::json& c) {
    const Shape shape = shape_of(c);
    const int64_t axis = c.at("axis"), channels = shape[axis], qmin = c.at("qmin"), qmax = c.at("qmax");
    const double gf = c.at("grad_factor");
    const Tensor x = golden_tensor(c, "x", shape), dy = golden_tensor(c, "dy", shape);
    const Tensor s = golden_tensor(c, "scale", {channels}), zp = golden_tensor(c, "zero_point", {channels});
    const test::Result r = test::run_learnable(x, dy, s, zp, [&](const Tensor& xi, const Tensor& si, const Tensor& zi) {
      return fake_quantize_learnable_per_channel_affine(xi, si, zi, axis, qmin, qmax, gf);
    });
    EXPECT_TRUE(bit_equal(golden_tensor(c, "y", shape), r.y, "y"));
    EXPECT_TRUE(bit_equal(golden_tensor(c, "dx", shape), r.dx, "dx"));
    if (shape_numel(shape) == channels) {  // one element per channel: each total is one term
      EXPECT_TRUE(bit_equal(golden_tensor(c, "dscale", {channels}), r.dscale, "dscale"));
      EXPECT_TRUE(bit_equal(golden_tensor(c, "dzero_point", {channels}), r.dzero_point, "dzero_point"));
    } else {  // several: the bound of sums_close, with sum|terms| from the kernel's own terms
      const test::Terms t = test::learnable_terms(x, dy, s, zp, axis, qmin, qmax, gf, LearnableOptions{});
      EXPECT_TRUE(sums_close(golden_tensor(c, "dscale", {channels}), r.dscale, t.abs_dscale, "dscale"));
      EXPECT_TRUE(
          sums_close(golden_tensor(c, "dzero_point", {channels}), r.dzero_point, t.abs_dzero_point, "dzero_point"));
    }
  });
}

TEST(FakeQuantizeGolden, LargeTensorHashesAndTotals) {
  const nlohmann::json& c = golden().at("large");
  const int64_t n = c.at("n"), qmin = c.at("qmin"), qmax = c.at("qmax"), step = c.at("subsample_step");
  const Tensor x = test::large_input(1, n), dy = test::large_input(2, n);
  const double s = test::floats_from_hex(c.at("scale").get<std::string>())[0];
  const Tensor s_t = golden_tensor(c, "scale", {1}), zp_t = golden_tensor(c, "learnable_zero_point", {1});
  const double gf = c.at("grad_factor");
  for (bool reference : {false, true}) {
    ReferenceModeGuard guard(reference);
    SCOPED_TRACE(reference ? "ref" : "cpu");
    const test::Result r = test::run_fixed(x, dy, [&](const Tensor& xi) {
      return fake_quantize_per_tensor_affine(xi, s, c.at("zero_point"), qmin, qmax);
    });
    const test::Result l =
        test::run_learnable(x, dy, s_t, zp_t, [&](const Tensor& xi, const Tensor& si, const Tensor& zi) {
          return fake_quantize_learnable_per_tensor_affine(xi, si, zi, qmin, qmax, gf);
        });
    const Shape sub = {(n + step - 1) / step};
    EXPECT_TRUE(bit_equal(golden_tensor(c, "y_sub", sub), r.y.slice(0, 0, n, step), "y (every 1024th)"));
    EXPECT_TRUE(bit_equal(golden_tensor(c, "dx_sub", sub), r.dx.slice(0, 0, n, step), "dx (every 1024th)"));
    EXPECT_TRUE(bit_equal(golden_tensor(c, "learnable_dx_sub", sub), l.dx.slice(0, 0, n, step), "learnable dx"));
    EXPECT_EQ(test::fnv1a64(r.y), c.at("y_fnv1a64").get<std::string>()) << "y: 0 mismatches expected";
    EXPECT_EQ(test::fnv1a64(r.dx), c.at("dx_fnv1a64").get<std::string>());
    EXPECT_EQ(test::fnv1a64(l.dx), c.at("learnable_dx_fnv1a64").get<std::string>());
    EXPECT_TRUE(bit_equal(r.y, l.y, "learnable y == y (zero point 2.7 rounds to 3)"));
    const test::Terms t = test::learnable_terms(x, dy, s_t, zp_t, 0, qmin, qmax, gf, LearnableOptions{}, true);
    EXPECT_TRUE(sums_close(golden_tensor(c, "dscale", {1}), l.dscale, t.abs_dscale, "dscale total"));
    EXPECT_TRUE(
        sums_close(golden_tensor(c, "dzero_point", {1}), l.dzero_point, t.abs_dzero_point, "dzero_point total"));
  }
}

// ---- every policy option against the formulas written out here ------------------

std::vector<NumericPolicy> all_policies() {
  std::vector<NumericPolicy> out;
  for (Rounding r : {Rounding::half_even, Rounding::half_away, Rounding::half_up})
    for (ScaleApply s : {ScaleApply::multiply, ScaleApply::divide})
      for (ZeroPointOrder z : {ZeroPointOrder::after_rounding, ZeroPointOrder::before_rounding})
        for (ClampOrder c : {ClampOrder::after_rounding, ClampOrder::before_rounding}) {
          NumericPolicy p;
          p.rounding = r;
          p.scale = s;
          p.zero_point = z;
          p.clamp = c;
          out.push_back(p);
        }
  return out;
}

TEST(FakeQuantizePolicy, EveryOptionMatchesTheFormula) {
  const std::vector<NumericPolicy> policies = all_policies();
  ASSERT_EQ(policies.size(), 24u);
  struct Q {
    float s;
    int64_t z, qmin, qmax;
  };
  for (const Q& q : {Q{0.0123f, 3, -128, 127}, Q{0.1f, 128, 0, 255}, Q{0.25f, -2, -8, 7}, Q{0.37f, 0, -7, 7}}) {
    const std::vector<float> xs = test::policy_inputs(q.s, q.z, q.qmin, q.qmax);
    const Tensor x = from_vector(xs), dy = test::random_tensor({x.numel()}, DType::f32, 3);
    const std::vector<float> g = dy.to_vector<float>();
    for (const NumericPolicy& p : policies)
      for (bool reference : {false, true}) {
        ReferenceModeGuard guard(reference);
        SCOPED_TRACE(to_string(p) + (reference ? " ref" : " cpu") + " s=" + std::to_string(q.s));
        const test::Result r = test::run_fixed(
            x, dy, [&](const Tensor& xi) { return fake_quantize_per_tensor_affine(xi, q.s, q.z, q.qmin, q.qmax, p); });
        std::vector<float> y(xs.size()), dx(xs.size());
        for (size_t i = 0; i < xs.size(); ++i) {
          const test::Expected e = test::expected_fake_quant(xs[i], q.s, float(q.z), float(q.qmin), float(q.qmax), p);
          y[i] = e.y;
          dx[i] = g[i] * (e.inside ? 1.0f : 0.0f);
        }
        ASSERT_TRUE(bit_equal(from_vector(y), r.y, "y"));
        ASSERT_TRUE(bit_equal(from_vector(dx), r.dx, "dx"));
      }
  }
}

TEST(FakeQuantizePolicy, TfliteIsHalfAwayDivideClampBefore) {
  // x / s = 2.5 exactly: half away gives 3 where PyTorch's half even gives 2.
  const Tensor x = from_vector(std::vector<float>{0.625f, -0.625f, 31.875f, 32.0f, 32.125f});
  const Tensor y_tfl = fake_quantize_per_tensor_affine(x, 0.25, 0, -128, 127, policy_preset("tflite"));
  const Tensor y_pt = fake_quantize_per_tensor_affine(x, 0.25, 0, -128, 127, policy_preset("pytorch"));
  EXPECT_TRUE(bit_equal(from_vector(std::vector<float>{0.75f, -0.75f, 31.75f, 31.75f, 31.75f}), y_tfl, "tflite"));
  EXPECT_TRUE(bit_equal(from_vector(std::vector<float>{0.5f, -0.5f, 31.75f, 31.75f, 31.75f}), y_pt, "pytorch"));
  // The STE mask (§3.2) tests what the clamp sees: x / s = 127.25 rounds to 127 = qmax
  // (inside) when the clamp follows the rounding, but is beyond 127 when it precedes it.
  const Tensor x2 = from_vector(std::vector<float>{31.8125f});
  Tensor a = x2.clone(), b = x2.clone();
  set_requires_grad(a);
  set_requires_grad(b);
  backward(fake_quantize_per_tensor_affine(a, 0.25, 0, -128, 127, policy_preset("tflite")), ones({1}));
  backward(fake_quantize_per_tensor_affine(b, 0.25, 0, -128, 127, policy_preset("pytorch")), ones({1}));
  EXPECT_EQ(grad(a).item(), 0.0) << "clamp before rounding: 127.25 is outside [qmin, qmax]";
  EXPECT_EQ(grad(b).item(), 1.0) << "clamp after rounding: 127.25 rounds to 127, inside";
}

TEST(FakeQuantizePolicy, PerChannelAppliesEachChannelsScaleAlongTheAxis) {
  const std::vector<float> s = {0.1f, 0.25f, 0.0123f};
  const std::vector<int32_t> z = {0, -3, 5};
  for (const NumericPolicy& p : {NumericPolicy::pytorch(), NumericPolicy::tflite()})
    for (int64_t axis : {0, 1, 2}) {
      Shape shape = {4, 5, 6};
      shape[axis] = 3;
      const Tensor x = test::random_tensor(shape, DType::f32, 40 + axis, -3, 3);
      const Tensor y = fake_quantize_per_channel_affine(x, from_vector(s), from_vector(z), axis, -8, 7, p);
      for (int64_t c = 0; c < 3; ++c) {
        const Tensor yc = fake_quantize_per_tensor_affine(x.select(axis, c), s[c], z[c], -8, 7, p);
        EXPECT_TRUE(bit_equal(yc, y.select(axis, c), "axis " + std::to_string(axis) + " channel " + std::to_string(c)));
      }
    }
}

// ---- LSQ (§5.2) ------------------------------------------------------------------

TEST(FakeQuantizeLsq, GradientsMatchSection52ForEveryPolicyAndMask) {
  // One element per channel ([C, 1], axis 0), so every total is a single term.
  const float s = 0.25f;
  const float zp = 2.0f;
  const int64_t qmin = -8, qmax = 7;
  const std::vector<float> xs = test::policy_inputs(s, 2, qmin, qmax);
  const int64_t n = static_cast<int64_t>(xs.size());
  const Tensor x = from_vector(xs, {n, 1}), dy = test::random_tensor({n, 1}, DType::f32, 9);
  const Tensor sc = full({n}, s), z = full({n}, zp);
  const std::vector<float> g = dy.to_vector<float>();
  const double gf = 0.3;
  for (const NumericPolicy& p : all_policies())
    for (LsqMask mask : {LsqMask::pytorch, LsqMask::paper})
      for (bool reference : {false, true}) {
        ReferenceModeGuard guard(reference);
        SCOPED_TRACE(to_string(p) + (mask == LsqMask::paper ? " mask=paper" : " mask=pytorch") +
                     (reference ? " ref" : " cpu"));
        const LearnableOptions o{LearnableFormula::lsq, mask, p};
        const test::Result r =
            test::run_learnable(x, dy, sc, z, [&](const Tensor& xi, const Tensor& si, const Tensor& zi) {
              return fake_quantize_learnable_per_channel_affine(xi, si, zi, 0, qmin, qmax, gf, o);
            });
        std::vector<float> y(n), dx(n), ds(n), dz(n);
        for (int64_t i = 0; i < n; ++i) {
          const test::Expected e = test::expected_lsq(xs[i], g[i], s, zp, float(qmin), float(qmax), p, mask, float(gf));
          y[i] = e.y;
          dx[i] = e.dx;
          ds[i] = e.dscale + 0.0f;  // a one-term sum turns -0 into +0
          dz[i] = e.dzero_point + 0.0f;
        }
        ASSERT_TRUE(bit_equal(from_vector(y, {n, 1}), r.y, "y"));
        ASSERT_TRUE(bit_equal(from_vector(dx, {n, 1}), r.dx, "dx"));
        ASSERT_TRUE(bit_equal(from_vector(ds), r.dscale, "dscale"));
        ASSERT_TRUE(bit_equal(from_vector(dz), r.dzero_point, "dzero_point"));
      }
}

TEST(FakeQuantizeLsq, PaperMaskCountsTheBoundaryHalfStepAsOutside) {
  // v = x / s = qmax - z + 0.25 rounds into the range (mask pytorch: inside, ds = R(v) - v
  // = -0.25) but lies beyond qmax - z before rounding (mask paper: outside, ds = qmax - z).
  const Tensor x = from_vector(std::vector<float>{(7 - 2 + 0.25f) * 0.5f});
  for (LsqMask mask : {LsqMask::pytorch, LsqMask::paper}) {
    const test::Result r = test::run_learnable(
        x, ones({1}), full({1}, 0.5), full({1}, 2.0), [&](const Tensor& a, const Tensor& b, const Tensor& c) {
          return fake_quantize_learnable_per_tensor_affine(a, b, c, -8, 7, 1.0,
                                                           {LearnableFormula::lsq, mask, NumericPolicy::pytorch()});
        });
    EXPECT_EQ(r.y.item(), 2.5);  // (7 - 2) * 0.5 under both
    EXPECT_EQ(r.dx.item(), mask == LsqMask::paper ? 0.0 : 1.0);
    EXPECT_EQ(r.dscale.item(), mask == LsqMask::paper ? 5.0 : -0.25);
    EXPECT_EQ(r.dzero_point.item(), mask == LsqMask::paper ? -0.5 : 0.0);
  }
}

// ---- non-finite input, non-contiguous input, determinism ----------------------------

TEST(FakeQuantize, NonFiniteInputSaturatesAndNaNPropagates) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = from_vector(std::vector<float>{inf, -inf, nan, 1e30f, -1e30f, 3e18f});
  for (bool reference : {false, true}) {
    ReferenceModeGuard guard(reference);
    const test::Result r = test::run_fixed(
        x, full({6}, -2.0), [](const Tensor& xi) { return fake_quantize_per_tensor_affine(xi, 0.1, 3, -128, 127); });
    const std::vector<float> y = r.y.to_vector<float>(), dx = r.dx.to_vector<float>();
    const float hi = (127.0f - 3.0f) * 0.1f, lo = (-128.0f - 3.0f) * 0.1f;
    EXPECT_EQ(y[0], hi) << "+inf saturates at qmax (torch 1.13 on x86: qmin, from its int64 cast)";
    EXPECT_EQ(y[1], lo);
    EXPECT_TRUE(std::isnan(y[2])) << "NaN stays NaN (torch: qmin)";
    EXPECT_EQ(y[3], hi);
    EXPECT_EQ(y[4], lo);
    EXPECT_EQ(y[5], hi);
    for (float d : dx) EXPECT_EQ(std::bit_cast<uint32_t>(d), std::bit_cast<uint32_t>(-0.0f)) << "dy * 0 for dy = -2";
  }
}

TEST(FakeQuantize, EmptyAndZeroDimInputs) {
  const test::Result e = test::run_fixed(zeros({0, 3}), zeros({0, 3}), [](const Tensor& x) {
    return fake_quantize_per_channel_affine(x, full({3}, 0.1), zeros({3}, DType::i32), 1, -8, 7);
  });
  EXPECT_EQ(e.y.sizes(), (Shape{0, 3}));
  EXPECT_EQ(e.dx.sizes(), (Shape{0, 3}));
  const test::Result l = test::run_learnable(zeros({0, 3}), zeros({0, 3}), full({3}, 0.1), zeros({3}),
                                             [](const Tensor& x, const Tensor& s, const Tensor& z) {
                                               return fake_quantize_learnable_per_channel_affine(x, s, z, 1, -8, 7);
                                             });
  EXPECT_TRUE(bit_equal(zeros({3}), l.dscale, "dscale of no elements"));
  // A 0-d x is one element: 0.26 / 0.1 = 2.6 rounds to 3.
  const test::Result r = test::run_fixed(scalar_tensor(0.26), scalar_tensor(-1.0), [](const Tensor& x) {
    return fake_quantize_per_tensor_affine(x, 0.1, 0, -8, 7);
  });
  EXPECT_EQ(r.y.dim(), 0);
  EXPECT_EQ(r.y.item(), static_cast<double>(3.0f * 0.1f));
  EXPECT_EQ(r.dx.item(), -1.0);
}

// A strided x on the fast path gives the bits of its contiguous copy on the reference.
TEST(FakeQuantize, NonContiguousInputEqualsItsContiguousCopyOnTheReference) {
  const Tensor xs = test::random_strided({6, 5, 7}, DType::f32, 21, -2, 2);
  ASSERT_FALSE(xs.is_contiguous());
  const Tensor dy = test::random_tensor({6, 5, 7}, DType::f32, 22);
  auto both = [&](auto&& run) {
    const test::Result a = run(xs);
    ReferenceModeGuard guard(true);
    return std::pair<test::Result, test::Result>(a, run(xs.contiguous()));
  };
  auto per_tensor = [](const Tensor& x) { return fake_quantize_per_tensor_affine(x, 0.05, 1, -8, 7); };
  const auto [a, b] = both([&](const Tensor& x) { return test::run_fixed(x, dy, per_tensor); });
  EXPECT_TRUE(bit_equal(b.y, a.y, "per tensor y"));
  EXPECT_TRUE(bit_equal(b.dx, a.dx, "per tensor dx"));
  for (int64_t axis : {0, 1, 2}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    const int64_t c = xs.size(axis);
    const Tensor s = test::random_tensor({c}, DType::f32, 30 + axis, 0.05, 0.3);
    const Tensor z = from_vector(std::vector<int32_t>(c, -1));
    auto per_channel = [&](const Tensor& x) { return fake_quantize_per_channel_affine(x, s, z, axis, -8, 7); };
    const auto [pa, pb] = both([&](const Tensor& x) { return test::run_fixed(x, dy, per_channel); });
    EXPECT_TRUE(bit_equal(pb.y, pa.y, "per channel y"));
    EXPECT_TRUE(bit_equal(pb.dx, pa.dx, "per channel dx"));
    const Tensor zf = full({c}, 0.4);
    auto learnable = [&](const Tensor& x, const Tensor& si, const Tensor& zi) {
      return fake_quantize_learnable_per_channel_affine(x, si, zi, axis, -8, 7, 0.5);
    };
    const auto [la, lb] = both([&](const Tensor& x) { return test::run_learnable(x, dy, s, zf, learnable); });
    EXPECT_TRUE(bit_equal(lb.y, la.y, "learnable y"));
    EXPECT_TRUE(bit_equal(lb.dx, la.dx, "learnable dx"));
    // Totals: the same terms summed by raw::sum, whose CPU and reference orders differ.
    EXPECT_TRUE(test::all_close(lb.dscale, la.dscale, 1e-6, 1e-7, "learnable dscale"));
    EXPECT_TRUE(test::all_close(lb.dzero_point, la.dzero_point, 1e-6, 1e-7, "learnable dzero_point"));
  }
}

TEST(FakeQuantize, SameBitsForOneAndTwoThreads) {
  const Shape shape = {3, 7, 14287};  // 300027 elements: parallel chunks and per-row tails
  const Tensor x = test::large_input(1, shape_numel(shape)).view(shape),
               dy = test::large_input(2, shape_numel(shape)).view(shape);
  const Tensor s = test::random_tensor({7}, DType::f32, 5, 0.01, 0.2),
               zp = test::random_tensor({7}, DType::f32, 6, -3, 3);
  std::vector<test::Result> runs;
  for (int threads : {1, 2}) {
    test::ThreadGuard guard(threads);
    runs.push_back(test::run_learnable(x, dy, s, zp, [&](const Tensor& a, const Tensor& b, const Tensor& c) {
      return fake_quantize_learnable_per_channel_affine(a, b, c, 1, -128, 127, 0.01);
    }));
  }
  EXPECT_TRUE(bit_equal(runs[0].y, runs[1].y, "y"));
  EXPECT_TRUE(bit_equal(runs[0].dx, runs[1].dx, "dx"));
  EXPECT_TRUE(bit_equal(runs[0].dscale, runs[1].dscale, "dscale"));
  EXPECT_TRUE(bit_equal(runs[0].dzero_point, runs[1].dzero_point, "dzero_point"));
}

}  // namespace
}  // namespace lowbit::quant
