// Module: a node of a model tree that owns named parameters, named buffers and named
// children, as torch.nn.Module does, so that the hierarchical names of a lowbit model are
// exactly torchvision's ("layer1.0.conv1.weight", "bn1.running_mean") and weights move
// between the two through safetensors files (nn/safetensors.h).
//
//   parameters  leaf tensors with requires_grad: what the optimizer updates
//   buffers     state that is saved but not trained (BatchNorm's running statistics)
//   children    sub-modules, in registration order
//
// Tensors are shared handles. A layer keeps its parameters as members (Conv2d::weight)
// and registers the same handles here; both always see the same storage, because nothing
// ever re-assigns them: loading a state dict copies values into the existing tensors.
//
// state_dict() order is torch's: a module's own parameters, then its own buffers, then
// each child's state dict with the child's name as prefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The error of a Child whose module is absent ("" names) or not of the member's type.
[[noreturn]] void throw_child_type_error(const std::string& name, const std::string& type);

template <typename M>
class Child;

class Module {
 public:
  explicit Module(std::string type) : type_(std::move(type)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The forward pass of a one-input module (every layer except Add and Concat, which
  // have their own call operators). Calls forward() and reports the call to an active
  // trace (nn/summary.h).
  Tensor operator()(const Tensor& x);
  virtual Tensor forward(const Tensor& x);

  // "Conv2d", "BatchNorm2d", ... and the arguments shown after it: "3, 64, kernel_size=(7, 7)".
  const std::string& type() const { return type_; }
  virtual std::string extra_repr() const { return {}; }
  // Multiply-accumulates of one forward call that produced `output` (0 for layers that
  // do no multiplications worth counting).
  virtual int64_t macs(const Tensor& input, const Tensor& output) const;

  // Training or evaluation mode, for this module and every descendant.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  NamedTensors named_parameters() const;  // recursive, hierarchical names
  NamedTensors named_buffers() const;
  NamedTensors state_dict() const;  // parameters and buffers, torch's order
  std::vector<Tensor> parameters() const;
  // Every module of the tree with its hierarchical name, this one first (name "").
  std::vector<std::pair<std::string, Module*>> named_modules();
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  // The child registered under `name` (one level); throws if there is none.
  std::shared_ptr<Module> child(const std::string& name) const;
  // Replaces the child `name` (one level) by another module: how quant/ swaps layers.
  void replace_child(const std::string& name, std::shared_ptr<Module> module);
  // Registers a child from outside (torch's add_module): how quant/ gives a quantized
  // layer the activation quantizer it owns. Same rules as register_module.
  void add_module(const std::string& name, std::shared_ptr<Module> module) { add_child(name, std::move(module)); }

  // Copies every tensor of `state` into this module's parameter or buffer of the same
  // name. Strict, as torch's load_state_dict(strict=True): names missing from `state`,
  // names this module does not have, and shape or dtype mismatches are all reported in
  // one lowbit::Error that starts with `source` (a file name, say); nothing is copied
  // unless everything matches.
  void load_state_dict(const NamedTensors& state, const std::string& source = "state dict");
  // Sets the gradient of every parameter to zero (those that have one).
  void zero_grad();

  // A multi-line tree in torch's print(model) style.
  std::string str() const;

 protected:
  // Registers a parameter (marks it requires_grad) / a buffer / a child under `name`.
  // Names are unique within a module and contain no '.'. Returns the argument.
  Tensor register_parameter(const std::string& name, Tensor tensor);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // The same, returning a Child handle (below) for a member that the forward calls.
  template <typename M>
  Child<M> register_child(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, std::move(module));
    return Child<M>(this, children_.size() - 1);
  }

 private:
  void check_new_name(const std::string& name) const;
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  void print(std::string& out, int indent) const;

  std::string type_;
  bool training_ = true;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// A member handle on a registered child: it always reaches the module registered under
// that name NOW, so that replace_child (how quant/ swaps a Conv2d for its quantized form)
// reaches the parent's forward, as attribute lookup does in PyTorch (`self.conv1`).
// Calling it (one input, or two for an Add) runs whatever module is registered; `->` and
// `*` give it as an M and throw lowbit::Error if it was replaced by a module of another
// type. A default-constructed Child is empty (an optional layer that is absent).
template <typename M>
class Child {
 public:
  Child() = default;
  Child(Module* owner, size_t index) : owner_(owner), index_(index) {}

  Module& module() const {
    check_not_empty();
    return *owner_->children()[index_].second;
  }
  std::shared_ptr<M> ptr() const {  // null if empty or replaced by another type
    return owner_ ? std::dynamic_pointer_cast<M>(owner_->children()[index_].second) : nullptr;
  }
  M& operator*() const { return as(); }
  M* operator->() const { return &as(); }
  explicit operator bool() const { return owner_ != nullptr; }
  bool operator==(std::nullptr_t) const { return owner_ == nullptr; }

  Tensor operator()(const Tensor& x) const { return module()(x); }
  template <typename A = M>
  Tensor operator()(const Tensor& a, const Tensor& b) const {  // two-input modules (Add)
    return as()(a, b);
  }

 private:
  M& as() const {
    if (M* m = dynamic_cast<M*>(&module())) return *m;
    throw_child_type_error(owner_->children()[index_].first, module().type());
  }
  void check_not_empty() const {
    if (!owner_) throw_child_type_error("", "");
  }
  Module* owner_ = nullptr;
  size_t index_ = 0;
};

// Reports every module call while it lives (one per thread at a time): how summary()
// sees output shapes and quant::trace_graph sees which layer feeds which, without the
// layers knowing. Calls made inside a reported call are reported too, before it
// (children finish first). `inputs` are all of the call's inputs: one, two for an Add,
// all of a Concat's.
class ModuleTrace {
 public:
  using Callback = std::function<void(const Module&, std::span<const Tensor> inputs, const Tensor& output)>;
  explicit ModuleTrace(Callback callback);
  ~ModuleTrace();
  ModuleTrace(const ModuleTrace&) = delete;
  ModuleTrace& operator=(const ModuleTrace&) = delete;
  // Called by the modules' call operators.
  static void report(const Module& module, std::span<const Tensor> inputs, const Tensor& output);
  // Whether a trace is recording on this thread (fused shortcuts that skip a module's
  // call operator, such as nn::batch_norm_act, are off while one is).
  static bool active();

 private:
  Callback callback_;
  ModuleTrace* previous_;
};

// Module calls on this thread are numbered by their outermost call: every call operator
// holds a CallScope, and the one that opens when no module call is running starts a new
// number. Two calls of one quantizer with the same tensor inside one `model(x)` are then
// known to be the same question (quant/quantizer.h answers it once).
class CallScope {
 public:
  CallScope();
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
  // The number of the outermost call running now; 0 while no module call is running.
  static uint64_t outermost_call();
};

}  // namespace lowbit::nn
