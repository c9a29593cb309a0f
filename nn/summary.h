// A model summary in the style of torchinfo: one row per leaf layer call (hierarchical
// name, type, output shape, parameters, multiply-accumulates), then totals. It runs one
// forward pass on zeros of `input_shape` in evaluation mode without recording a graph,
// and restores every module's mode afterwards.
#pragma once

#include <string>
#include <vector>

#include "nn/module.h"

namespace lowbit::nn {

struct SummaryRow {
  std::string name, type;  // "layer1.0.conv1", "Conv2d"
  Shape output;
  int64_t params = 0;  // of this layer itself
  int64_t macs = 0;
};

struct Summary {
  std::vector<SummaryRow> rows;
  int64_t total_params = 0, trainable_params = 0, total_macs = 0;
  std::string str() const;  // the printable table
};

Summary summarize(Module& model, const Shape& input_shape, DType dtype = DType::f32);

// The number of parameter elements of the model (no forward pass).
int64_t parameter_count(const Module& model);

}  // namespace lowbit::nn
