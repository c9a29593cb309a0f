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

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace lowbit::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

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

// Reports every module call while it lives (one per thread at a time): how summary()
// sees output shapes without the layers knowing. Calls made inside a reported call are
// reported too, before it (children finish first).
class ModuleTrace {
 public:
  using Callback = std::function<void(const Module&, const Tensor& input, const Tensor& output)>;
  explicit ModuleTrace(Callback callback);
  ~ModuleTrace();
  ModuleTrace(const ModuleTrace&) = delete;
  ModuleTrace& operator=(const ModuleTrace&) = delete;
  // Called by the modules' call operators.
  static void report(const Module& module, const Tensor& input, const Tensor& output);
  // Whether a trace is recording on this thread (fused shortcuts that skip a module's
  // call operator, such as nn::batch_norm_act, are off while one is).
  static bool active();

 private:
  Callback callback_;
  ModuleTrace* previous_;
};

}  // namespace lowbit::nn
