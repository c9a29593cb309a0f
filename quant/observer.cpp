// The observer base (QUANT_NUMERICS §4): argument checks, the non-finite policy, the
// per-batch min/max every observer starts from, the range buffers and their running and
// EMA updates, (s, z) through QUANT_NUMERICS §2, and the factory.
#include "quant/observer.h"

#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "quant/observer_kl.h"
#include "quant/observer_minmax.h"
#include "quant/observer_mse.h"
#include "quant/observer_percentile.h"
#include "quant/observer_stats.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

std::vector<float> read_floats(const Tensor& t) { return t.to_vector<float>(); }

void write_floats(const Tensor& t, const std::vector<float>& values) {
  LOWBIT_CHECK(t.dtype() == DType::f32 && t.is_contiguous() && t.numel() == static_cast<int64_t>(values.size()),
               "write_floats: ", values.size(), " values for ", describe(t));
  std::copy(values.begin(), values.end(), t.data<float>());
  t.bump_version();
}

Observer::Observer(std::string type_name, ObserverOptions options_) : Module(std::move(type_name)), options(options_) {
  const std::string& name = type();
  LOWBIT_CHECK(options.ch_axis >= kPerTensor, name, ": ch_axis must be -1 (per tensor) or a dim index >= 0, got ",
               options.ch_axis, " (negative axes are not counted from the end: -1 means per tensor)");
  if (per_channel())
    LOWBIT_CHECK(options.num_channels > 0, name, ": per-channel observation (ch_axis ", options.ch_axis,
                 ") needs num_channels > 0 (the size of that dim), got ", options.num_channels);
  else
    LOWBIT_CHECK(options.num_channels <= 1, name, ": num_channels ", options.num_channels,
                 " given for a per-tensor observer (ch_axis -1); set ch_axis for per-channel observation");
  LOWBIT_CHECK(options.range.qmin < options.range.qmax, name, ": empty integer range [", options.range.qmin, ", ",
               options.range.qmax, "]");
  LOWBIT_CHECK(options.averaging_constant > 0 && options.averaging_constant <= 1, name,
               ": averaging_constant must be in (0, 1], got ", options.averaging_constant);
  num_batches = register_buffer("num_batches", zeros({}, DType::i64));
}

void Observer::register_range_buffers() {
  min_val = register_buffer("min_val", full({channels()}, std::numeric_limits<double>::infinity()));
  max_val = register_buffer("max_val", full({channels()}, -std::numeric_limits<double>::infinity()));
}

int64_t Observer::batches_observed() const { return static_cast<int64_t>(num_batches.item()); }

void Observer::reset() {
  num_batches.fill_(0);
  num_batches.bump_version();
  if (min_val.defined()) {
    min_val.fill_(std::numeric_limits<double>::infinity());
    max_val.fill_(-std::numeric_limits<double>::infinity());
    min_val.bump_version();
    max_val.bump_version();
  }
}

namespace {

int64_t count_non_finite(const Tensor& x) {
  int64_t bad = 0;
  for (double v : x.to_vector<double>()) bad += std::isfinite(v) ? 0 : 1;
  return bad;
}

}  // namespace

void Observer::observe(const Tensor& input) {
  const std::string& name = type();
  LOWBIT_CHECK(input.defined(), name, ": cannot observe an undefined tensor");
  LOWBIT_CHECK(input.dtype() == DType::f32 || input.dtype() == DType::f64, name,
               ": expected an f32 or f64 tensor, got ", describe(input));
  LOWBIT_CHECK(input.numel() > 0, name, ": cannot observe an empty tensor ", describe(input));
  Batch b;
  b.ch_axis = options.ch_axis;
  if (per_channel()) {
    LOWBIT_CHECK(options.ch_axis < input.dim(), name, ": ch_axis ", options.ch_axis, " is out of range for input ",
                 describe(input), " (expected -1 for per tensor, or 0..", input.dim() - 1, ")");
    LOWBIT_CHECK(input.size(options.ch_axis) == options.num_channels, name, ": input ", describe(input), " has ",
                 input.size(options.ch_axis), " channels along dim ", options.ch_axis,
                 " but the observer was built for ", options.num_channels);
  }
  NoGradGuard no_grad;
  b.x = input.device().is_cpu() ? input : input.cpu();
  if (per_channel()) {
    // A trailing dim of size 1 makes the list of reduced dims non-empty even for 1-D x
    // (an empty list would mean "all dims" to the reductions).
    b.x = b.x.unsqueeze(b.x.dim());
    for (int64_t d = 0; d < b.x.dim(); ++d)
      if (d != options.ch_axis) b.dims.push_back(d);
  }
  // One min/max pass: every observer needs the batch range, and the reduction propagates
  // NaN and keeps +-Inf, so a finite result proves that every value is finite.
  auto [lo, hi] = raw::aminmax(b.x, b.dims);
  const std::vector<double> mn = lo.to_vector<double>(), mx = hi.to_vector<double>();
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  for (size_t c = 0; c < mn.size(); ++c) {
    if (!std::isfinite(mn[c]) || !std::isfinite(mx[c])) {
      const int64_t bad = count_non_finite(b.x);
      throw_error(str_cat(name, ": input ", describe(input), " has ", bad, " non-finite value", bad == 1 ? "" : "s",
                          " (NaN or Inf) among ", input.numel(), "; observers refuse them, a NaN range would give NaN ",
                          "scales (QUANT_NUMERICS §4)"));
    }
    LOWBIT_CHECK(mn[c] >= -kFloatMax && mx[c] <= kFloatMax, name, ": input ", describe(input),
                 " has values beyond the float32 range (min ", mn[c], ", max ", mx[c],
                 "); ranges and scales are float32 (QUANT_NUMERICS §2)");
    b.min.push_back(static_cast<float>(mn[c]));
    b.max.push_back(static_cast<float>(mx[c]));
  }
  observe_batch(b);
  num_batches.fill_(static_cast<double>(batches_observed() + 1));
  num_batches.bump_version();
}

Tensor Observer::forward(const Tensor& x) {
  observe(x);
  return x;
}

Tensor Observer::Batch::rows() const {
  const int64_t c = ch_axis == kPerTensor ? 1 : x.size(ch_axis);
  // Moving the channel dim first keeps every channel's elements in one row; the order
  // inside a row does not matter to any observer (ranks, sums, histograms).
  const Tensor moved = ch_axis == kPerTensor ? x : x.transpose(0, ch_axis);
  return moved.contiguous().reshape({c, -1}).to(DType::f32).contiguous();
}

void Observer::update_running(const std::vector<float>& min, const std::vector<float>& max) {
  std::vector<float> lo = read_floats(min_val), hi = read_floats(max_val);
  for (size_t c = 0; c < lo.size(); ++c) {
    lo[c] = std::min(lo[c], min[c]);
    hi[c] = std::max(hi[c], max[c]);
  }
  write_floats(min_val, lo);
  write_floats(max_val, hi);
}

void Observer::update_ema(const std::vector<float>& min, const std::vector<float>& max) {
  if (!has_observed()) {
    write_floats(min_val, min);
    write_floats(max_val, max);
    return;
  }
  const double m = options.averaging_constant;
  std::vector<float> lo = read_floats(min_val), hi = read_floats(max_val);
  for (size_t c = 0; c < lo.size(); ++c) {  // QUANT_NUMERICS §4: r <- (1 - m) r + m r_batch
    lo[c] = static_cast<float>((1 - m) * static_cast<double>(lo[c]) + m * static_cast<double>(min[c]));
    hi[c] = static_cast<float>((1 - m) * static_cast<double>(hi[c]) + m * static_cast<double>(max[c]));
  }
  write_floats(min_val, lo);
  write_floats(max_val, hi);
}

void Observer::check_observed(const char* what) const {
  LOWBIT_CHECK(has_observed(), type(), ": ", what, " before any batch was observed (call observe(x) first)");
}

ObserverRange Observer::stored_range() const { return {read_floats(min_val), read_floats(max_val)}; }

ObserverRange Observer::range() const {
  check_observed("range()");
  return stored_range();
}

PerChannelQParams Observer::qparams() const {
  check_observed("qparams()");
  const ObserverRange r = range();
  try {
    return choose_qparams_per_channel(r.min, r.max, options.range, options.scheme, options.power_of_two);
  } catch (const Error& e) {
    throw Error(str_cat(type(), ": ", e.what()));
  }
}

std::string Observer::extra_repr() const {
  return str_cat("ch_axis=", options.ch_axis, per_channel() ? str_cat(", num_channels=", options.num_channels) : "",
                 ", range=[", options.range.qmin, ", ", options.range.qmax, "], scheme=", to_string(options.scheme),
                 options.power_of_two ? ", power_of_two=True" : "");
}

// ---- factory ----

const std::vector<std::string>& observer_names() {
  static const std::vector<std::string> names = {"minmax", "ema_minmax", "percentile", "mse", "kl", "norm", "meanstd"};
  return names;
}

std::shared_ptr<Observer> make_observer(std::string_view name, const ObserverOptions& options) {
  if (name == "minmax") return std::make_shared<MinMaxObserver>(options);
  if (name == "ema_minmax") return std::make_shared<EmaMinMaxObserver>(options);
  if (name == "percentile") return std::make_shared<PercentileObserver>(options);
  if (name == "mse") return std::make_shared<MseObserver>(options);
  if (name == "kl") return std::make_shared<KlObserver>(options);
  if (name == "norm") return std::make_shared<NormObserver>(options);
  if (name == "meanstd") return std::make_shared<MeanStdObserver>(options);
  std::string valid;
  for (const std::string& n : observer_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw_error(str_cat("make_observer: unknown observer '", name, "' (valid: ", valid, ")"));
}

}  // namespace lowbit::quant
