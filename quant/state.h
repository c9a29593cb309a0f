// The quantization state of a whole model (QUANT_NUMERICS §6), and the calls a training
// loop makes on all of a model's quantizers at once.
//
//   quant::set_state(model, QuantState::calibrate);   // every quantizer of the tree...
//   quant::pin_state(*model.child("fc"), QuantState::fp);  // ...except those under fc
//
// set_state sets every quantizer under `module` (itself included) that has no pinned
// state; pin_state pins every quantizer under `module` (nullopt unpins them), so a later
// set_state leaves them alone. Both are buffers of the quantizers: a checkpoint restores
// them (quant/quantizer.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

// Every quantizer under `module` (itself included), with its hierarchical name.
std::vector<std::pair<std::string, Quantizer*>> named_quantizers(nn::Module& module);

void set_state(nn::Module& module, QuantState state);
void pin_state(nn::Module& module, std::optional<QuantState> state);
// Quantizer::after_step on each (LSQ's s <- max(|s|, eps)); call after optimizer.step().
void after_optimizer_step(nn::Module& module);
void set_collect_stats(nn::Module& module, bool on);

// One line per quantizer: "layer1.0.conv1.weight_quant  LsqQuantizer  int4 ... state=qat
// scale=0.0123 zero_point=0" (model printouts show the same through extra_repr).
std::string quantizer_table(nn::Module& module);
// The diagnostics of every quantizer as one JSON object, name -> {state, bits, scale,
// zero_point, range_min, range_max, clip_fraction, grad_scale} (per-channel values as
// min / mean / max), for a JSON-lines training log.
std::string stats_json(nn::Module& module);

}  // namespace lowbit::quant
