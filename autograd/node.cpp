// SavedTensor, record() and sum_to(): the helpers every differentiable op uses.
#include "autograd/node.h"

#include <utility>

#include "autograd/grad_mode.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {

// A handle on the same storage and layout, with no autograd state.
static Tensor data_alias(const Tensor& t) { return t.as_strided(t.sizes(), t.strides(), t.offset()); }

SavedTensor::SavedTensor(const Tensor& t, std::string op)
    : data_(data_alias(t)), version_(t.storage()->version()), op_(std::move(op)) {}

const Tensor& SavedTensor::get() const {
  LOWBIT_CHECK(data_.defined(), op_, ": a tensor saved for backward is missing (internal error)");
  const uint64_t now = data_.storage()->version();
  LOWBIT_CHECK(now == version_, op_, ": a tensor saved for backward was modified in place (version ", now,
               ", saved at version ", version_, "; ", describe(data_), "); clone it before modifying");
  return data_;
}

// The default destructor would destroy the input nodes recursively (edge -> node ->
// edge ...), one stack frame chain per node: a graph 100k ops deep overflows the stack.
// Instead, inputs whose last owner is this node are collected and destroyed in a loop,
// each after its own inputs were taken out of it.
Node::~Node() {
  std::vector<std::shared_ptr<Node>> last_owner;
  auto take_inputs = [&last_owner](Node& node) {
    for (Edge& e : node.edges)
      if (e.node && e.node.use_count() == 1) last_owner.push_back(std::move(e.node));
  };
  take_inputs(*this);
  while (!last_owner.empty()) {
    std::shared_ptr<Node> node = std::move(last_owner.back());
    last_owner.pop_back();
    take_inputs(*node);
  }  // `node` is destroyed here with no inputs left to recurse into
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& x : inputs)
    if (x.defined() && requires_grad(x)) return true;
  return false;
}

// The edge from a node to one of its inputs.
static Edge edge_to(const Tensor& x) {
  Edge e;
  e.sizes = x.sizes();
  e.dtype = x.dtype();
  if (!requires_grad(x)) return e;
  const std::shared_ptr<AutogradMeta>& meta = x.impl().autograd;
  if (meta->grad_fn) e.node = meta->grad_fn;
  else e.leaf = meta;
  return e;
}

Tensor record(const std::string& name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward) {
  LOWBIT_CHECK(is_floating(output.dtype()), name, ": only float results can be differentiated, got ",
               describe(output));
  if (output.impl().autograd) output = data_alias(output);
  auto node = std::make_shared<Node>();
  node->name = name;
  node->edges.reserve(inputs.size());
  for (const Tensor& x : inputs) node->edges.push_back(edge_to(x));
  node->backward = std::move(backward);
  auto meta = std::make_shared<AutogradMeta>();
  meta->grad_fn = std::move(node);
  output.impl().autograd = std::move(meta);
  return output;
}

// grad has the broadcast shape; sizes is what one operand had before broadcasting. The
// dims to sum are the leading dims sizes lacks and the dims where sizes has a 1.
Tensor sum_to(const Tensor& grad, const Shape& sizes) {
  if (grad.sizes() == sizes) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(sizes.size());
  LOWBIT_CHECK(lead >= 0, "sum_to: gradient ", describe(grad), " has fewer dims than the target ", shape_str(sizes));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.dim(); ++d)
    if (d < lead || (sizes[d - lead] == 1 && grad.size(d) != 1)) dims.push_back(d);
  const Tensor summed = dims.empty() ? grad : raw::sum(grad, dims, /*keepdim=*/true);
  return summed.reshape(sizes);  // drops the leading size-1 dims
}

Tensor scalar_like(const Tensor& x, double value) { return scalar_tensor(value, x.dtype(), x.device()); }

}  // namespace lowbit
