// The dataflow graph of a model, as its forward pass runs: which layer call feeds which.
// quant/prepare.h reads it to place quantizers by rule (QUANT_NUMERICS §8's graph
// policies) on any model, hand-written forwards included, without a tracer that parses
// code: one forward in eval mode, without gradients, under an nn::ModuleTrace, records
// every call of a leaf module (a module without children) with its inputs and output.
//
// Values are identified by their storage: an output is a new value; an input is the value
// whose storage it views (so `flatten(x)` written in a forward, a view, still leads back
// to the layer that produced x). A leaf whose output shares its input's storage (Identity,
// Dropout and StochasticDepth in eval return their input) passes the value through and
// adds no value. A tensor that no leaf produced and that is not the model input (a
// functional op in a forward that allocates) becomes a value with an unknown producer.
// Every traced tensor is kept alive until the trace ends, so storage addresses cannot be
// reused during it.
//
//   ModelGraph g = quant::trace_graph(model, zeros({1, 1, 28, 28}));
//   for (const GraphNode& n : g.nodes) ... n.name ("layer1.0.conv1"), n.type ("Conv2d"),
//                                           n.inputs / n.output (value ids)
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace lowbit::quant {

struct GraphNode {
  std::string name;         // hierarchical module name ("" for the model itself)
  std::string type;         // Module::type(): "Conv2d", "BatchNorm2d", "ReLU", "Add", ...
  nn::Module* module;       // the module called (a module called twice has two nodes)
  std::vector<int> inputs;  // value ids, in argument order
  int output = -1;          // value id
  bool pass_through = false;  // the output is the input itself (Identity, eval Dropout)
};

struct GraphValue {
  static constexpr int kModelInput = -1, kUnknown = -2;
  int producer = kUnknown;                      // node index, kModelInput or kUnknown
  std::vector<std::pair<int, int>> consumers;  // (node index, argument index), in call order
  bool non_negative = false;  // every element is >= 0 by construction (after a ReLU, ...)
  std::vector<int64_t> sizes;
};

struct ModelGraph {
  std::vector<GraphNode> nodes;  // leaf calls in execution order
  std::vector<GraphValue> values;
  int input = -1, output = -1;   // value ids of the model input and output

  // The nodes of calls to `module` (more than one when a module is called twice).
  std::vector<int> calls_of(const nn::Module* module) const;
  // Follows pass-through producers (pools, Flatten, Identity, ...: the layers that keep
  // a value's sign, see non_negative) back from `value` to the value a computing layer
  // made, so the last layer of a model is found through its global pool and flatten.
  int source_of(int value) const;
  // One line per node: "12 layer1.0.conv1 Conv2d (v11) -> v12 [1, 16, 28, 28]".
  std::string str() const;
};

// Traces one forward of `model` on `example` (eval mode and no gradients for the call;
// the model's modes are restored afterwards, also when the forward throws).
// non_negative: ReLU and ReLU6 outputs are; MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
// Flatten, Identity, Dropout and StochasticDepth keep their input's sign; an Add or a
// Concat is non-negative when all its inputs are; everything else may be negative.
ModelGraph trace_graph(nn::Module& model, const Tensor& example);

}  // namespace lowbit::quant
