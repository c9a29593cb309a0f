// Autograd state of a tensor and the user-facing functions on it.
//
// A Tensor handle shares its TensorImpl with its copies, so requires_grad, .grad and the
// producing node are shared by all copies of a handle. Views made with Tensor's member
// functions (x.reshape(...), x.transpose(...)) are raw: they carry no autograd state.
// Use the differentiable lowbit::reshape(x, ...) etc. from autograd/ops.h instead.
//
// A leaf is a tensor with no producing node: either a tensor the user marked with
// set_requires_grad (its gradient is accumulated into grad(x)), or a plain tensor.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "autograd/node.h"
#include "tensor/tensor.h"

namespace lowbit {

struct AutogradMeta {
  bool requires_grad = false;     // set by the user on a leaf
  Tensor grad;                    // a leaf's accumulated gradient (undefined until the first backward)
  std::shared_ptr<Node> grad_fn;  // the node that produced this tensor; null for a leaf
  std::vector<GradHook> hooks;    // a leaf's hooks (a non-leaf's live on its grad_fn)
};

// Marks a leaf as needing a gradient (float tensors only). Throws for a non-leaf.
Tensor& set_requires_grad(Tensor& t, bool requires_grad = true);
// True for a leaf marked with set_requires_grad and for every result recorded in a graph.
bool requires_grad(const Tensor& t);
bool is_leaf(const Tensor& t);
// The node that produced t (null for a leaf).
std::shared_ptr<Node> grad_fn(const Tensor& t);
// The gradient accumulated into a leaf; undefined if backward has not reached it yet.
Tensor grad(const Tensor& t);
// Sets the accumulated gradient to zero (in place; no-op while it is undefined).
void zero_grad(Tensor& t);
// A new handle on the same data, outside every graph: a leaf that does not require grad.
Tensor detach(const Tensor& t);

// Registers fn to be called with the gradient flowing into t (for a leaf: the gradient
// summed over all its uses in this backward, before it is added to grad(t)). fn may
// return a replacement gradient of the same shape, or an undefined Tensor to keep it.
// t must require grad.
void register_hook(Tensor& t, GradHook fn);

// Runs backward from `root`: d root / d leaf, accumulated into grad(leaf) for every leaf
// that requires grad. `gradient` is d loss / d root (same shape); it may be omitted only
// when root has one element (it is then 1). Without retain_graph the graph's closures and
// saved tensors are freed as backward passes them, and a second backward through it
// raises an error.
void backward(const Tensor& root, const Tensor& gradient = Tensor(), bool retain_graph = false);

}  // namespace lowbit
