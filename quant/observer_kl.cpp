// KL (entropy) observer, QUANT_NUMERICS §4: the |x| histogram, its growth by doubling, and
// the TensorRT threshold search, all as described in observer_kl.h.
#include "quant/observer_kl.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/error.h"

namespace lowbit::quant {
namespace {

constexpr int64_t kBlock = 1 << 14;        // values per work item of the counting pass
constexpr int64_t kParallelMin = 1 << 16;  // shorter rows are counted on one thread

double xlogx(double v) { return v > 0 ? v * std::log(v) : 0.0; }

// hist[j] += the number of |x| in bin j of [0, R] (R = 0: every value is 0, bin 0).
// Per-thread integer counts: the totals do not depend on the thread count.
void add_counts(const float* x, int64_t n, double R, int64_t bins, double* hist) {
  const double per_unit = R > 0 ? static_cast<double>(bins) / R : 0.0;
  const double last = static_cast<double>(bins - 1);
  // One thread inside a parallel region (rows shared out whole): no nested team per row.
  const int threads = n >= kParallelMin && !omp_in_parallel() ? omp_get_max_threads() : 1;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<uint32_t> local(static_cast<size_t>(threads * bins));
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    uint32_t* h = local.data() + static_cast<size_t>(omp_get_thread_num()) * bins;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t end = std::min(n, (b + 1) * kBlock);
      for (int64_t i = b * kBlock; i < end; ++i) {
        const double j = std::min(std::fabs(static_cast<double>(x[i])) * per_unit, last);
        ++h[static_cast<int64_t>(j)];
      }
    }
  }
  for (int t = 0; t < threads; ++t)
    for (int64_t j = 0; j < bins; ++j) hist[j] += local[static_cast<size_t>(t * bins + j)];
}

// Doubles R until it covers amax, merging the counts in pairs per doubling (header).
void grow(double* hist, int64_t bins, double& R, double amax) {
  if (amax <= R) return;
  if (R == 0) {  // only zeros so far: they are in bin 0 of any range
    R = amax;
    return;
  }
  int doublings = 0;
  while (std::ldexp(R, doublings) < amax) ++doublings;
  R = std::ldexp(R, doublings);
  if ((int64_t{1} << std::min(doublings, 62)) >= bins) {  // everything merges into bin 0
    double total = 0;
    for (int64_t j = 0; j < bins; ++j) total += hist[j];
    std::fill(hist, hist + bins, 0.0);
    hist[0] = total;
    return;
  }
  const int64_t group = int64_t{1} << doublings;
  // In place, front to back: new bin j reads old bins [j g, j g + g), all >= j.
  for (int64_t j = 0; j < bins; ++j) {
    double s = 0;
    for (int64_t t = j * group; t < std::min(bins, (j + 1) * group); ++t) s += hist[t];
    hist[j] = s;
  }
}

}  // namespace

std::vector<double> kl_divergences(const std::vector<double>& hist, int64_t levels) {
  const int64_t bins = static_cast<int64_t>(hist.size());
  LOWBIT_CHECK(levels >= 1 && levels <= bins, "kl_divergences: ", levels, " levels for ", bins, " bins");
  // Prefix sums: H counts, NZ non-empty bins, E sum of h log h.
  std::vector<double> H(bins + 1, 0.0), NZ(bins + 1, 0.0), E(bins + 1, 0.0);
  for (int64_t j = 0; j < bins; ++j) {
    H[j + 1] = H[j] + hist[j];
    NZ[j + 1] = NZ[j] + (hist[j] > 0 ? 1 : 0);
    E[j + 1] = E[j] + xlogx(hist[j]);
  }
  const double N = H[bins];
  LOWBIT_CHECK(N > 0, "kl_divergences: the histogram is empty");
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> kl;
  kl.reserve(static_cast<size_t>(bins - levels + 1));
  for (int64_t i = levels; i <= bins; ++i) {
    const double outliers = N - H[i], q_total = H[i];
    // Q is zero where P is not: all mass is outlying, or folded into an empty bin i - 1.
    if (q_total == 0 || (hist[i - 1] == 0 && outliers > 0)) {
      kl.push_back(inf);
      continue;
    }
    // sum p log p: bins below i - 1 unchanged, bin i - 1 with the outliers.
    const double p_log_p = E[i - 1] + xlogx(hist[i - 1] + outliers);
    // sum p log q: level k covers bins [ceil(k i / L), ceil((k + 1) i / L)); each of its
    // non-empty bins has q = (its count) / (its non-empty bins), and P's mass on them is
    // that count (plus the outliers for the last level, which holds bin i - 1).
    double p_log_q = 0;
    for (int64_t k = 0; k < levels; ++k) {
      const int64_t a = (k * i + levels - 1) / levels, b = ((k + 1) * i + levels - 1) / levels;
      const double count = H[b] - H[a], nonzero = NZ[b] - NZ[a];
      if (nonzero == 0) continue;
      const double p_mass = count + (b == i ? outliers : 0.0);
      p_log_q += p_mass * std::log(count / nonzero);
    }
    kl.push_back((p_log_p - p_log_q) / N + std::log(q_total) - std::log(N));
  }
  return kl;
}

int64_t kl_threshold_bin(const std::vector<double>& hist, int64_t levels) {
  const std::vector<double> kl = kl_divergences(hist, levels);
  size_t best = 0;
  for (size_t j = 1; j < kl.size(); ++j)
    if (kl[j] <= kl[best]) best = j;  // ties: the largest threshold
  return levels + static_cast<int64_t>(best);
}

KlObserver::KlObserver(ObserverOptions options, KlOptions kl_) : Observer("KlObserver", options), kl(kl_) {
  LOWBIT_CHECK(kl.bins >= 2 && kl.bins <= (int64_t{1} << 20), "KlObserver: bins must be in [2, 2^20], got ", kl.bins);
  LOWBIT_CHECK(levels() <= kl.bins, "KlObserver: the integer range [", options.range.qmin, ", ", options.range.qmax,
               "] needs ", levels(), " levels of |x|, more than the ", kl.bins,
               " histogram bins (use 8 bits or fewer, or more bins)");
  register_range_buffers();
  histogram = register_buffer("histogram", zeros({channels(), kl.bins}, DType::f64));
  hist_max = register_buffer("hist_max", zeros({channels()}, DType::f64));
}

int64_t KlObserver::levels() const {
  const QRange& r = options.range;
  return r.qmin >= 0 ? r.qmax - r.qmin + 1 : (r.qmax - r.qmin + 2) / 2;
}

void KlObserver::reset() {
  Observer::reset();
  histogram.fill_(0);
  hist_max.fill_(0);
  histogram.bump_version();
  hist_max.bump_version();
}

void KlObserver::observe_batch(const Batch& batch) {
  const Tensor rows = batch.rows();
  const int64_t channels = rows.size(0), n = rows.size(1), bins = kl.bins;
  LOWBIT_CHECK(n < (int64_t{1} << 32), type(), ": ", n, " values per channel; at most 2^32 - 1 are supported");
  update_running(batch.min, batch.max);
  const float* data = rows.data<float>();
  double* hist = histogram.data<double>();
  double* edge = hist_max.data<double>();
  const bool first = !has_observed();
  auto one_row = [&](int64_t c) {
    const double amax =
        std::max(std::fabs(static_cast<double>(batch.min[c])), std::fabs(static_cast<double>(batch.max[c])));
    if (first) edge[c] = amax;
    grow(hist + c * bins, bins, edge[c], amax);
    add_counts(data + c * n, n, edge[c], bins, hist + c * bins);
  };
  if (channels == 1 || n >= kParallelMin) {  // one row, or long rows: counted in parallel inside
    for (int64_t c = 0; c < channels; ++c) one_row(c);
  } else {  // many short rows: shared out whole
#pragma omp parallel for schedule(static) if (channels * n >= kParallelMin)
    for (int64_t c = 0; c < channels; ++c) one_row(c);
  }
  histogram.bump_version();
  hist_max.bump_version();
}

ObserverRange KlObserver::range() const {
  check_observed("range()");
  ObserverRange r = stored_range();
  const int64_t channels = this->channels(), bins = kl.bins, L = levels();
  const std::vector<double> hist = histogram.to_vector<double>(), edge = hist_max.to_vector<double>();
  constexpr double kFloatMax = std::numeric_limits<float>::max();
#pragma omp parallel for schedule(static) if (channels > 1)
  for (int64_t c = 0; c < channels; ++c) {
    double T = 0;  // a histogram of zeros only: R = 0
    if (edge[c] > 0) {
      const std::vector<double> row(hist.begin() + c * bins, hist.begin() + (c + 1) * bins);
      T = static_cast<double>(kl_threshold_bin(row, L)) * edge[c] / static_cast<double>(bins);
    }
    // Clip the observed range, widened to contain 0 as choose_qparams does (§2), so that
    // lo <= 0 <= hi even when T lies below every observed value.
    const float t = static_cast<float>(std::min(T, kFloatMax));
    r.min[c] = std::max(std::min(r.min[c], 0.0f), -t);
    r.max[c] = std::min(std::max(r.max[c], 0.0f), t);
  }
  return r;
}

std::string KlObserver::extra_repr() const {
  return str_cat(Observer::extra_repr(), ", bins=", kl.bins, ", levels=", levels());
}

}  // namespace lowbit::quant
