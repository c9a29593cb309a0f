// Merge layers with more than one input, kept as modules (not bare `a + b`) so that the
// quantization layer can find every residual addition and concatenation and place a
// quantizer on its output (QUANT_NUMERICS.md: requantised adds and concats).
//   Add     a + b, same shapes (a residual connection)
//   Concat  the inputs joined along `dim` (1: channels)
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace lowbit::nn {

class Add : public Module {
 public:
  Add() : Module("Add") {}
  Tensor operator()(const Tensor& a, const Tensor& b);  // forward + trace report (inputs a, b)
  virtual Tensor forward(const Tensor& a, const Tensor& b);
  using Module::forward;

 protected:
  explicit Add(std::string type) : Module(std::move(type)) {}  // subclasses (quant::QAdd)
};

class Concat : public Module {
 public:
  explicit Concat(int64_t dim = 1) : Module("Concat"), dim(dim) {}
  Tensor operator()(const std::vector<Tensor>& inputs);  // forward + trace report (all inputs)
  virtual Tensor forward(const std::vector<Tensor>& inputs);
  using Module::forward;
  std::string extra_repr() const override;
  const int64_t dim;

 protected:
  Concat(std::string type, int64_t dim) : Module(std::move(type)), dim(dim) {}
};

}  // namespace lowbit::nn
