// fake_quantize autograd functions: f64 gradcheck and bad input.
//
// Gradcheck of a straight-through estimator: the forward is piecewise constant, so its
// finite differences are 0 (or a jump), never the STE gradient. What the STE promises is
// the derivative of a surrogate: x itself inside the range and the clamped constant
// outside (§3.2); for LSQ (§5.2) s * (v + C) = x + s * C inside with C = R(v) - v frozen,
// and (qmin|qmax - z) * s outside, with g scaling the s and z derivatives. The check below
// runs gradcheck on
//   f(inputs) = detach(surrogate(inputs)) + (op(inputs) - detach(op(inputs)))
// whose value is the surrogate's (so the finite differences are the surrogate's
// derivatives, written here from the text) and whose backward is exactly the op's. The
// points stay away from the rounding discontinuities: every x / s is at least 0.1 from a
// half-integer, so the +-1e-6 steps of gradcheck never change a code or a mask.
#include <cmath>
#include <vector>

#include "autograd/autograd.h"
#include "quant/fake_quantize.h"
#include "tensor/ops.h"
#include "tests/grad_test_util.h"
#include "tests/test_util.h"

namespace lowbit::quant {
namespace {

using test::grad_ok;

// n f64 values whose x / s is random over [qmin - z - 6, qmax - z + 6] (so some are
// outside the range) and at least 0.1 from any k + 1/2.
std::vector<double> safe_inputs(int64_t n, double s, double z, int64_t qmin, int64_t qmax, uint64_t seed) {
  const std::vector<double> u = test::random_tensor({n}, DType::f64, seed, 0, 1).to_vector<double>();
  std::vector<double> x(n);
  for (int64_t i = 0; i < n; ++i) {
    const double lo = qmin - z - 6, hi = qmax - z + 6;
    const double k = std::floor(lo + u[i] * (hi - lo));
    const double frac = 0.1 + 0.3 * std::fmod(u[i] * 97.0, 1.0);  // in [0.1, 0.4]
    x[i] = (k + (i % 2 ? frac : 1.0 - frac)) * s;                 // k + [0.1, 0.4] or k + [0.6, 0.9]
  }
  return x;
}

Tensor with_surrogate(const Tensor& value, const Tensor& op_result) {
  return detach(value) + (op_result - detach(op_result));
}

// Masks of the base point: inside / below / above the range, as f64 0/1 tensors. The clamp
// tests the rounded code q = R(v) + z, or with clamp-before policies (test_unrounded) v
// itself against [qmin - z, qmax - z] (§3.2).
struct Masks {
  Tensor inside, below, above, round_minus_v;  // round_minus_v: R(v) - v (the LSQ constant C)
};

Masks masks_of(const std::vector<double>& x, const std::vector<double>& s, const std::vector<double>& z,
               const Shape& shape, int64_t axis, int64_t qmin, int64_t qmax, bool test_unrounded = false) {
  const int64_t n = static_cast<int64_t>(x.size());
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  std::vector<double> in(n), be(n), ab(n), c(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ch = s.size() == 1 ? 0 : (i / inner) % static_cast<int64_t>(s.size());
    const double v = x[i] / s[ch], q = std::nearbyint(v) + z[ch];
    be[i] = test_unrounded ? v < qmin - z[ch] : q < qmin;
    ab[i] = test_unrounded ? v > qmax - z[ch] : q > qmax;
    in[i] = !be[i] && !ab[i];
    c[i] = std::nearbyint(v) - v;
  }
  return {from_vector(in, shape), from_vector(be, shape), from_vector(ab, shape), from_vector(c, shape)};
}

TEST(FakeQuantizeGradcheck, FixedPerTensorAndPerChannel) {
  const int64_t qmin = -8, qmax = 7;
  const Shape shape = {3, 4, 5};
  const std::vector<double> x = safe_inputs(60, 0.25, 1, qmin, qmax, 1);
  for (const NumericPolicy& p : {NumericPolicy::pytorch(), NumericPolicy::tflite()}) {
    const Masks m = masks_of(x, {0.25}, {1}, shape, 0, qmin, qmax, p.clamp == ClampOrder::before_rounding);
    const Tensor clamped = raw::add(raw::mul(m.below, (qmin - 1) * 0.25), raw::mul(m.above, (qmax - 1) * 0.25));
    auto f = [&](const std::vector<Tensor>& in) {
      const Tensor surrogate = in[0] * m.inside + clamped;  // d/dx = [inside]
      return with_surrogate(surrogate, fake_quantize_per_tensor_affine(in[0], 0.25, 1, qmin, qmax, p));
    };
    EXPECT_TRUE(grad_ok(f, {from_vector(x, shape)}, "per tensor " + to_string(p)));
  }
  // Per channel along axis 1 (4 channels), scales exact in float32.
  const std::vector<double> s = {0.25, 0.5, 0.125, 1.0}, z = {0, -2, 3, 1};
  std::vector<double> xc(60);
  for (int64_t i = 0; i < 60; ++i) {
    const int64_t c = (i / 5) % 4;
    xc[i] = safe_inputs(60, s[c], z[c], qmin, qmax, 2)[i];
  }
  const Masks mc = masks_of(xc, s, z, shape, 1, qmin, qmax);
  const Tensor s_t = from_vector(s), z_t = from_vector(std::vector<int32_t>{0, -2, 3, 1});
  auto g = [&](const std::vector<Tensor>& in) {
    const Tensor y = fake_quantize_per_channel_affine(in[0], s_t, z_t, 1, qmin, qmax);
    return with_surrogate(in[0] * mc.inside + raw::mul(detach(y), raw::sub(ones(shape, DType::f64), mc.inside)), y);
  };
  EXPECT_TRUE(
      grad_ok(g, {from_vector(xc, shape).transpose(0, 2).contiguous().transpose(0, 2)}, "per channel, strided x"));
}

// The LSQ surrogate (value as a function of x, s, zp near the base point s0, zp0):
//   inside   x + s_g * C                       d/dx = 1, d/ds = g C, d/dzp = 0
//   outside  (b - z) * s_g - (zp_g - zp0) * s0  d/dx = 0, d/ds = g (b - z), d/dzp = -g s0
// with s_g = g s + (1 - g) s0, zp_g = g zp + (1 - g) zp0, b = qmin or qmax, z the rounded zp.
Tensor lsq_surrogate(const std::vector<Tensor>& in, const Masks& m, const Tensor& s0, const Tensor& zp0,
                     const Tensor& z_rounded, const Shape& bshape, int64_t qmin, int64_t qmax, double g) {
  const Tensor s = reshape(in[1], bshape), zp = reshape(in[2], bshape);
  const Tensor s_g = s * g + s0 * (1 - g), zp_g = zp * g + zp0 * (1 - g);
  const Tensor inside = (in[0] + s_g * m.round_minus_v) * m.inside;
  const Tensor bound = m.below * (double(qmin) - z_rounded) + m.above * (double(qmax) - z_rounded);
  const Tensor outside = (bound * s_g - (zp_g - zp0) * s0) * (m.below + m.above);
  return inside + outside;
}

TEST(FakeQuantizeGradcheck, LearnableBothFormulasPerTensorAndPerChannel) {
  const int64_t qmin = -8, qmax = 7;
  const double g = 0.7;
  for (LearnableFormula formula : {LearnableFormula::pytorch, LearnableFormula::lsq}) {
    const LearnableOptions o{formula, LsqMask::pytorch, NumericPolicy::pytorch()};
    const char* name = formula == LearnableFormula::pytorch ? "pytorch" : "lsq";
    {  // per tensor: s = 0.3, zp = 1.2 (forward z 1; torch's backward z trunc(1.7) = 1 too)
      const Shape shape = {4, 6};
      const std::vector<double> x = safe_inputs(24, 0.3, 1, qmin, qmax, 3);
      const Masks m = masks_of(x, {0.3}, {1}, shape, 0, qmin, qmax);
      const Tensor s0 = full({1, 1}, 0.3, DType::f64), zp0 = full({1, 1}, 1.2, DType::f64),
                   zr = full({1, 1}, 1.0, DType::f64);
      auto f = [&](const std::vector<Tensor>& in) {
        const Tensor y = fake_quantize_learnable_per_tensor_affine(in[0], in[1], in[2], qmin, qmax, g, o);
        return with_surrogate(lsq_surrogate(in, m, s0, zp0, zr, {1, 1}, qmin, qmax, g), y);
      };
      EXPECT_TRUE(grad_ok(f, {from_vector(x, shape), full({1}, 0.3, DType::f64), full({1}, 1.2, DType::f64)},
                          std::string(name) + " per tensor"));
    }
    {  // per channel along axis 1 of [2, 3, 4]
      const Shape shape = {2, 3, 4};
      const std::vector<double> s = {0.3, 0.11, 0.5}, zp = {1.2, -2.3, 0.4}, zr = {1, -2, 0};
      std::vector<double> x(24);
      for (int64_t i = 0; i < 24; ++i) x[i] = safe_inputs(24, s[(i / 4) % 3], zr[(i / 4) % 3], qmin, qmax, 4)[i];
      const Masks m = masks_of(x, s, zr, shape, 1, qmin, qmax);
      const Shape b = {1, 3, 1};
      const Tensor s0 = from_vector(s, b), zp0 = from_vector(zp, b), z_r = from_vector(zr, b);
      auto f = [&](const std::vector<Tensor>& in) {
        const Tensor y = fake_quantize_learnable_per_channel_affine(in[0], in[1], in[2], 1, qmin, qmax, g, o);
        return with_surrogate(lsq_surrogate(in, m, s0, zp0, z_r, b, qmin, qmax, g), y);
      };
      EXPECT_TRUE(
          grad_ok(f, {from_vector(x, shape), from_vector(s), from_vector(zp)}, std::string(name) + " per channel"));
    }
  }
}

// ---- bad input ----------------------------------------------------------------------

TEST(FakeQuantizeErrors, FixedOps) {
  const Tensor x = zeros({2, 3, 4});
  const char* pt = "fake_quantize_per_tensor_affine";
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(zeros({2}, DType::i32), 0.1, 0, -128, 127), pt,
                      "x must be f32 or f64", "[2] i32 cpu");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(Tensor(), 0.1, 0, -128, 127), pt, "undefined");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, 0.0, 0, -128, 127), pt,
                      "scale must be positive and finite, got 0");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, -0.5, 0, -128, 127), pt, "got -0.5");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, std::nan(""), 0, -128, 127), pt, "got nan");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, INFINITY, 0, -128, 127), pt, "got inf");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, 1e-50, 0, -128, 127), pt, "not a positive finite float32");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, 0.1, 0, 5, 5), pt,
                      "qmin must be less than qmax, got qmin 5 qmax 5");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, 0.1, 0, 7, -8), pt, "qmin 7 qmax -8");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, 0.1, 0, 0, int64_t{1} << 24), pt, "[-2^23, 2^23]");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_tensor_affine(x, 0.1, 300, -128, 127), pt,
                      "zero_point 300 is outside [qmin, qmax] = [-128, 127]");

  const char* pc = "fake_quantize_per_channel_affine";
  const Tensor s3 = full({3}, 0.1), z3 = zeros({3}, DType::i32);
  EXPECT_LOWBIT_ERROR(fake_quantize_per_channel_affine(x, s3, z3, 3, -128, 127), pc, "axis 3 is out of range",
                      "[2,3,4] f32 cpu", "-3..2");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_channel_affine(x, s3, z3, -4, -128, 127), pc, "axis -4");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_channel_affine(x, full({2}, 0.1), zeros({2}, DType::i32), 1, -128, 127), pc,
                      "scale must be 1-D with one value per channel", "has 3 channels along axis 1",
                      "scale is [2] f32 cpu");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_channel_affine(x, s3, zeros({4}, DType::i32), 1, -128, 127), pc,
                      "zero_point must be 1-D", "zero_point is [4] i32 cpu");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_channel_affine(x, full({1, 3}, 0.1), z3, 1, -128, 127), pc, "scale is [1,3]");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_channel_affine(x, s3, zeros({3}), 1, -128, 127), pc,
                      "zero_point must be i32 or i64", "[3] f32 cpu");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_channel_affine(x, zeros({3}, DType::i32), z3, 1, -128, 127), pc,
                      "scale must be f32 or f64");
  EXPECT_LOWBIT_ERROR(
      fake_quantize_per_channel_affine(x, from_vector(std::vector<float>{0.1f, -1.0f, 0.1f}), z3, 1, -128, 127), pc,
      "got -1 at channel 1");
  EXPECT_LOWBIT_ERROR(
      fake_quantize_per_channel_affine(x, s3, from_vector(std::vector<int32_t>{0, 0, 200}), 1, -128, 127), pc,
      "zero_point 200 at channel 2 is outside [qmin, qmax] = [-128, 127]");
  EXPECT_LOWBIT_ERROR(
      fake_quantize_per_channel_affine(scalar_tensor(1.0), full({1}, 0.1), zeros({1}, DType::i32), 0, -8, 7), pc,
      "at least one dim");
  EXPECT_LOWBIT_ERROR(fake_quantize_per_channel_affine(zeros({3}, DType::u8), s3, z3, 0, -8, 7), pc,
                      "x must be f32 or f64");
}

TEST(FakeQuantizeErrors, LearnableOps) {
  const Tensor x = zeros({2, 3});
  const char* lt = "fake_quantize_learnable_per_tensor_affine";
  const Tensor s = full({1}, 0.1), z = zeros({1});
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(x, full({1}, 0.1, DType::f64), z, -8, 7), lt,
                      "scale must have x's dtype", "scale [1] f64 cpu", "x [2,3] f32 cpu");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(x, s, zeros({1}, DType::i32), -8, 7), lt,
                      "zero_point must have x's dtype");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(x, full({2}, 0.1), z, -8, 7), lt,
                      "scale must have one value (shape [] or [1])", "got [2] f32 cpu");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(x, full({1}, -0.1), z, -8, 7), lt,
                      "scale must be positive and finite, got -0.1");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(x, s, full({1}, NAN), -8, 7), lt,
                      "zero_point must be finite, got nan");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(x, s, z, 7, -8), lt, "qmin must be less than qmax");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(x, s, z, -8, 7, NAN), lt, "grad_factor must be finite");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(
                          x, s, z, -8, 7, 1.0, {LearnableFormula::pytorch, LsqMask::pytorch, NumericPolicy::tflite()}),
                      lt, "formula pytorch reproduces torch's kernel", "rounding=half_away", "use formula lsq");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_tensor_affine(zeros({2}, DType::i64), s, z, -8, 7), lt,
                      "x must be f32 or f64");

  const char* lc = "fake_quantize_learnable_per_channel_affine";
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_channel_affine(x, full({2}, 0.1), zeros({3}), 1, -8, 7), lc,
                      "scale must have 3 values (1-D, one per channel)", "got [2] f32 cpu");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_channel_affine(x, full({3}, 0.1), zeros({3}), 2, -8, 7), lc,
                      "axis 2 is out of range for x [2,3] f32 cpu");
  EXPECT_LOWBIT_ERROR(fake_quantize_learnable_per_channel_affine(x, from_vector(std::vector<float>{0.1f, 0.0f, 0.1f}),
                                                                 zeros({3}), 1, -8, 7),
                      lc, "got 0 at channel 1");
}

}  // namespace
}  // namespace lowbit::quant
