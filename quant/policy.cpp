#include "quant/policy.h"

#include "tensor/error.h"

namespace lowbit::quant {

NumericPolicy NumericPolicy::pytorch() {
  NumericPolicy p;
  p.requantization = Requantization::float32;  // FBGEMM: acc * M in float, lrintf
  return p;
}

NumericPolicy NumericPolicy::tflite() {
  NumericPolicy p;
  p.rounding = Rounding::half_away;
  p.scale = ScaleApply::divide;
  p.clamp = ClampOrder::before_rounding;
  p.requantization = Requantization::fixed_double;
  return p;
}

NumericPolicy NumericPolicy::gemmlowp() { return NumericPolicy{}; }

NumericPolicy policy_preset(std::string_view name) {
  if (name == "pytorch") return NumericPolicy::pytorch();
  if (name == "tflite") return NumericPolicy::tflite();
  if (name == "gemmlowp") return NumericPolicy::gemmlowp();
  throw Error(
      str_cat("policy_preset: unknown numeric policy \"", name, "\"; valid presets are pytorch, tflite, gemmlowp"));
}

const char* to_string(Rounding rounding) {
  switch (rounding) {
    case Rounding::half_even:
      return "half_even";
    case Rounding::half_away:
      return "half_away";
    case Rounding::half_up:
      return "half_up";
  }
  return "?";
}

const char* to_string(ScaleApply scale) { return scale == ScaleApply::multiply ? "multiply" : "divide"; }

const char* to_string(ZeroPointOrder order) {
  return order == ZeroPointOrder::after_rounding ? "after_rounding" : "before_rounding";
}

const char* to_string(ClampOrder order) {
  return order == ClampOrder::after_rounding ? "after_rounding" : "before_rounding";
}

const char* to_string(Requantization requantization) {
  switch (requantization) {
    case Requantization::float32:
      return "float";
    case Requantization::fixed_double:
      return "fixed_double";
    case Requantization::fixed_single:
      return "fixed_single";
  }
  return "?";
}

std::string to_string(const NumericPolicy& p) {
  return str_cat("rounding=", to_string(p.rounding), " scale=", to_string(p.scale),
                 " zero_point=", to_string(p.zero_point), " clamp=", to_string(p.clamp),
                 " requantization=", to_string(p.requantization));
}

}  // namespace lowbit::quant
