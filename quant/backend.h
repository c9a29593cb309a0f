// Backend presets (QUANT_NUMERICS §8; MQBench Table 1, Fig. 4, Appendix E): how a
// deployment target wants a model quantized. A preset fixes the weight and activation
// granularity, symmetry and integer range, the scale format, the graph policy (where
// activation quantizers go), whether BN is folded into the conv, and whether the first and
// last layers stay at 8 bits; every field is a plain member a user (or a command-line
// `key=value` override, apply_override) can change, and str() prints the whole of it, so
// the configuration a run used is in its log.
//
//   preset    weights                       activations                          scale   graph  fold BN
//   academic  per-tensor symmetric          per-tensor symmetric, unsigned when  float   1      no
//                                           the input is non-negative
//   tensorrt  per-channel symmetric narrow  per-tensor symmetric narrow          float   2      yes
//   acl       per-channel symmetric         per-tensor asymmetric                float   1      yes
//   tvm       per-tensor symmetric          per-tensor symmetric                 2^k     3      yes
//   snpe      per-tensor asymmetric         per-tensor asymmetric                float   3      yes
//   fbgemm    per-channel asymmetric        per-tensor asymmetric                float   3      yes
//
// Integer ranges, where the table leaves them open: symmetric weights are signed
// (narrow for tensorrt); asymmetric activations are unsigned [0, 2^b - 1] (uint8 in ACL,
// SNPE and FBGEMM); asymmetric weights are unsigned for snpe (SNPE's uint8 weights) and
// signed for fbgemm (FBGEMM's int8 weights). Graph policies:
//   1 (academic)  only the inputs and weights of conv / linear are quantized
//   2 (tensorrt)  block inputs and outputs; a residual add is fused into the preceding
//                 conv's int32 accumulator, so only the shortcut input is quantized
//   3 (full)      both inputs of every add and its output
// Concat inputs always share one (s, z).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "quant/policy.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

enum class GraphPolicy : uint8_t { academic = 1, tensorrt = 2, full = 3 };
const char* to_string(GraphPolicy graph);

struct BackendConfig {
  std::string name = "academic";
  int weight_bits = 8, activation_bits = 8;
  bool weight_per_channel = false;
  QScheme weight_scheme = QScheme::symmetric;
  IntKind weight_kind = IntKind::signed_full;
  QScheme activation_scheme = QScheme::symmetric;
  IntKind activation_kind = IntKind::signed_full;
  bool unsigned_when_non_negative = false;  // activations after ReLU use [0, 2^b - 1]
  bool power_of_two = false;
  GraphPolicy graph = GraphPolicy::academic;
  bool fold_bn = false;
  bool first_last_8bit = true;  // first and last layers stay at 8 bits when the rest is lower
  NumericPolicy policy = NumericPolicy::pytorch();

  // The quantizer config of a weight with `out_channels` output channels (axis 0), at
  // `bits` (weight_bits, or 8 for a first/last layer).
  QuantizerConfig weight_config(int64_t out_channels, int bits) const;
  // The config of an activation; `non_negative` when the producer guarantees x >= 0 (ReLU).
  QuantizerConfig activation_config(bool non_negative, int bits) const;
  // Every field, "name=tensorrt weight_bits=8 ... policy=(rounding=half_even ...)".
  std::string str() const;
};

// "academic", "tensorrt", "acl", "tvm", "snpe" or "fbgemm" at w/a bits; anything else
// throws lowbit::Error listing them.
BackendConfig backend_preset(std::string_view name, int weight_bits = 8, int activation_bits = 8);
const std::vector<std::string>& backend_names();

// One "key=value" override, key a field name of BackendConfig as str() prints it
// (weight_per_channel=false, activation_scheme=asymmetric, graph=3, policy=tflite, ...).
// Unknown keys and unparsable values throw lowbit::Error naming the key and the choices.
void apply_override(BackendConfig& config, std::string_view assignment);

}  // namespace lowbit::quant
