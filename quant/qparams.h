// From a measured range [min, max] to quantization parameters (scale s, zero point z),
// QUANT_NUMERICS §2. Everything is computed in float32, as PyTorch's observers do.
//
//   range          int_range(b, kind), b in 2..8 or 16
//                    signed_full    [-2^(b-1), 2^(b-1) - 1]
//                    signed_narrow  [-2^(b-1) + 1, 2^(b-1) - 1]   (TensorRT)
//                    unsigned_full  [0, 2^b - 1]
//   symmetric      signed range:   s = max(|min|, |max|) / ((qmax - qmin) / 2), z = 0
//                                  (int8: / 127.5, narrow int8: / 127)
//                  unsigned range: s = max(max, 0) / qmax, z = 0 (the academic unsigned
//                                  symmetric setting for non-negative activations; negative
//                                  values will clamp to 0)
//   asymmetric     min' = min(min, 0), max' = max(max, 0), s = (max' - min') / (qmax - qmin),
//                  z = clamp(qmin - rne(min' / s), qmin, qmax)
//   eps clamp      s = max(s, float32 epsilon 2^-23) before z is computed, so an all-zero
//                  or constant input gives a valid (s, z): never NaN, never a division by 0
//   power of two   s = 2^rne(log2 s) after the eps clamp and before z (z uses the final s).
//                  log2 is taken in double: 2^(k+1/2) is irrational, so no float s is a
//                  tie and double's accuracy decides every case correctly.
//   per channel    the same for each (min[c], max[c]) pair.
//
// Bad arguments (bits outside 2..8 and 16, min > max, NaN or infinite bounds, an empty
// range) throw lowbit::Error naming the function and the values.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace lowbit::quant {

constexpr float kScaleEps = std::numeric_limits<float>::epsilon();  // 1.1920929e-7 = 2^-23

enum class IntKind : uint8_t { signed_full, signed_narrow, unsigned_full };
enum class QScheme : uint8_t { symmetric, asymmetric };

struct QRange {
  int64_t qmin = -128, qmax = 127;
  bool operator==(const QRange&) const = default;
};

struct QParams {
  float scale = 1;
  int64_t zero_point = 0;
};

struct PerChannelQParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
};

const char* to_string(IntKind kind);
const char* to_string(QScheme scheme);

QRange int_range(int bits, IntKind kind);

// s <- 2^rne(log2 s) for a positive finite s.
float power_of_two_scale(float scale);

QParams choose_qparams(float min, float max, QRange range, QScheme scheme, bool power_of_two = false);
PerChannelQParams choose_qparams_per_channel(const std::vector<float>& min, const std::vector<float>& max, QRange range,
                                             QScheme scheme, bool power_of_two = false);

}  // namespace lowbit::quant
