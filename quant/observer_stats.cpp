// Norm (LSQ init) and MeanStd observers, QUANT_NUMERICS §4, as described in observer_stats.h.
#include "quant/observer_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

NormObserver::NormObserver(ObserverOptions options) : Observer("NormObserver", options) {
  LOWBIT_CHECK(options.scheme == QScheme::symmetric, "NormObserver: LSQ's initialisation gives a scale with zero ",
               "point 0, so the scheme must be symmetric, got ", to_string(options.scheme));
  LOWBIT_CHECK(options.range.qmax > 0, "NormObserver: qmax must be positive (s = 2 mean|x| / sqrt(qmax)), got ",
               options.range.qmax);
  scale = register_buffer("scale", zeros({channels()}));
}

void NormObserver::observe_batch(const Batch& batch) {
  const std::vector<double> mean_abs = raw::mean(raw::abs(batch.x), batch.dims).to_vector<double>();
  const double root_qmax = std::sqrt(static_cast<double>(options.range.qmax));
  std::vector<float> s = has_observed() ? read_floats(scale) : std::vector<float>(mean_abs.size(), 0.0f);
  const double m = options.averaging_constant;
  for (size_t c = 0; c < s.size(); ++c) {
    const double batch_scale = 2 * mean_abs[c] / root_qmax;  // LSQ: 2 <|x|> / sqrt(Q_P)
    s[c] = static_cast<float>(has_observed() ? (1 - m) * static_cast<double>(s[c]) + m * batch_scale : batch_scale);
  }
  write_floats(scale, s);
}

PerChannelQParams NormObserver::qparams() const {
  check_observed("qparams()");
  PerChannelQParams q;
  for (float s : read_floats(scale)) {
    s = std::max(s, kScaleEps);  // §2's floor: an all-zero input still gives a valid scale
    q.scale.push_back(options.power_of_two ? power_of_two_scale(s) : s);
    q.zero_point.push_back(0);
  }
  return q;
}

ObserverRange NormObserver::range() const {
  ObserverRange r;
  for (float s : qparams().scale) {
    r.min.push_back(s * static_cast<float>(options.range.qmin));
    r.max.push_back(s * static_cast<float>(options.range.qmax));
  }
  return r;
}

void NormObserver::reset() {
  Observer::reset();
  scale.fill_(0);
  scale.bump_version();
}

std::string NormObserver::extra_repr() const {
  return str_cat(Observer::extra_repr(), ", averaging_constant=", options.averaging_constant);
}

MeanStdObserver::MeanStdObserver(ObserverOptions options, MeanStdOptions meanstd_)
    : Observer("MeanStdObserver", options), meanstd(meanstd_) {
  LOWBIT_CHECK(std::isfinite(meanstd.k) && meanstd.k >= 0, "MeanStdObserver: k must be finite and >= 0, got ",
               meanstd.k);
  register_range_buffers();
}

void MeanStdObserver::observe_batch(const Batch& batch) {
  const int64_t per_channel = batch.x.numel() / static_cast<int64_t>(batch.min.size());
  const std::vector<double> mean = raw::mean(batch.x, batch.dims).to_vector<double>();
  const std::vector<double> var = raw::var(batch.x, batch.dims, per_channel > 1 ? 1 : 0).to_vector<double>();
  constexpr double kFloatMax = std::numeric_limits<float>::max();
  std::vector<float> lo(mean.size()), hi(mean.size());
  for (size_t c = 0; c < mean.size(); ++c) {
    const double spread = meanstd.k * std::sqrt(var[c]);
    lo[c] = static_cast<float>(std::clamp(mean[c] - spread, -kFloatMax, kFloatMax));
    hi[c] = static_cast<float>(std::clamp(mean[c] + spread, -kFloatMax, kFloatMax));
  }
  update_ema(lo, hi);
}

std::string MeanStdObserver::extra_repr() const {
  return str_cat(Observer::extra_repr(), ", k=", meanstd.k, ", averaging_constant=", options.averaging_constant);
}

}  // namespace lowbit::quant
