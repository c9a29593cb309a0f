// Custom functions: an op whose forward and backward are written by hand, for the
// straight-through estimators of quant/ (round in forward, a chosen surrogate in backward).
//
//   // round with the identity STE: y = round(x), dy/dx := 1
//   Tensor round_ste(const Tensor& x) {
//     return apply_function("round_ste", {x},
//         [](FunctionCtx&, const std::vector<Tensor>& in) { return raw::round(in[0]); },
//         [](FunctionCtx&, const Tensor& gy) -> Grads { return {gy}; });
//   }
//
// forward runs under NoGradGuard (what it computes is not recorded) and returns one
// float tensor; it keeps what backward needs with ctx.save_for_backward (tensors: checked
// for in-place modification like every saved tensor) or by capturing plain values in the
// lambda. backward gets the gradient of the result and returns one gradient per input,
// of the input's shape and dtype, or an undefined Tensor for "no gradient" (e.g. a
// non-float input); ctx.needs_input_grad says which ones are wanted.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "tensor/tensor.h"

namespace lowbit {

class FunctionCtx {
 public:
  explicit FunctionCtx(std::string name) : name_(std::move(name)) {}
  void save_for_backward(const std::vector<Tensor>& tensors);
  std::vector<Tensor> saved_tensors() const;  // throws if one was modified in place since
  const std::string& name() const { return name_; }
  std::vector<bool> needs_input_grad;  // one per input

 private:
  std::string name_;
  std::vector<SavedTensor> saved_;
};

using FunctionForward = std::function<Tensor(FunctionCtx& ctx, const std::vector<Tensor>& inputs)>;
using FunctionBackward = std::function<Grads(FunctionCtx& ctx, const Tensor& grad_output)>;

Tensor apply_function(const std::string& name, const std::vector<Tensor>& inputs, const FunctionForward& forward,
                      FunctionBackward backward);

}  // namespace lowbit
