// Optimizer bookkeeping (groups, skipping, state save/load) and the SGD / AdamW updates.
// The arithmetic of an update is in tensor/kernels/optim_step.h; here are only the double
// scalars torch's Python code computes before calling its ATen ops.
#include "nn/optim.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "autograd/variable.h"
#include "tensor/kernels/optim_step.h"

namespace lowbit::nn {
namespace {

std::string group_prefix(int64_t g) { return str_cat("param_groups.", g, "."); }
std::string param_prefix(int64_t g, int64_t i) { return str_cat("param_groups.", g, ".params.", i, "."); }

// "a, b, c" of at most 5 names, then how many more.
std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (size_t k = 0; k < names.size() && k < 5; ++k) out += (k ? ", '" : "'") + names[k] + "'";
  if (names.size() > 5) out += str_cat(" and ", names.size() - 5, " more");
  return out;
}

template <typename Group>
std::vector<std::vector<Tensor>> params_of(const std::vector<Group>& groups) {
  std::vector<std::vector<Tensor>> out;
  for (const Group& g : groups) out.push_back(g.params);
  return out;
}
template <typename Group>
std::vector<double> lrs_of(const std::vector<Group>& groups) {
  std::vector<double> out;
  for (const Group& g : groups) out.push_back(g.options.lr);
  return out;
}
template <typename Group>
auto options_of(const std::vector<Group>& groups) {
  std::vector<decltype(groups[0].options)> out;
  for (const Group& g : groups) out.push_back(g.options);
  return out;
}

// `x >= 0` that is false for NaN.
bool non_negative(double x) { return x >= 0; }

}  // namespace

// ---- Optimizer ----

Optimizer::Optimizer(std::string name, std::vector<std::vector<Tensor>> groups, const std::vector<double>& lrs)
    : name_(std::move(name)) {
  int64_t total = 0;
  std::map<std::tuple<const Storage*, int64_t>, std::pair<int64_t, int64_t>> seen;  // (storage, offset) -> (g, i)
  for (size_t g = 0; g < groups.size(); ++g) {
    LOWBIT_CHECK(non_negative(lrs[g]), name_, ": invalid learning rate ", lrs[g], " for group ", g, "; lr must be >= 0",
                 std::isnan(lrs[g]) && name_ == "SGD" ? " (SgdOptions::lr has no default: set it)" : "");
    for (size_t i = 0; i < groups[g].size(); ++i) {
      const Tensor& p = groups[g][i];
      const std::string which = str_cat("parameter ", i, " of group ", g);
      LOWBIT_CHECK(p.defined(), name_, ": ", which, " is an undefined tensor");
      LOWBIT_CHECK(is_floating(p.dtype()), name_, ": ", which, " is ", describe(p),
                   "; only f32/f64 tensors can be optimized");
      LOWBIT_CHECK(is_leaf(p), name_, ": ", which, " (", describe(p),
                   ") is not a leaf; optimize the leaf it was computed from");
      LOWBIT_CHECK(p.is_contiguous(), name_, ": ", which, " (", describe(p),
                   ") is not contiguous; the update runs in place on contiguous storage");
      const auto key = std::make_tuple(p.storage().get(), p.offset());
      const auto [it, fresh] = seen.emplace(key, std::make_pair(int64_t(g), int64_t(i)));
      LOWBIT_CHECK(fresh, name_, ": ", which, " (", describe(p), ") is also parameter ", it->second.second,
                   " of group ", it->second.first, "; a tensor may appear only once in an optimizer");
      ++total;
    }
    Group group;
    group.params = std::move(groups[g]);
    group.lr = group.initial_lr = lrs[g];
    group.state.resize(group.params.size());
    groups_.push_back(std::move(group));
  }
  LOWBIT_CHECK(total > 0, name_, ": got an empty parameter list");
}

void Optimizer::check_group(int64_t group) const {
  LOWBIT_CHECK(group >= 0 && group < num_groups(), name_, ": group ", group, " out of range (", num_groups(),
               " groups)");
}

const std::vector<Tensor>& Optimizer::params(int64_t group) const {
  check_group(group);
  return groups_[group].params;
}
double Optimizer::lr(int64_t group) const {
  check_group(group);
  return groups_[group].lr;
}
double Optimizer::initial_lr(int64_t group) const {
  check_group(group);
  return groups_[group].initial_lr;
}
void Optimizer::set_lr(double lr) {
  for (int64_t g = 0; g < num_groups(); ++g) set_lr(g, lr);
}
void Optimizer::set_lr(int64_t group, double lr) {
  check_group(group);
  LOWBIT_CHECK(non_negative(lr), name_, ".set_lr: invalid learning rate ", lr, " for group ", group,
               "; lr must be >= 0");
  groups_[group].lr = lr;
}
int64_t Optimizer::step_count(int64_t group, int64_t index) const {
  check_group(group);
  const Group& G = groups_[group];
  LOWBIT_CHECK(index >= 0 && index < static_cast<int64_t>(G.params.size()), name_, ": parameter ", index,
               " out of range (group ", group, " has ", G.params.size(), ")");
  return G.state[index].step;
}

void Optimizer::step() {
  for (int64_t g = 0; g < num_groups(); ++g) {
    Group& G = groups_[g];
    const std::vector<std::string> slots = slot_names(g);
    for (size_t i = 0; i < G.params.size(); ++i) {
      const Tensor& p = G.params[i];
      Tensor d = grad(p);
      if (!d.defined()) continue;  // torch: `if p.grad is None: continue`
      LOWBIT_CHECK(d.sizes() == p.sizes() && d.dtype() == p.dtype() && d.device() == p.device(), name_,
                   ".step: the gradient of parameter ", i, " of group ", g, " is ", describe(d),
                   " but the parameter is ", describe(p));
      d = d.contiguous();
      ParamState& st = G.state[i];
      if (st.slots.empty())
        for (size_t k = 0; k < slots.size(); ++k) st.slots.push_back(zeros(p.sizes(), p.dtype(), p.device()));
      update(g, G.lr, p, d, st.step + 1, st.slots);
      ++st.step;
      p.bump_version();
    }
  }
}

void Optimizer::zero_grad(bool set_to_none) {
  for (Group& G : groups_) {
    for (Tensor& p : G.params) {
      if (!set_to_none) {
        lowbit::zero_grad(p);
      } else if (p.impl().autograd) {
        p.impl().autograd->grad = Tensor();
      }
    }
  }
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  for (int64_t g = 0; g < num_groups(); ++g) {
    const Group& G = groups_[g];
    const std::string gp = group_prefix(g);
    out.emplace_back(gp + "lr", scalar_tensor(G.lr, DType::f64));
    out.emplace_back(gp + "initial_lr", scalar_tensor(G.initial_lr, DType::f64));
    for (const HyperParameter& h : hyper_parameters(g))
      out.emplace_back(gp + h.name, scalar_tensor(h.value, h.is_flag ? DType::i64 : DType::f64));
    const std::vector<std::string> slots = slot_names(g);
    for (size_t i = 0; i < G.params.size(); ++i) {
      const ParamState& st = G.state[i];
      const std::string pp = param_prefix(g, static_cast<int64_t>(i));
      out.emplace_back(pp + "step", scalar_tensor(static_cast<double>(st.step), DType::i64));
      if (st.step == 0) continue;
      for (size_t k = 0; k < slots.size(); ++k) out.emplace_back(pp + slots[k], st.slots[k].clone());
    }
  }
  return out;
}

void Optimizer::load_state(const NamedTensors& state) {
  const std::string op = name_ + ".load_state";
  std::map<std::string, Tensor> entries;
  for (const auto& [name, t] : state) {
    LOWBIT_CHECK(t.defined(), op, ": entry '", name, "' is an undefined tensor");
    LOWBIT_CHECK(entries.emplace(name, t).second, op, ": entry '", name, "' appears twice");
  }
  std::set<std::string> used;
  std::vector<std::string> missing;
  auto find = [&](const std::string& name) -> const Tensor* {
    const auto it = entries.find(name);
    if (it == entries.end()) {
      missing.push_back(name);
      return nullptr;
    }
    used.insert(name);
    return &it->second;
  };
  // Value problems are noted (the first one is reported) and raised only after the
  // missing and unexpected names, which say more when the state is not this optimizer's.
  std::string problem;
  auto note = [&](bool ok, auto&&... parts) {
    if (!ok && problem.empty()) problem = str_cat(op, ": ", parts...);
    return ok;
  };
  auto scalar = [&](const std::string& name, const Tensor* t, DType dtype) -> std::optional<double> {
    if (!t || !note(t->dim() == 0 && t->dtype() == dtype, "'", name, "' should be a 0-d ", dtype_name(dtype),
                    " tensor, got ", describe(*t)))
      return std::nullopt;
    return t->item();
  };

  // First pass: find every entry this optimizer expects and check it, changing nothing.
  struct Pending {
    double lr = 0, initial_lr = 0;
    std::vector<int64_t> steps;
    std::vector<std::vector<Tensor>> slots;
  };
  std::vector<Pending> pending(groups_.size());
  for (int64_t g = 0; g < num_groups(); ++g) {
    const Group& G = groups_[g];
    const std::string gp = group_prefix(g);
    Pending& P = pending[g];
    P.lr = scalar(gp + "lr", find(gp + "lr"), DType::f64).value_or(0);
    P.initial_lr = scalar(gp + "initial_lr", find(gp + "initial_lr"), DType::f64).value_or(0);
    note(non_negative(P.lr) && non_negative(P.initial_lr), "learning rates of group ", g, " must be >= 0, got lr ",
         P.lr, ", initial_lr ", P.initial_lr);
    for (const HyperParameter& h : hyper_parameters(g)) {
      const std::string name = gp + h.name;
      if (const auto saved = scalar(name, find(name), h.is_flag ? DType::i64 : DType::f64))
        note(*saved == h.value, "'", name, "' is ", *saved, " in the state but ", h.value,
             " in this optimizer; build it with the hyper-parameters the state was saved with");
    }
    const std::vector<std::string> slot_list = slot_names(g);
    P.steps.assign(G.params.size(), 0);
    P.slots.assign(G.params.size(), {});
    for (size_t i = 0; i < G.params.size(); ++i) {
      const Tensor& p = G.params[i];
      const std::string pp = param_prefix(g, static_cast<int64_t>(i));
      const auto step = scalar(pp + "step", find(pp + "step"), DType::i64);
      if (!step || !note(*step >= 0, "'", pp, "step' is ", *step, "; a step count is >= 0")) {
        for (const std::string& slot : slot_list) used.insert(pp + slot);  // reported above, not as unexpected
        continue;
      }
      P.steps[i] = static_cast<int64_t>(*step);
      if (P.steps[i] == 0) continue;  // no slots before the first update
      for (const std::string& slot : slot_list) {
        const Tensor* s = find(pp + slot);
        if (s && note(s->sizes() == p.sizes() && s->dtype() == p.dtype(), "'", pp + slot, "' is ", describe(*s),
                      " but parameter ", i, " of group ", g, " is ", describe(p)))
          P.slots[i].push_back(s->device() == p.device() ? s->clone() : s->to(p.device()).contiguous());
      }
    }
  }
  LOWBIT_CHECK(missing.empty(), op, ": the state lacks ", missing.size(), " entr", missing.size() == 1 ? "y" : "ies",
               " this ", name_, " needs: ", name_list(missing),
               " (is it the state of another optimizer, or of different parameter groups?)");
  std::vector<std::string> unexpected;
  for (const auto& entry : entries)
    if (!used.count(entry.first)) unexpected.push_back(entry.first);
  LOWBIT_CHECK(unexpected.empty(), op, ": unexpected entr", unexpected.size() == 1 ? "y " : "ies ",
               name_list(unexpected), " (is it the state of another optimizer, or of different parameter groups?)");
  LOWBIT_CHECK(problem.empty(), problem);

  // Second pass: everything is valid; install it.
  for (int64_t g = 0; g < num_groups(); ++g) {
    Group& G = groups_[g];
    G.lr = pending[g].lr;
    G.initial_lr = pending[g].initial_lr;
    for (size_t i = 0; i < G.params.size(); ++i) {
      G.state[i].step = pending[g].steps[i];
      G.state[i].slots = std::move(pending[g].slots[i]);
    }
  }
}

// ---- SGD ----

SGD::SGD(std::vector<Tensor> params, const SgdOptions& options)
    : SGD(std::vector<SgdGroup>{{std::move(params), options}}) {}

SGD::SGD(std::vector<SgdGroup> groups)
    : Optimizer("SGD", params_of(groups), lrs_of(groups)), options_(options_of(groups)) {
  for (size_t g = 0; g < options_.size(); ++g) {
    const SgdOptions& o = options_[g];
    LOWBIT_CHECK(non_negative(o.momentum), "SGD: invalid momentum ", o.momentum, " for group ", g, "; must be >= 0");
    LOWBIT_CHECK(non_negative(o.weight_decay), "SGD: invalid weight_decay ", o.weight_decay, " for group ", g,
                 "; must be >= 0");
    LOWBIT_CHECK(std::isfinite(o.dampening), "SGD: invalid dampening ", o.dampening, " for group ", g);
    LOWBIT_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
                 "SGD: Nesterov momentum requires a momentum > 0 "
                 "and zero dampening (group ",
                 g, ": momentum ", o.momentum, ", dampening ", o.dampening, ")");
  }
}

SgdOptions SGD::options(int64_t group) const {
  check_group(group);
  SgdOptions o = options_[group];
  o.lr = lr(group);
  return o;
}

std::vector<std::string> SGD::slot_names(int64_t group) const {
  if (options_[group].momentum == 0) return {};
  return {"momentum_buffer"};
}

std::vector<Optimizer::HyperParameter> SGD::hyper_parameters(int64_t group) const {
  const SgdOptions& o = options_[group];
  return {{"momentum", o.momentum, false},
          {"dampening", o.dampening, false},
          {"weight_decay", o.weight_decay, false},
          {"nesterov", double(o.nesterov), true},
          {"maximize", double(o.maximize), true}};
}

void SGD::update(int64_t group, double lr, const Tensor& param, const Tensor& grad, int64_t step,
                 std::vector<Tensor>& slots) {
  const SgdOptions& o = options_[group];
  SgdStepParams p;
  p.dtype = param.dtype();
  p.numel = param.numel();
  p.lr = lr;
  p.momentum = o.momentum;
  p.dampening = o.dampening;
  p.weight_decay = o.weight_decay;
  p.nesterov = o.nesterov;
  p.maximize = o.maximize;
  p.first_step = step == 1;  // torch: buf = torch.clone(d_p).detach()
  sgd_step(param.device(), p, param.data_ptr(), grad.data_ptr(), slots.empty() ? nullptr : slots[0].data_ptr());
}

// ---- AdamW ----

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : AdamW(std::vector<AdamWGroup>{{std::move(params), options}}) {}

AdamW::AdamW(std::vector<AdamWGroup> groups)
    : Optimizer("AdamW", params_of(groups), lrs_of(groups)), options_(options_of(groups)) {
  for (size_t g = 0; g < options_.size(); ++g) {
    const AdamWOptions& o = options_[g];
    LOWBIT_CHECK(non_negative(o.eps), "AdamW: invalid eps ", o.eps, " for group ", g, "; must be >= 0");
    LOWBIT_CHECK(non_negative(o.beta1) && o.beta1 < 1, "AdamW: invalid beta1 ", o.beta1, " for group ", g,
                 "; must be in [0, 1)");
    LOWBIT_CHECK(non_negative(o.beta2) && o.beta2 < 1, "AdamW: invalid beta2 ", o.beta2, " for group ", g,
                 "; must be in [0, 1)");
    LOWBIT_CHECK(non_negative(o.weight_decay), "AdamW: invalid weight_decay ", o.weight_decay, " for group ", g,
                 "; must be >= 0");
  }
}

AdamWOptions AdamW::options(int64_t group) const {
  check_group(group);
  AdamWOptions o = options_[group];
  o.lr = lr(group);
  return o;
}

std::vector<std::string> AdamW::slot_names(int64_t group) const {
  if (options_[group].amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

std::vector<Optimizer::HyperParameter> AdamW::hyper_parameters(int64_t group) const {
  const AdamWOptions& o = options_[group];
  return {{"beta1", o.beta1, false},
          {"beta2", o.beta2, false},
          {"eps", o.eps, false},
          {"weight_decay", o.weight_decay, false},
          {"amsgrad", double(o.amsgrad), true},
          {"maximize", double(o.maximize), true}};
}

void AdamW::update(int64_t group, double lr, const Tensor& param, const Tensor& grad, int64_t step,
                   std::vector<Tensor>& slots) {
  const AdamWOptions& o = options_[group];
  // torch/optim/adamw.py, _single_tensor_adamw (capturable=False), in Python floats:
  //   bias_correction1 = 1 - beta1 ** step;  bias_correction2 = 1 - beta2 ** step
  //   step_size = lr / bias_correction1;     bias_correction2_sqrt = math.sqrt(bias_correction2)
  // (`**` is the C library's pow, as std::pow here; step is exact in a double.)
  const double t = static_cast<double>(step);
  const double bias_correction1 = 1 - std::pow(o.beta1, t);
  const double bias_correction2 = 1 - std::pow(o.beta2, t);
  AdamWStepParams p;
  p.dtype = param.dtype();
  p.numel = param.numel();
  p.decay = 1 - lr * o.weight_decay;  // param.mul_(1 - lr * weight_decay)
  p.beta1 = o.beta1;
  p.beta2 = o.beta2;
  p.bias_correction2_sqrt = std::sqrt(bias_correction2);
  p.eps = o.eps;
  p.neg_step_size = -(lr / bias_correction1);  // addcdiv_(value=-step_size)
  p.amsgrad = o.amsgrad;
  p.maximize = o.maximize;
  adamw_step(param.device(), p, param.data_ptr(), grad.data_ptr(), slots[0].data_ptr(), slots[1].data_ptr(),
             o.amsgrad ? slots[2].data_ptr() : nullptr);
}

}  // namespace lowbit::nn
