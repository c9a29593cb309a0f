// QUANT_NUMERICS §2: ranges to (s, z). Float32 arithmetic throughout, in the order
// PyTorch's observers use (MinMaxObserver._calculate_qparams), so the same range gives
// the same float32 scale.
#include "quant/qparams.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace lowbit::quant {

const char* to_string(IntKind kind) {
  switch (kind) {
    case IntKind::signed_full:
      return "signed";
    case IntKind::signed_narrow:
      return "narrow signed";
    case IntKind::unsigned_full:
      return "unsigned";
  }
  return "?";
}

const char* to_string(QScheme scheme) { return scheme == QScheme::symmetric ? "symmetric" : "asymmetric"; }

QRange int_range(int bits, IntKind kind) {
  LOWBIT_CHECK((bits >= 2 && bits <= 8) || bits == 16, "int_range: bits must be 2..8 or 16, got ", bits, " (",
               to_string(kind), ")");
  const int64_t half = int64_t{1} << (bits - 1);
  switch (kind) {
    case IntKind::signed_full:
      return {-half, half - 1};
    case IntKind::signed_narrow:
      return {-half + 1, half - 1};
    case IntKind::unsigned_full:
      return {0, 2 * half - 1};
  }
  return {};
}

float power_of_two_scale(float scale) {
  LOWBIT_CHECK(std::isfinite(scale) && scale > 0, "power_of_two_scale: scale must be positive and finite, got ", scale);
  // QUANT_NUMERICS §2: s <- 2^rne(log2 s). log2 in double: no float is within double's
  // error of a tie 2^(k + 1/2), so the exponent is the correctly rounded one.
  const double exponent = std::nearbyint(std::log2(static_cast<double>(scale)));
  return std::ldexp(1.0f, static_cast<int>(exponent));
}

namespace {

void check_range(const char* fn, float min, float max, QRange range) {
  LOWBIT_CHECK(std::isfinite(min) && std::isfinite(max), fn, ": min and max must be finite, got min ", min, " max ",
               max);
  LOWBIT_CHECK(min <= max, fn, ": min ", min, " is greater than max ", max);
  LOWBIT_CHECK(range.qmin < range.qmax, fn, ": empty integer range [", range.qmin, ", ", range.qmax, "]");
}

}  // namespace

QParams choose_qparams(float min, float max, QRange range, QScheme scheme, bool power_of_two) {
  check_range("choose_qparams", min, max, range);
  // The range always contains 0, so that 0 is exactly representable (padding, ReLU).
  const float min_neg = std::min(min, 0.0f), max_pos = std::max(max, 0.0f);
  float scale;
  int64_t zero_point = 0;
  if (scheme == QScheme::symmetric) {
    LOWBIT_CHECK(range.qmin <= 0 && range.qmax > 0,
                 "choose_qparams: symmetric quantization needs 0 in the range, got [", range.qmin, ", ", range.qmax,
                 "]");
    if (range.qmin == 0) {
      scale = max_pos / static_cast<float>(range.qmax);  // unsigned symmetric: s = max / qmax
    } else {
      const float half_levels = static_cast<float>(range.qmax - range.qmin) / 2.0f;  // 127.5 for int8
      scale = std::max(-min_neg, max_pos) / half_levels;
    }
  } else {
    scale = (max_pos - min_neg) / static_cast<float>(range.qmax - range.qmin);
  }
  LOWBIT_CHECK(std::isfinite(scale), "choose_qparams: the range [", min, ", ", max,
               "] is too wide, its scale overflows float32");
  scale = std::max(scale, kScaleEps);  // all-zero or constant input: a valid s, never 0
  if (power_of_two) scale = power_of_two_scale(scale);
  if (scheme == QScheme::asymmetric) {
    // z = clamp(qmin - rne(min' / s), qmin, qmax); min' / s is finite (s >= eps).
    zero_point = range.qmin - static_cast<int64_t>(std::nearbyint(min_neg / scale));
    zero_point = std::clamp(zero_point, range.qmin, range.qmax);
  }
  return {scale, zero_point};
}

PerChannelQParams choose_qparams_per_channel(const std::vector<float>& min, const std::vector<float>& max, QRange range,
                                             QScheme scheme, bool power_of_two) {
  LOWBIT_CHECK(min.size() == max.size(), "choose_qparams_per_channel: ", min.size(), " minima but ", max.size(),
               " maxima");
  PerChannelQParams out;
  out.scale.reserve(min.size());
  out.zero_point.reserve(min.size());
  for (size_t c = 0; c < min.size(); ++c) {
    QParams p;
    try {
      p = choose_qparams(min[c], max[c], range, scheme, power_of_two);
    } catch (const Error& e) {
      throw Error(str_cat("choose_qparams_per_channel: channel ", c, ": ", e.what()));
    }
    out.scale.push_back(p.scale);
    out.zero_point.push_back(p.zero_point);
  }
  return out;
}

}  // namespace lowbit::quant
