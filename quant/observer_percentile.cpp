// Percentile observer, QUANT_NUMERICS §4: linear percentiles by selection (radix select
// for long rows, nth_element for short ones) and the stratified Philox subsample. The
// definitions are in observer_percentile.h.
#include "quant/observer_percentile.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/error.h"
#include "tensor/kernels/philox.h"

namespace lowbit::quant {
namespace {

constexpr int kLowBits = 16;
constexpr int64_t kDigits = int64_t{1} << kLowBits;  // bins of each radix level
constexpr int64_t kBlock = 1 << 14;                  // values per work item of a counting pass
constexpr int64_t kParallelMin = 1 << 16;            // shorter rows count on one thread

// Order-preserving key: for finite floats a < b exactly when key(a) < key(b) (-0 sorts
// just below +0, which is harmless: they are equal values). Positive floats get the sign
// bit set; negative ones are inverted so that larger magnitudes get smaller keys.
uint32_t order_key(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

float key_value(uint32_t key) {
  const uint32_t u = (key & 0x80000000u) ? (key & 0x7fffffffu) : ~key;
  float v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// Threads for a row of n values: one for short rows, and one inside a parallel region
// (rows shared out whole): a nested team would be created and torn down per row.
int threads_for(int64_t n) { return n >= kParallelMin && !omp_in_parallel() ? omp_get_max_threads() : 1; }

// out[r] = the ranks[r]-th smallest value (0-based; ranks ascending, distinct) by
// nth_element on a copy. Invariant: every value before `begin` is <= every value from it
// on, so each later rank is selected within [begin, n). The rank right after a selected
// one (the k + 1 of an interpolation) is the smallest of the rest: a scan, not a selection.
void select_small(const float* x, int64_t n, const std::vector<int64_t>& ranks, std::vector<float>& out) {
  std::vector<float> v(x, x + n);
  int64_t begin = 0;
  for (size_t r = 0; r < ranks.size(); ++r) {
    const auto at = v.begin() + ranks[r];
    if (ranks[r] == begin && r > 0)
      std::iter_swap(at, std::min_element(at, v.end()));
    else
      std::nth_element(v.begin() + begin, at, v.end());
    out[r] = *at;
    begin = ranks[r] + 1;
  }
}

// The same by a two-level radix select on order_key (header comment). Per-thread counts
// are integers, so their sum does not depend on how the blocks were shared out.
void select_radix(const float* x, int64_t n, const std::vector<int64_t>& ranks, std::vector<float>& out) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const int threads = threads_for(n);
  // Level 1: count the high 16 bits of every key.
  std::vector<uint32_t> local(static_cast<size_t>(threads) * kDigits);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    uint32_t* h = local.data() + static_cast<size_t>(omp_get_thread_num()) * kDigits;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t end = std::min(n, (b + 1) * kBlock);
      for (int64_t i = b * kBlock; i < end; ++i) ++h[order_key(x[i]) >> kLowBits];
    }
  }
  std::vector<int64_t> high(kDigits, 0);
  for (int t = 0; t < threads; ++t)
    for (int64_t d = 0; d < kDigits; ++d) high[d] += local[static_cast<size_t>(t * kDigits + d)];
  // The high digit of each wanted rank, and its rank among the keys with that digit.
  std::vector<uint32_t> digit(ranks.size());
  std::vector<int64_t> rank_in(ranks.size());
  int64_t below = 0, d = 0;
  for (size_t r = 0; r < ranks.size(); ++r) {
    while (below + high[d] <= ranks[r]) below += high[d++];
    digit[r] = static_cast<uint32_t>(d);
    rank_in[r] = ranks[r] - below;
  }
  // Level 2: gather the keys of the wanted bins (at most 4 distinct), then count their
  // low 16 bits. target[digit] = 1 + index of the bin among the wanted ones, 0 if unwanted.
  std::vector<uint32_t> bins;
  for (uint32_t dg : digit)
    if (bins.empty() || bins.back() != dg) bins.push_back(dg);
  std::vector<uint8_t> target(kDigits, 0);
  for (size_t t = 0; t < bins.size(); ++t) target[bins[t]] = static_cast<uint8_t>(t + 1);
  std::vector<std::vector<uint32_t>> gathered(static_cast<size_t>(threads) * bins.size());
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    std::vector<uint32_t>* mine = gathered.data() + static_cast<size_t>(omp_get_thread_num()) * bins.size();
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t end = std::min(n, (b + 1) * kBlock);
      for (int64_t i = b * kBlock; i < end; ++i) {
        const uint32_t key = order_key(x[i]);
        const uint8_t t = target[key >> kLowBits];
        if (t) mine[t - 1].push_back(key);
      }
    }
  }
  std::vector<int64_t> low(kDigits);
  for (size_t t = 0; t < bins.size(); ++t) {
    std::fill(low.begin(), low.end(), 0);
    for (int th = 0; th < threads; ++th)
      for (uint32_t key : gathered[th * bins.size() + t]) ++low[key & (kDigits - 1)];
    for (size_t r = 0; r < ranks.size(); ++r) {
      if (digit[r] != bins[t]) continue;
      int64_t seen = 0, lo = 0;
      while (seen + low[lo] <= rank_in[r]) seen += low[lo++];
      out[r] = key_value((bins[t] << kLowBits) | static_cast<uint32_t>(lo));
    }
  }
}

}  // namespace

std::vector<float> percentiles(const float* x, int64_t n, const std::vector<double>& p) {
  LOWBIT_CHECK(n >= 1, "percentiles: no values");
  LOWBIT_CHECK(n < (int64_t{1} << 32), "percentiles: ", n, " values in one row; at most 2^32 - 1 are supported");
  // Ranks k (and k + 1 when the weight is non-zero) of every percentile, sorted, unique.
  std::vector<int64_t> ranks;
  std::vector<double> h(p.size());
  for (size_t j = 0; j < p.size(); ++j) {
    LOWBIT_CHECK(p[j] >= 0 && p[j] <= 100, "percentiles: p must be in [0, 100], got ", p[j]);
    h[j] = static_cast<double>(n - 1) * p[j] / 100;
    const int64_t k = static_cast<int64_t>(std::floor(h[j]));
    ranks.push_back(k);
    if (h[j] > static_cast<double>(k)) ranks.push_back(k + 1);
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  std::vector<float> v(ranks.size());
  if (n >= kRadixSelectMin)
    select_radix(x, n, ranks, v);
  else
    select_small(x, n, ranks, v);
  auto at = [&](int64_t k) {
    return static_cast<double>(v[std::lower_bound(ranks.begin(), ranks.end(), k) - ranks.begin()]);
  };
  std::vector<float> out(p.size());
  for (size_t j = 0; j < p.size(); ++j) {
    const int64_t k = static_cast<int64_t>(std::floor(h[j]));
    const double w = h[j] - static_cast<double>(k);
    out[j] = static_cast<float>(w > 0 ? at(k) + w * (at(k + 1) - at(k)) : at(k));
  }
  return out;
}

int64_t subsample_size(int64_t n, const PercentileOptions& options) {
  if (n <= options.subsample_above) return n;
  return std::min<int64_t>(n, static_cast<int64_t>(std::ceil(static_cast<double>(n) * options.subsample_fraction)));
}

std::vector<float> subsample(const float* x, int64_t n, int64_t m, uint64_t seed, uint64_t stream) {
  LOWBIT_CHECK(m >= 1 && m <= n, "subsample: cannot draw ", m, " strata from ", n, " values");
  using u128 = unsigned __int128;
  std::vector<float> out(static_cast<size_t>(m));
#pragma omp parallel for schedule(static) if (m >= 4096 && !omp_in_parallel())
  for (int64_t k = 0; k < m; ++k) {
    // Stratum k is [k n / m, (k + 1) n / m): at least one value since m <= n.
    const int64_t lo = static_cast<int64_t>(u128(k) * u128(n) / u128(m));
    const int64_t hi = static_cast<int64_t>(u128(k + 1) * u128(n) / u128(m));
    const Philox4x32 r = philox4x32_10(static_cast<uint64_t>(k), stream, seed);
    const uint64_t bits = (static_cast<uint64_t>(r.x[1]) << 32) | r.x[0];
    // (bits * len) >> 64: uniform on [0, len) up to a bias below len / 2^64.
    const int64_t offset = static_cast<int64_t>((u128(bits) * u128(hi - lo)) >> 64);
    out[static_cast<size_t>(k)] = x[lo + offset];
  }
  return out;
}

PercentileObserver::PercentileObserver(ObserverOptions options, PercentileOptions percentile_)
    : Observer("PercentileObserver", options), percentile(percentile_) {
  LOWBIT_CHECK(percentile.p_lo >= 0 && percentile.p_lo <= percentile.p_hi && percentile.p_hi <= 100,
               "PercentileObserver: need 0 <= p_lo <= p_hi <= 100, got p_lo ", percentile.p_lo, " p_hi ",
               percentile.p_hi);
  LOWBIT_CHECK(
      percentile.subsample_fraction > 0 && percentile.subsample_fraction <= 1 && percentile.subsample_above >= 1,
      "PercentileObserver: subsample_fraction must be in (0, 1] and subsample_above >= 1, got ",
      percentile.subsample_fraction, " and ", percentile.subsample_above);
  register_range_buffers();
}

void PercentileObserver::observe_batch(const Batch& batch) {
  const Tensor rows = batch.rows();
  const int64_t channels = rows.size(0), n = rows.size(1);
  const float* data = rows.data<float>();
  const int64_t m = subsample_size(n, percentile);
  const uint64_t batch_index = static_cast<uint64_t>(batches_observed());
  std::vector<float> lo(static_cast<size_t>(channels)), hi(static_cast<size_t>(channels));
  auto one_row = [&](int64_t c) {
    const float* x = data + c * n;
    std::vector<float> sample;
    if (m < n) {
      sample = subsample(x, n, m, percentile.seed, (batch_index << 32) | static_cast<uint64_t>(c));
      x = sample.data();
    }
    const std::vector<float> v = percentiles(x, m, {percentile.p_lo, percentile.p_hi});
    lo[static_cast<size_t>(c)] = v[0];
    hi[static_cast<size_t>(c)] = v[1];
  };
  // One row, or long rows (after subsampling): parallel inside each row. Many short rows:
  // shared out whole, each on one thread.
  if (channels == 1 || m >= kParallelMin) {
    for (int64_t c = 0; c < channels; ++c) one_row(c);
  } else {
#pragma omp parallel for schedule(static) if (channels * m >= kParallelMin)
    for (int64_t c = 0; c < channels; ++c) one_row(c);
  }
  update_ema(lo, hi);
}

std::string PercentileObserver::extra_repr() const {
  return str_cat(Observer::extra_repr(), ", p_lo=", percentile.p_lo, ", p_hi=", percentile.p_hi,
                 ", averaging_constant=", options.averaging_constant, ", subsample_above=", percentile.subsample_above,
                 ", seed=", percentile.seed);
}

}  // namespace lowbit::quant
