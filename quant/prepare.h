// Model preparation: a float model (with its weights) becomes a fake-quantized one, by
// rule, for a backend (QUANT_NUMERICS §7-§8; MQBench's prepare_by_platform).
//
//   quant::QuantOptions o;
//   o.backend = quant::backend_preset("tensorrt", 4, 4);
//   o.algorithm = quant::Algorithm::lsq;
//   quant::PrepareReport r = quant::prepare(*model, zeros({1, 1, 28, 28}), o);
//   std::puts(r.str().c_str());   // every quantizer placed, and why
//
// How it works, on any model (no per-model code):
//  1. trace_graph (quant/graph.h) runs one forward and records which leaf layer feeds
//     which, and which tensors are non-negative (after a ReLU, through pools).
//  2. Weight layers: every Conv2d and Linear gets a weight quantizer (weights of backend's
//     granularity and range). With backend.fold_bn, a Conv2d whose only consumer is a
//     BatchNorm2d becomes a ConvBn2d with options.fold (QUANT_NUMERICS §7) and the BN's
//     slot an Identity; otherwise a QConv2d (BN stays a float layer) or a QLinear.
//  3. Activations, by the backend's graph policy (§8), one quantizer per tensor:
//       1 academic   the inputs of conv / linear layers
//       2 tensorrt   those, and the shortcut input of each residual add: the add is
//                    fused into the int32 accumulator of the conv that produces its other
//                    input (input 0 when a conv / conv+BN made it, else input 1)
//       3 full       those, both inputs of every add, and its output
//     Concat (graphs 2 and 3): all inputs share one quantizer (one (s, z)).
//     A tensor read by several quantized layers has one quantizer, owned by the first
//     holder in execution order and shared by the others (quant/act_quant.h).
//     Activation ranges: unsigned when the tensor is non-negative and the backend says so
//     (academic), else the backend's activation range.
//  4. First and last layers (the weight layers reading the model input, and the one
//     whose output is the model's, through pools and flatten): weights and inputs at 8
//     bits when backend.first_last_8bit and the bits are lower.
//  5. Layers are swapped in with Module::replace_child; the float parameter tensors are
//     shared, so the float weights are kept (and are what QAT trains).
//
// The quantizers start in state fp (the model computes as before); quant::set_state
// moves them (quant/state.h; calibrate with quant/calibrate.h).
//
// Algorithms (--algorithm), weight / activation quantizers:
//   fixed     Fixed(weight_observer) / Fixed(activation_observer)       (PTQ, QAT with STE)
//   lsq       LSQ / LSQ (an asymmetric per-tensor config gets LSQ+, LSQ's asymmetric form)
//   lsqplus   LSQ / LSQ+
//   pact      Fixed(weight_observer) / PACT     (PACT is an activation method; its paper
//             pairs it with DoReFa weights, which cannot be folded with BN, see below;
//             a tensor that may be negative is clipped to [-alpha, alpha], symmetric, even
//             where the backend's activations are asymmetric unsigned)
//   dorefa    DoReFa (MQBench variant) / Fixed(activation_observer)   (DoReFa's [0, 1]
//             activation clip needs a model trained with it; from a float checkpoint the
//             activations are observed instead)
//   dsq       DSQ / DSQ
// DoReFa, DSQ and LSQ+ weights are per tensor: a per-channel backend with them is refused
// with the override to use (weight_per_channel=false). DoReFa's weights are normalised
// to [-1, 1], losing their scale, so a backend that folds BN is refused too (fold_bn=false
// keeps BN as its own layer, which re-normalises). Errors say "override it with key=value".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "nn/module.h"
#include "quant/backend.h"
#include "quant/conv_bn.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

enum class Algorithm : uint8_t { fixed, lsq, lsq_plus, pact, dorefa, dsq };
const char* to_string(Algorithm algorithm);  // "fixed", "lsq", "lsqplus", "pact", "dorefa", "dsq"
Algorithm parse_algorithm(std::string_view name);
const std::vector<std::string>& algorithm_names();

struct QuantOptions {
  Algorithm algorithm = Algorithm::lsq;
  BackendConfig backend = backend_preset("academic");
  FoldStrategy fold = FoldStrategy::pytorch;       // used where backend.fold_bn
  std::string weight_observer = "minmax";          // Fixed weight quantizers
  std::string activation_observer = "ema_minmax";  // Fixed activation quantizers

  // "algorithm=lsq fold=pytorch weight_observer=minmax activation_observer=ema_minmax
  // backend=(name=academic ...)".
  std::string str() const;
};

// The quantizers of one algorithm for a config (see the table above).
std::shared_ptr<Quantizer> make_weight_quantizer(const QuantOptions& options, const QuantizerConfig& config);
// non_negative: the tensor is >= 0 by construction (quant/graph.h); PACT uses it.
std::shared_ptr<Quantizer> make_activation_quantizer(const QuantOptions& options, const QuantizerConfig& config,
                                                     bool non_negative);

struct PlacedQuantizer {
  std::string name;    // hierarchical module name: "layer1.0.conv1.input_quant"
  std::string tensor;  // "weight" or "activation"
  std::string config;  // QuantizerConfig::str() and the quantizer type
  std::string why;     // the rule that placed it
};

struct PrepareReport {
  std::string options;                       // QuantOptions::str()
  std::vector<PlacedQuantizer> quantizers;   // in execution order
  std::vector<std::string> replaced;         // "layer1.0.conv1: Conv2d + layer1.0.bn1 -> ConvBn2d(pytorch)"
  std::string str() const;                   // a readable table of both
};

// Prepares `model` in place (see above). example: one input batch of the model's shape
// (values do not matter; [1, C, H, W] is enough). Throws lowbit::Error (and leaves the
// model unchanged) for a model that is already prepared, a weight layer called more than
// once per forward, a model that is itself a single layer, or an algorithm that cannot
// take the backend's configuration.
PrepareReport prepare(nn::Module& model, const Tensor& example, const QuantOptions& options);

}  // namespace lowbit::quant
