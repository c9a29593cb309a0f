// The numeric policy: how a real value becomes an integer code, QUANT_NUMERICS §1.
//
// One value type shared by the fake-quant simulator (quant/fake_quantize.h) and, later,
// the integer engine, so the two can only disagree where the policy says they may.
// Where well-known systems disagree, each field names both conventions; the default
// of every field is PyTorch's, except requantization (table of §1: fixed_double).
//
//   field          options                                   pytorch   tflite        gemmlowp
//   rounding       half_even | half_away | half_up           half_even half_away     half_even
//   scale          multiply by float32 1.0f/s | divide by s  multiply  divide        multiply
//   zero_point     added after | before rounding             after     after         after
//   clamp          after | before rounding                   after     before        after
//   requantization float | fixed_double | fixed_single       float     fixed_double  fixed_double
//
// What the fields mean for fake quantization (v the scaled value, R the rounding):
//   scale      multiply: v = x * (1/s), 1/s computed once in the float type (float32
//              1.0f/s for f32 tensors, as PyTorch); divide: v = x / s (TFLite's reference).
//   zero_point after: q = R(v) + z; before: q = R(v + z) (v + z rounded in the float type).
//   clamp      after: q is clamped to [qmin, qmax] after rounding; before: v (or v + z)
//              is clamped to the range first (TF's FakeQuantWithMinMaxVars). With integer
//              bounds both give the same codes (R is monotone and keeps integers); they
//              differ in the STE mask (QUANT_NUMERICS §3.2): the gradient passes where the
//              clamp left its input unchanged, so "before" tests the unrounded value.
//   requantization is used by the integer engine (QUANT_NUMERICS §9), not by fake quant.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace lowbit::quant {

enum class Rounding : uint8_t { half_even, half_away, half_up };
enum class ScaleApply : uint8_t { multiply, divide };
enum class ZeroPointOrder : uint8_t { after_rounding, before_rounding };
enum class ClampOrder : uint8_t { after_rounding, before_rounding };
// float32: acc * M in float32, rounded with lrintf (FBGEMM); fixed_double: gemmlowp's
// SaturatingRoundingDoublingHighMul then RoundingDivideByPOT; fixed_single: TFLite's single
// rounding (acc * M0 + 2^(30 - shift)) >> (31 - shift). Spelled "float" by to_string.
enum class Requantization : uint8_t { float32, fixed_double, fixed_single };

struct NumericPolicy {
  Rounding rounding = Rounding::half_even;
  ScaleApply scale = ScaleApply::multiply;
  ZeroPointOrder zero_point = ZeroPointOrder::after_rounding;
  ClampOrder clamp = ClampOrder::after_rounding;
  Requantization requantization = Requantization::fixed_double;

  // QUANT_NUMERICS §1 presets.
  static NumericPolicy pytorch();   // all defaults, requantization float
  static NumericPolicy tflite();    // half_away, divide, clamp before, fixed_double
  static NumericPolicy gemmlowp();  // all defaults (fixed_double)

  bool operator==(const NumericPolicy&) const = default;
};

// "pytorch", "tflite" or "gemmlowp"; anything else throws lowbit::Error listing these.
NumericPolicy policy_preset(std::string_view name);

// "rounding=half_even scale=multiply zero_point=after_rounding clamp=after_rounding
// requantization=float" (every field, in this order).
std::string to_string(const NumericPolicy& policy);
const char* to_string(Rounding rounding);
const char* to_string(ScaleApply scale);
const char* to_string(ZeroPointOrder order);
const char* to_string(ClampOrder order);
const char* to_string(Requantization requantization);

// Rounds x to an integral value of the same float type (QUANT_NUMERICS §1):
//   half_even  std::nearbyint in the default FP environment (round to nearest, ties to
//              even): 0.5 -> 0, 1.5 -> 2, -2.5 -> -2. PyTorch's rounding.
//   half_away  std::round: ties away from zero: 0.5 -> 1, -2.5 -> -3. TFLite's.
//   half_up    std::floor(x + 0.5), the sum rounded in the float type first, literally
//              as TF's FakeQuant kernels write it: ties go up (-2.5 -> -2), and two
//              artefacts of the float sum come with it: the largest float below 0.5
//              (0.49999997f) rounds to 1, and odd integers above 2^23 (f32) / 2^52 (f64)
//              round to the next even one. Both are what TF computes, so they are kept.
// The sign of a zero result follows x (std::nearbyint(-0.3) = -0), except half_up, which
// gives +0 for x in [-0.5, 0.5) (floor of a non-negative sum).
template <typename T>
inline T round_value(T x, Rounding rounding) {
  switch (rounding) {
    case Rounding::half_even:
      return std::nearbyint(x);
    case Rounding::half_away:
      return std::round(x);
    case Rounding::half_up:
      return std::floor(x + T(0.5));
  }
  return x;
}

}  // namespace lowbit::quant
