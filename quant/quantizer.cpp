#include "quant/quantizer.h"

#include <array>
#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "quant/fake_quantize.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

namespace {
constexpr std::array<QuantState, 4> kStates = {QuantState::fp, QuantState::calibrate, QuantState::qat,
                                               QuantState::eval};
}  // namespace

const char* to_string(QuantState state) {
  switch (state) {
    case QuantState::fp:
      return "fp";
    case QuantState::calibrate:
      return "calibrate";
    case QuantState::qat:
      return "qat";
    case QuantState::eval:
      return "eval";
  }
  return "?";
}

QuantState parse_quant_state(std::string_view name) {
  for (QuantState s : kStates)
    if (name == to_string(s)) return s;
  throw_error(str_cat("quant state: unknown state '", name, "' (expected fp, calibrate, qat or eval)"));
}

std::string QuantizerConfig::str() const {
  const bool is_unsigned = kind == IntKind::unsigned_full;
  std::string s = str_cat(is_unsigned ? "uint" : "int", bits, " ", to_string(kind), " ", to_string(scheme));
  if (power_of_two) s += " pow2";
  s += per_channel() ? str_cat(" per_channel(axis ", ch_axis, ", ", channels, ")") : std::string(" per_tensor");
  return s;
}

void check_config(const char* who, const QuantizerConfig& c) {
  int_range(c.bits, c.kind);  // throws for bits outside 2..8 and 16
  LOWBIT_CHECK(c.ch_axis >= -1, who, ": ch_axis ", c.ch_axis, " must be -1 (per tensor) or a dimension");
  LOWBIT_CHECK(c.per_channel() ? c.channels >= 1 : c.channels == 1, who, ": channels ", c.channels,
               c.per_channel() ? " must be positive" : " must be 1 for a per-tensor quantizer");
}

Quantizer::Quantizer(std::string type, QuantizerConfig config_) : Module(std::move(type)), config(config_) {
  check_config(this->type().c_str(), config);
  state_ = register_buffer("state", scalar_tensor(static_cast<double>(QuantState::fp), DType::i64));
  pin_ = register_buffer("state_pin", scalar_tensor(-1, DType::i64));
}

QuantState Quantizer::state() const {
  const double pin = pin_.item();
  const double s = pin >= 0 ? pin : state_.item();
  LOWBIT_CHECK(s >= 0 && s < static_cast<double>(kStates.size()) && s == std::floor(s), type(),
               ": corrupt state value ", s, " (a checkpoint from another version?)");
  return kStates[static_cast<size_t>(s)];
}

void Quantizer::set_state(QuantState state) { state_.fill_(static_cast<double>(state)); }

void Quantizer::pin_state(std::optional<QuantState> state) { pin_.fill_(state ? static_cast<double>(*state) : -1.0); }

std::optional<QuantState> Quantizer::pinned_state() const {
  const double pin = pin_.item();
  if (pin < 0) return std::nullopt;
  return state();
}

Tensor Quantizer::forward(const Tensor& x) {
  // One tensor quantized for several layers (quant/prepare.h shares a quantizer among the
  // consumers of a tensor): inside one outermost model call, the same input gives the
  // output already computed, while someone still holds it. Observers see each tensor once.
  const uint64_t call = nn::CallScope::outermost_call();
  if (call != 0 && call == last_call_) {
    const std::shared_ptr<TensorImpl> in = last_input_.lock();
    if (in && in == x.weak_impl().lock())
      if (std::shared_ptr<TensorImpl> out = last_output_.lock()) return Tensor(std::move(out));
  }
  Tensor y = run_state(x);
  last_call_ = call;
  last_input_ = x.weak_impl();
  last_output_ = y.weak_impl();
  return y;
}

Tensor Quantizer::run_state(const Tensor& x) {
  switch (state()) {
    case QuantState::fp:
      return x;
    case QuantState::calibrate: {
      NoGradGuard no_grad;  // observing is never part of the graph
      pre_observe(x);
      return x;
    }
    case QuantState::qat: {
      {
        NoGradGuard no_grad;
        pre_observe(x);
      }
      Tensor y = quantize(x);
      post_observe(y);
      return y;
    }
    case QuantState::eval:
      return quantize(x);
  }
  return x;
}

void Quantizer::pre_observe(const Tensor&) {}
void Quantizer::post_observe(const Tensor& y) {
  for (const auto& hook : post_observe_hooks_) hook(y);
}

void Quantizer::record_clipping(const Tensor& x) {
  if (!collect_stats_) return;
  ++calls_;
  // The STE mask itself: the gradient of sum(fake_quantize(x)) with respect to x is 1
  // exactly where the clamp left the code alone (QUANT_NUMERICS §3.2), from the same kernel.
  const PerChannelQParams q = qparams();
  const QRange r = config.range();
  Tensor probe = detach(x).contiguous();
  set_requires_grad(probe);
  Tensor y;
  {
    struct EnableGrad {  // the probe's little graph is recorded even under NoGradGuard
      bool previous = GradMode::is_enabled();
      EnableGrad() { GradMode::set_enabled(true); }
      ~EnableGrad() { GradMode::set_enabled(previous); }
    } enable;
    if (config.per_channel()) {
      const Tensor s = from_vector<float>(q.scale), z = from_vector<int64_t>(q.zero_point);
      y = fake_quantize_per_channel_affine(probe, s, z, config.ch_axis, r.qmin, r.qmax, config.policy);
    } else {
      y = fake_quantize_per_tensor_affine(probe, q.scale[0], q.zero_point[0], r.qmin, r.qmax, config.policy);
    }
    backward(sum(y));
  }
  const double inside = raw::sum(raw::abs(grad(probe).to(DType::f64))).item();
  const auto n = static_cast<double>(x.numel());
  clip_fraction_ = n > 0 ? 1.0 - inside / n : 0.0;
  // (calls_ was counted above)
}

void Quantizer::set_clip_fraction(double fraction) {
  ++calls_;
  clip_fraction_ = fraction;
}

QuantizerStats Quantizer::stats() const {
  QuantizerStats s;
  s.calls = calls_;
  s.clip_fraction = clip_fraction_;
  const PerChannelQParams q = qparams();
  s.scale = q.scale;
  s.zero_point = q.zero_point;
  output_range(s.range_min, s.range_max);
  s.grad_scale = grad_scale();
  return s;
}

void Quantizer::output_range(std::vector<float>& lo, std::vector<float>& hi) const {
  const PerChannelQParams q = qparams();
  const QRange r = config.range();
  lo.clear();
  hi.clear();
  for (size_t c = 0; c < q.scale.size(); ++c) {
    lo.push_back(static_cast<float>(r.qmin - q.zero_point[c]) * q.scale[c]);
    hi.push_back(static_cast<float>(r.qmax - q.zero_point[c]) * q.scale[c]);
  }
}

std::string Quantizer::extra_repr() const {
  std::string s = str_cat(config.str(), ", state=", to_string(state()));
  if (pinned_state()) s += " (pinned)";
  const PerChannelQParams q = qparams();
  if (q.scale.size() == 1) {
    s += str_cat(", scale=", q.scale[0], ", zero_point=", q.zero_point[0]);
  } else if (!q.scale.empty()) {
    float lo = q.scale[0], hi = q.scale[0];
    for (float v : q.scale) lo = std::min(lo, v), hi = std::max(hi, v);
    s += str_cat(", scale=[", lo, " .. ", hi, "] over ", q.scale.size(), " channels");
  }
  return s;
}

}  // namespace lowbit::quant
