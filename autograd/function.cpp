#include "autograd/function.h"

#include <memory>
#include <utility>

#include "autograd/grad_mode.h"
#include "autograd/variable.h"

namespace lowbit {

void FunctionCtx::save_for_backward(const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors) saved_.push_back(t.defined() ? SavedTensor(t, name_) : SavedTensor());
}

std::vector<Tensor> FunctionCtx::saved_tensors() const {
  std::vector<Tensor> out;
  out.reserve(saved_.size());
  for (const SavedTensor& s : saved_) out.push_back(s.defined() ? s.get() : Tensor());
  return out;
}

Tensor apply_function(const std::string& name, const std::vector<Tensor>& inputs, const FunctionForward& forward,
                      FunctionBackward backward) {
  auto ctx = std::make_shared<FunctionCtx>(name);
  for (const Tensor& x : inputs) ctx->needs_input_grad.push_back(requires_grad(x));
  Tensor y;
  {
    NoGradGuard no_grad;
    y = forward(*ctx, inputs);
  }
  LOWBIT_CHECK(y.defined(), name, ": forward returned an undefined tensor");
  if (!any_requires_grad(inputs)) return y;
  return record(name, y, inputs, [ctx, backward = std::move(backward)](const Tensor& gy) { return backward(*ctx, gy); });
}

}  // namespace lowbit
