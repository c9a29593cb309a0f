// The backward engine: a topological sort of the graph behind the root and one loop
// over it in reverse (micrograd's algorithm, with gradients summed per node).
//
//   1. order = the nodes reachable from root.grad_fn, each after all nodes it depends on
//      (iterative depth-first search, post-order; the edge order makes it deterministic);
//   2. walk order backwards: a node runs once every consumer has run, so its gradient
//      (summed over all consumers) is complete; apply its hooks, call its closure, free
//      it unless retain_graph, and add each input's gradient to the producing node or,
//      for a leaf, to that leaf's pending sum;
//   3. for each leaf in the order first reached: apply its hooks, add to grad(leaf).
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "autograd/grad_mode.h"
#include "autograd/variable.h"
#include "tensor/ops.h"

namespace lowbit {
namespace {

// Nodes reachable from root, every node after the nodes its inputs come from; root last.
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_set<Node*> visited{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};  // (node, next edge to visit)
  while (!stack.empty()) {
    Node* node = stack.back().first;
    const size_t next = stack.back().second++;
    if (next == node->edges.size()) {
      order.push_back(node);
      stack.pop_back();
      continue;
    }
    Node* input = node->edges[next].node.get();
    if (input != nullptr && visited.insert(input).second) stack.push_back({input, 0});
  }
  return order;
}

// Runs the hooks in registration order; a defined result replaces the gradient.
Tensor apply_hooks(const std::vector<GradHook>& hooks, Tensor grad, const std::string& what) {
  for (const GradHook& hook : hooks) {
    Tensor replaced = hook(grad);
    if (!replaced.defined()) continue;
    LOWBIT_CHECK(replaced.sizes() == grad.sizes() && replaced.dtype() == grad.dtype(),
                 "backward: a hook on ", what, " returned ", describe(replaced), " for the gradient ", describe(grad),
                 "; it must keep the shape and dtype");
    grad = std::move(replaced);
  }
  return grad;
}

void add_into(Tensor& sum, const Tensor& g) { sum = sum.defined() ? raw::add(sum, g) : g; }

// grad(leaf) += g, creating it (as a fresh contiguous tensor the engine owns) the first time.
void accumulate_leaf(AutogradMeta& leaf, const Tensor& g) {
  if (!leaf.grad.defined()) leaf.grad = g.clone();
  else raw::add_(leaf.grad, g);
}

}  // namespace

void backward(const Tensor& root, const Tensor& gradient, bool retain_graph) {
  LOWBIT_CHECK(root.defined(), "backward: undefined tensor");
  LOWBIT_CHECK(requires_grad(root), "backward: ", describe(root),
               " does not require grad and has no grad_fn (no input of the ops that made it requires grad, or it "
               "was computed under NoGradGuard)");
  Tensor seed = gradient;
  if (!seed.defined()) {
    LOWBIT_CHECK(root.numel() == 1, "backward: a gradient can be created implicitly only for a tensor with one "
                 "element, got ", describe(root), "; pass backward(root, gradient) with a gradient of that shape");
    seed = ones(root.sizes(), root.dtype(), root.device());
  }
  LOWBIT_CHECK(seed.sizes() == root.sizes() && seed.dtype() == root.dtype() && seed.device() == root.device(),
               "backward: the gradient ", describe(seed), " does not match the root ", describe(root));

  NoGradGuard no_grad;  // nothing done during backward (closures, hooks) records a graph
  AutogradMeta& root_meta = *root.impl().autograd;
  if (!root_meta.grad_fn) {  // backward on a leaf itself
    accumulate_leaf(root_meta, apply_hooks(root_meta.hooks, seed, "a leaf"));
    return;
  }

  const std::vector<Node*> order = topological_order(root_meta.grad_fn.get());
  std::unordered_map<const Node*, Tensor> pending{{order.back(), seed}};  // summed grads of nodes not run yet
  std::vector<std::pair<std::shared_ptr<AutogradMeta>, Tensor>> leaves;     // in the order first reached
  std::unordered_map<const AutogradMeta*, size_t> leaf_slot;

  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& node = **it;
    auto found = pending.find(&node);
    if (found == pending.end()) continue;  // every consumer returned "no gradient" for it
    Tensor grad_output = apply_hooks(node.hooks, std::move(found->second), "the result of " + node.name);
    pending.erase(found);

    LOWBIT_CHECK(!node.released, "backward: the graph through ", node.name,
                 " was already freed; call backward(..., retain_graph=true) the first time");
    const Grads grad_inputs = node.backward(grad_output);
    if (!retain_graph) {
      node.backward = nullptr;  // frees the closure and the tensors it saved
      node.released = true;
    }
    LOWBIT_CHECK(grad_inputs.size() == node.edges.size(), node.name, ": backward returned ", grad_inputs.size(),
                 " gradients for ", node.edges.size(), " inputs");

    for (size_t i = 0; i < node.edges.size(); ++i) {
      const Edge& edge = node.edges[i];
      const Tensor& g = grad_inputs[i];
      if (!edge.requires_grad() || !g.defined()) continue;
      LOWBIT_CHECK(g.sizes() == edge.sizes && g.dtype() == edge.dtype, node.name, ": backward returned a gradient ",
                   describe(g), " for input ", i, " of shape ", shape_str(edge.sizes), " ", dtype_name(edge.dtype));
      if (edge.node) {
        add_into(pending[edge.node.get()], g);
        continue;
      }
      auto [slot, inserted] = leaf_slot.try_emplace(edge.leaf.get(), leaves.size());
      if (inserted) leaves.push_back({edge.leaf, Tensor()});
      add_into(leaves[slot->second].second, g);
    }
  }

  for (auto& [leaf, g] : leaves)
    if (leaf->requires_grad) accumulate_leaf(*leaf, apply_hooks(leaf->hooks, g, "a leaf"));
}

}  // namespace lowbit
