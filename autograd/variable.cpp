// requires_grad, grad, detach and hooks: the autograd state stored in TensorImpl::autograd.
#include "autograd/variable.h"

#include <utility>

namespace lowbit {

Tensor& set_requires_grad(Tensor& t, bool flag) {
  LOWBIT_CHECK(t.defined(), "set_requires_grad: undefined tensor");
  std::shared_ptr<AutogradMeta>& meta = t.impl().autograd;
  LOWBIT_CHECK(!(meta && meta->grad_fn), "set_requires_grad: ", describe(t), " is the result of ",
               meta->grad_fn->name, ", not a leaf; only leaves can change requires_grad (use detach() for a new leaf)");
  LOWBIT_CHECK(!flag || is_floating(t.dtype()), "set_requires_grad: only float tensors can require grad, got ",
               describe(t), "; cast with .to(DType::f32) first");
  if (!meta) {
    if (!flag) return t;
    meta = std::make_shared<AutogradMeta>();
  }
  meta->requires_grad = flag;
  return t;
}

bool requires_grad(const Tensor& t) {
  const AutogradMeta* meta = t.defined() ? t.impl().autograd.get() : nullptr;
  return meta != nullptr && (meta->requires_grad || meta->grad_fn != nullptr);
}

bool is_leaf(const Tensor& t) { return grad_fn(t) == nullptr; }

std::shared_ptr<Node> grad_fn(const Tensor& t) {
  const AutogradMeta* meta = t.defined() ? t.impl().autograd.get() : nullptr;
  return meta ? meta->grad_fn : nullptr;
}

Tensor grad(const Tensor& t) {
  const AutogradMeta* meta = t.defined() ? t.impl().autograd.get() : nullptr;
  return meta ? meta->grad : Tensor();
}

void zero_grad(Tensor& t) {
  AutogradMeta* meta = t.defined() ? t.impl().autograd.get() : nullptr;
  if (meta && meta->grad.defined()) meta->grad.fill_(0);
}

Tensor detach(const Tensor& t) {
  LOWBIT_CHECK(t.defined(), "detach: undefined tensor");
  return t.as_strided(t.sizes(), t.strides(), t.offset());
}

void register_hook(Tensor& t, GradHook fn) {
  LOWBIT_CHECK(requires_grad(t), "register_hook: ", describe(t),
               " does not require grad, so no gradient will flow into it; call set_requires_grad first");
  AutogradMeta& meta = *t.impl().autograd;
  if (meta.grad_fn) meta.grad_fn->hooks.push_back(std::move(fn));
  else meta.hooks.push_back(std::move(fn));
}

}  // namespace lowbit
