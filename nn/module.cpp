#include "nn/module.h"

#include <algorithm>
#include <map>
#include <set>

#include "autograd/grad_mode.h"
#include "autograd/variable.h"
#include "tensor/error.h"

namespace lowbit::nn {

namespace {
thread_local ModuleTrace* active_trace = nullptr;
thread_local int call_depth = 0;
thread_local uint64_t outermost_call_number = 0;
}  // namespace

CallScope::CallScope() {
  if (call_depth++ == 0) ++outermost_call_number;
}
CallScope::~CallScope() { --call_depth; }
uint64_t CallScope::outermost_call() { return call_depth > 0 ? outermost_call_number : 0; }

ModuleTrace::ModuleTrace(Callback callback) : callback_(std::move(callback)), previous_(active_trace) {
  active_trace = this;
}
ModuleTrace::~ModuleTrace() { active_trace = previous_; }
void ModuleTrace::report(const Module& module, std::span<const Tensor> inputs, const Tensor& output) {
  if (active_trace) active_trace->callback_(module, inputs, output);
}

void throw_child_type_error(const std::string& name, const std::string& type) {
  if (name.empty()) throw_error("nn::Child: the member is empty (the optional layer is absent)");
  throw_error(str_cat("nn::Child: child '", name, "' is now a ", type,
                      ", not the type its member expects (call it, or replace it by a subclass)"));
}

bool ModuleTrace::active() { return active_trace != nullptr; }

Tensor Module::operator()(const Tensor& x) {
  CallScope scope;
  Tensor y = forward(x);
  ModuleTrace::report(*this, std::span<const Tensor>(&x, 1), y);
  return y;
}

Tensor Module::forward(const Tensor&) {
  throw_error(str_cat(type_, ": this module has no one-input forward (call it with its own arguments)"));
}

int64_t Module::macs(const Tensor&, const Tensor&) const { return 0; }

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::check_new_name(const std::string& name) const {
  LOWBIT_CHECK(!name.empty() && name.find('.') == std::string::npos, type_, ": invalid name '", name,
               "' (names are non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& entry) { return entry.first == name; });
  };
  LOWBIT_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_, ": the name '", name,
               "' is already registered");
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor) {
  check_new_name(name);
  LOWBIT_CHECK(tensor.defined(), type_, ": parameter '", name, "' is undefined");
  set_requires_grad(tensor);
  params_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name);
  LOWBIT_CHECK(tensor.defined(), type_, ": buffer '", name, "' is undefined");
  buffers_.emplace_back(name, tensor);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  LOWBIT_CHECK(module != nullptr, type_, ": child '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  throw_error(str_cat(type_, ": no child named '", name, "'"));
}

void Module::replace_child(const std::string& name, std::shared_ptr<Module> module) {
  LOWBIT_CHECK(module != nullptr, type_, ": replacement for child '", name, "' is null");
  for (auto& [n, m] : children_) {
    if (n == name) {
      m = std::move(module);
      return;
    }
  }
  throw_error(str_cat(type_, ": no child named '", name, "' to replace"));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  if (params)
    for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
  if (buffers)
    for (const auto& [name, t] : buffers_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", params, buffers, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, false, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, true, out);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect("", true, true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

void Module::load_state_dict(const NamedTensors& state, const std::string& source) {
  const NamedTensors mine = state_dict();
  std::map<std::string, const Tensor*> given;
  std::vector<std::string> problems;
  for (const auto& [name, t] : state)
    if (!given.emplace(name, &t).second) problems.push_back(str_cat("duplicate entry '", name, "'"));
  std::set<std::string> known;
  for (const auto& [name, t] : mine) {
    known.insert(name);
    const auto it = given.find(name);
    if (it == given.end()) {
      problems.push_back(str_cat("missing '", name, "'"));
      continue;
    }
    const Tensor& src = *it->second;
    if (!src.defined() || src.sizes() != t.sizes() || src.dtype() != t.dtype())
      problems.push_back(str_cat("'", name, "' is ",
                                 src.defined() ? str_cat(dtype_name(src.dtype()), shape_str(src.sizes())) : "undefined",
                                 " but the model has ", dtype_name(t.dtype()), shape_str(t.sizes())));
  }
  for (const auto& [name, t] : state)
    if (!known.count(name)) problems.push_back(str_cat("unexpected '", name, "'"));
  if (!problems.empty()) {
    std::string message = str_cat(source, ": does not match the ", type_, " (", problems.size(), " problem",
                                  problems.size() == 1 ? "" : "s", "):");
    for (const auto& p : problems) message += "\n  " + p;
    throw_error(message);
  }
  NoGradGuard no_grad;
  for (const auto& [name, t] : mine) {
    Tensor dst = t;
    dst.copy_(*given.at(name));
    dst.bump_version();
  }
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) {
    Tensor p = t;
    lowbit::zero_grad(p);
  }
}

void Module::print(std::string& out, int indent) const {
  out += type_ + "(" + extra_repr();
  if (children_.empty()) {
    out += ")";
    return;
  }
  out += "\n";
  for (const auto& [name, child] : children_) {
    out += std::string(static_cast<size_t>(indent + 2), ' ') + "(" + name + "): ";
    child->print(out, indent + 2);
    out += "\n";
  }
  out += std::string(static_cast<size_t>(indent), ' ') + ")";
}

std::string Module::str() const {
  std::string out;
  print(out, 0);
  return out;
}

}  // namespace lowbit::nn
