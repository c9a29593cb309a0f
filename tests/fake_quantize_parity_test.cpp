// fake_quantize raw kernels: cpu == ref bit for bit (fake_quantize_cpu.cpp's claim), for
// forward, STE backward and both learnable formulas, every policy, f32 and f64, on every
// SIMD target of this CPU (Highway dynamic dispatch), per tensor and per channel in all
// three row layouts (broadcast rows, per-lane constants when inner == 1, short rows), with
// odd sizes, ties, signed zeros, infinities and huge values; NaN lands where ref puts it.
#include <hwy/targets.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "quant/kernels/fake_quantize.h"
#include "tensor/tensor.h"
#include "tests/test_util.h"

namespace lowbit::quant {
namespace {

using test::bit_equal;

// Runs fn() once per SIMD target compiled into the library and supported by this CPU.
template <typename Fn>
void for_each_simd_target(Fn&& fn) {
  struct Reset {
    ~Reset() { hwy::SetSupportedTargetsForTest(0); }
  } reset;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    fn();
  }
}

struct Layout {
  int64_t outer, channels, inner;
};

// Per tensor (odd sizes, a tail, several chunks of 16384), per channel with long rows,
// with channels innermost (per-lane constants), and with rows shorter than a vector.
const std::vector<Layout> kLayouts = {{1, 1, 1},  {1, 1, 7},     {1, 1, 16}, {1, 1, 33}, {1, 1, 1001}, {1, 1, 40007},
                                      {3, 5, 67}, {1, 3, 17000}, {5, 7, 1},  {9, 33, 1}, {3, 16, 9},   {4, 5, 2}};

struct Data {
  FakeQuantizeParams p;
  std::vector<double> x, dy, scale, zero_point;
};

// Scales: random, plus powers of two (exact ties under both multiply and divide);
// zero points: integers in range. x: ties k + 1/2 of each channel's scale, values over and
// beyond the range, +-0, +-inf, +-1e30.
Data make_data(const Layout& L, DType dtype, const NumericPolicy& policy, int64_t qmin, int64_t qmax, uint64_t seed) {
  Data d;
  d.p.dtype = dtype;
  d.p.outer = L.outer;
  d.p.channels = L.channels;
  d.p.inner = L.inner;
  d.p.qmin = qmin;
  d.p.qmax = qmax;
  d.p.policy = policy;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t c = 0; c < L.channels; ++c) {
    const double s = c % 3 == 1 ? std::ldexp(1.0, -2 - static_cast<int>(c % 5)) : 0.01 + 0.5 * u(rng);
    d.scale.push_back(static_cast<double>(static_cast<float>(s)));
    d.zero_point.push_back(
        static_cast<double>(qmin + static_cast<int64_t>(u(rng) * double(qmax - qmin + 1)) % (qmax - qmin + 1)));
  }
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t n = d.p.numel();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = (i / L.inner) % L.channels;
    const double s = d.scale[c], z = d.zero_point[c];
    const double k = std::floor((qmin - z - 2) + u(rng) * double(qmax - qmin + 4));
    double v;
    switch (i % 11) {
      case 0:
      case 1:
      case 2:
        v = (k + 0.5) * s;
        break;  // a tie when s is a power of two
      case 3:
        v = i % 2 ? 0.0 : -0.0;
        break;
      case 4:
        v = i % 22 == 4 ? inf : -1e30;
        break;
      case 5:
        v = i % 22 == 5 ? -inf : 1e30;
        break;
      default:
        v = (u(rng) - 0.5) * 3.0 * double(qmax - qmin) * s;
    }
    d.x.push_back(v);
    d.dy.push_back(u(rng) - 0.5);
  }
  return d;
}

Tensor as_tensor(const std::vector<double>& v, DType dtype) { return from_vector(v).to(dtype); }

// Runs one kernel family on ref and cpu; `outputs` arrays of numel each.
template <typename Run>
void expect_parity(const Data& d, int outputs, Run&& run, const std::string& what) {
  const DType t = d.p.dtype;
  const Tensor x = as_tensor(d.x, t), dy = as_tensor(d.dy, t), s = as_tensor(d.scale, t),
               z = as_tensor(d.zero_point, t);
  std::vector<Tensor> ref_out, cpu_out;
  for (int k = 0; k < outputs; ++k) {
    ref_out.push_back(empty({d.p.numel()}, t));
    cpu_out.push_back(empty({d.p.numel()}, t));
  }
  run(true, ref_out, x, dy, s, z);
  run(false, cpu_out, x, dy, s, z);
  for (int k = 0; k < outputs; ++k)
    ASSERT_TRUE(bit_equal(ref_out[k], cpu_out[k], what + " output " + std::to_string(k)));
}

// Forward, backward and the learnable backward (pytorch formula where the policy allows,
// and unless `pytorch_only`, lsq with both masks).
void check_all_kernels(const Data& d, const std::string& what, bool pytorch_only = false) {
  expect_parity(
      d, 1,
      [&](bool ref, std::vector<Tensor>& o, const Tensor& x, const Tensor&, const Tensor& s, const Tensor& z) {
        (ref ? ref::fake_quantize_forward : cpu::fake_quantize_forward)(d.p, o[0].data_ptr(), x.data_ptr(),
                                                                        s.data_ptr(), z.data_ptr());
      },
      what + " forward");
  expect_parity(
      d, 1,
      [&](bool ref, std::vector<Tensor>& o, const Tensor& x, const Tensor& dy, const Tensor& s, const Tensor& z) {
        (ref ? ref::fake_quantize_backward : cpu::fake_quantize_backward)(d.p, o[0].data_ptr(), dy.data_ptr(),
                                                                          x.data_ptr(), s.data_ptr(), z.data_ptr());
      },
      what + " backward");
  std::vector<FakeQuantizeLearnableParams> variants;
  if (!pytorch_only)
    for (LsqMask mask : {LsqMask::pytorch, LsqMask::paper})
      variants.push_back({d.p, LearnableFormula::lsq, mask, 0.37});
  if (has_pytorch_arithmetic(d.p.policy)) variants.push_back({d.p, LearnableFormula::pytorch, LsqMask::pytorch, 0.37});
  for (const FakeQuantizeLearnableParams& lp : variants) {
    const std::string name = what + (lp.formula == LearnableFormula::pytorch ? " learnable pytorch"
                                     : lp.mask == LsqMask::paper             ? " learnable lsq paper"
                                                                             : " learnable lsq");
    expect_parity(
        d, 3,
        [&](bool ref, std::vector<Tensor>& o, const Tensor& x, const Tensor& dy, const Tensor& s, const Tensor& z) {
          (ref ? ref::fake_quantize_learnable_backward : cpu::fake_quantize_learnable_backward)(
              lp, o[0].data_ptr(), o[1].data_ptr(), o[2].data_ptr(), dy.data_ptr(), x.data_ptr(), s.data_ptr(),
              z.data_ptr());
        },
        name);
  }
}

std::vector<NumericPolicy> all_policies() {
  std::vector<NumericPolicy> out;
  for (Rounding r : {Rounding::half_even, Rounding::half_away, Rounding::half_up})
    for (ScaleApply s : {ScaleApply::multiply, ScaleApply::divide})
      for (ZeroPointOrder z : {ZeroPointOrder::after_rounding, ZeroPointOrder::before_rounding})
        for (ClampOrder c : {ClampOrder::after_rounding, ClampOrder::before_rounding})
          out.push_back(NumericPolicy{r, s, z, c, Requantization::fixed_double});
  return out;
}

std::string layout_str(const Layout& L) {
  return "[" + std::to_string(L.outer) + "," + std::to_string(L.channels) + "," + std::to_string(L.inner) + "]";
}

TEST(FakeQuantizeParity, CpuEqualsRefForEveryPolicyLayoutAndTarget) {
  for_each_simd_target([] {
    uint64_t seed = 1;
    for (DType dtype : {DType::f32, DType::f64})
      for (const NumericPolicy& policy : all_policies())
        for (const Layout& L : kLayouts) {
          // The long layouts once per rounding mode is enough; short ones for every policy.
          if (L.outer * L.channels * L.inner > 5000 &&
              (policy.zero_point != ZeroPointOrder::after_rounding || policy.scale != ScaleApply::multiply))
            continue;
          const int64_t qmin = seed % 3 == 0 ? 0 : -128, qmax = seed % 3 == 0 ? 255 : 127;
          const Data d = make_data(L, dtype, policy, qmin, qmax, seed++);
          check_all_kernels(d, std::string(dtype_name(dtype)) + " " + to_string(policy) + " " + layout_str(L));
          if (HasFailure()) return;
        }
  });
}

TEST(FakeQuantizeParity, FourBitAndSixteenBitRanges) {
  for_each_simd_target([] {
    uint64_t seed = 100;
    for (auto [qmin, qmax] : {std::pair<int64_t, int64_t>{-8, 7}, {0, 15}, {-7, 7}, {-32768, 32767}, {0, 65535}})
      for (const NumericPolicy& policy : {NumericPolicy::pytorch(), NumericPolicy::tflite()})
        for (const Layout& L : {Layout{1, 1, 1001}, Layout{3, 6, 1}, Layout{2, 3, 40}}) {
          const Data d = make_data(L, DType::f32, policy, qmin, qmax, seed++);
          check_all_kernels(
              d, to_string(policy) + " [" + std::to_string(qmin) + "," + std::to_string(qmax) + "] " + layout_str(L));
        }
  });
}

// Outputs of 32 MiB and more are written with non-temporal stores (fake_quantize_cpu.cpp):
// per tensor, and per channel with rows of a multiple of 64 bytes. Best target only.
TEST(FakeQuantizeParity, StreamedOutputsOfLargeTensors) {
  const int64_t n = (int64_t{32} << 20) / 4 + 5;
  const Data d = make_data({1, 1, n}, DType::f32, NumericPolicy::pytorch(), -128, 127, 55);
  check_all_kernels(d, "per tensor, 8M + 5 floats", true);
  const Data c = make_data({1, 8, 1 << 20}, DType::f32, NumericPolicy::pytorch(), 0, 255, 56);
  check_all_kernels(c, "per channel [1, 8, 2^20]", true);
}

TEST(FakeQuantizeParity, NaNInputGivesNaNWhereRefDoes) {
  for_each_simd_target([] {
    for (DType dtype : {DType::f32, DType::f64}) {
      Data d = make_data({1, 1, 100}, dtype, NumericPolicy::pytorch(), -128, 127, 7);
      for (int64_t i = 0; i < 100; i += 7) d.x[i] = std::numeric_limits<double>::quiet_NaN();
      const Tensor x = as_tensor(d.x, dtype), s = as_tensor(d.scale, dtype), z = as_tensor(d.zero_point, dtype);
      Tensor a = empty({100}, dtype), b = empty({100}, dtype);
      ref::fake_quantize_forward(d.p, a.data_ptr(), x.data_ptr(), s.data_ptr(), z.data_ptr());
      cpu::fake_quantize_forward(d.p, b.data_ptr(), x.data_ptr(), s.data_ptr(), z.data_ptr());
      const std::vector<double> ra = a.to_vector<double>(), rb = b.to_vector<double>();
      for (int64_t i = 0; i < 100; ++i) {
        if (i % 7 == 0) {
          EXPECT_TRUE(std::isnan(ra[i]) && std::isnan(rb[i])) << i;
        } else {
          EXPECT_EQ(ra[i], rb[i]) << i;
        }
      }
    }
  });
}

}  // namespace
}  // namespace lowbit::quant
