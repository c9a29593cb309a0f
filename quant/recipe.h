// A quantization recipe: the few choices a user makes (`--backend tensorrt --w-bits 4
// ...`) from which quant::QuantOptions, and so a prepared model, are rebuilt exactly.
// Quantized checkpoints carry it as JSON in their metadata ("quant"), next to the model
// name, so `lowbit eval` and `lowbit quant-report` rebuild the same fake-quantized model
// from the float architecture and then load the saved state (weights, BN statistics,
// scales, zero points, observer ranges, quantizer states).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quant/prepare.h"

namespace lowbit::quant {

struct QuantRecipe {
  std::string algorithm = "lsq";           // algorithm_names()
  std::string backend = "academic";        // backend_names()
  int weight_bits = 8, activation_bits = 8;
  std::vector<std::string> overrides;      // "key=value" for apply_override, in order
  std::string fold = "pytorch";            // parse_fold_strategy
  std::string weight_observer = "minmax";  // Fixed weight quantizers
  std::string activation_observer = "ema_minmax";

  // Validates every field (unknown names, bad overrides throw lowbit::Error naming them).
  QuantOptions options() const;
  std::string to_json() const;
  // Reads to_json()'s output; missing or mistyped fields throw naming `source`.
  static QuantRecipe from_json(const std::string& json, const std::string& source);
  bool operator==(const QuantRecipe&) const = default;
};

}  // namespace lowbit::quant
