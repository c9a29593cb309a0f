// Graph nodes: what a differentiable op leaves behind for backward.
//
// An op computes its result with the raw kernels and, when grad mode is on and an input
// requires grad, records one Node: its name (for error messages), one edge per input
// (to the node that produced that input, to the leaf whose .grad collects it, or to
// nothing when the input needs no gradient) and the closure that maps the gradient of
// the result to the gradients of the inputs. The closure captures only what backward
// needs: SavedTensors and shapes, never the result's own graph.
//
// The pattern every op in autograd/ops/ follows:
//
//   Tensor mul(const Tensor& a, const Tensor& b) {
//     Tensor y = raw::mul(a, b);
//     if (!any_requires_grad({a, b})) return y;     // nothing saved, nothing recorded
//     // d(a*b)/da = b, d(a*b)/db = a
//     return record("mul", y, {a, b}, [saved_a = SavedTensor(a, "mul"), saved_b = SavedTensor(b, "mul"),
//                                      a_sizes = a.sizes(), b_sizes = b.sizes()](const Tensor& gy) -> Grads {
//       return {sum_to(raw::mul(gy, saved_b.get()), a_sizes), sum_to(raw::mul(gy, saved_a.get()), b_sizes)};
//     });
//   }
//
// Backward closures use the raw ops (the engine runs them under NoGradGuard, so no graph
// of the backward is built; higher-order gradients are not supported). Every node has one
// result; an op with several results records one node per differentiable result.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit {

struct AutogradMeta;
struct Node;

// Gradients, one per input of a node (an undefined Tensor means "no gradient").
using Grads = std::vector<Tensor>;
using BackwardFn = std::function<Grads(const Tensor& grad_output)>;
using GradHook = std::function<Tensor(const Tensor& grad)>;

// Where the gradient of one input goes. At most one of node / leaf is set; neither when
// the input does not require grad.
struct Edge {
  std::shared_ptr<Node> node;          // the input was produced by this node
  std::shared_ptr<AutogradMeta> leaf;  // or it is a leaf: accumulate into leaf->grad
  Shape sizes;                         // the input's shape (checked against the gradient)
  DType dtype = DType::f32;
  bool requires_grad() const { return node != nullptr || leaf != nullptr; }
};

struct Node {
  std::string name;            // the op ("mul"), for error messages
  std::vector<Edge> edges;     // one per input, in the op's argument order
  BackwardFn backward;         // grad of the result -> grads of the inputs; null once released
  std::vector<GradHook> hooks;  // registered on the node's result (a non-leaf tensor)
  bool released = false;       // backward ran without retain_graph: closure and saved tensors freed

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  // iterative: dropping a long chain of nodes must not recurse once per node
};

// A tensor kept for backward: its data (a new handle on the same storage, without the
// tensor's graph, so saving an op's own result creates no reference cycle) and the
// storage version at save time. get() throws if the storage was written in place since.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, std::string op);
  const Tensor& get() const;
  bool defined() const { return data_.defined(); }

 private:
  Tensor data_;
  uint64_t version_ = 0;
  std::string op_;
};

// True when grad mode is on and some input requires grad: the op must record a node.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Makes `output` the result of a new node `name` over `inputs` and returns it. Call only
// when any_requires_grad(inputs). If `output` already carries autograd data (a raw view
// op may return its input itself), a fresh handle on the same data is used instead.
Tensor record(const std::string& name, Tensor output, const std::vector<Tensor>& inputs, BackwardFn backward);

// Sums `grad` down to `sizes` over the dims that broadcasting added or expanded from 1:
// the backward of every broadcasting op.
Tensor sum_to(const Tensor& grad, const Shape& sizes);

// A zero-d tensor of x's dtype and device.
Tensor scalar_like(const Tensor& x, double value);

}  // namespace lowbit
