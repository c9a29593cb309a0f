// KL (entropy) observer, QUANT_NUMERICS §4, TensorRT's calibration (Migacz, "8-bit
// Inference with TensorRT", GTC 2017), in the form of NVIDIA's pytorch-quantization
// (calib/histogram.py, _compute_amax_entropy).
//
// Histogram: `bins` (2048) bins of |x| over [0, R], bin j = [j R / bins, (j + 1) R / bins),
// the last bin closed (|x| = R lands in it). |x| for every scheme: TensorRT's calibrator is
// symmetric; an asymmetric scheme gets the observed [min, max] clipped to [-T, T] (below).
// R is set by the first batch (its max |x|). Across batches the histogram accumulates; when
// a batch reaches beyond R, R doubles until it covers the batch and the old counts merge
// in pairs per doubling (exact, counts stay integers; the bins get coarser as the range
// grows, as they must with a fixed bin count). A histogram of zeros only (R = 0) takes
// the next non-zero batch's R directly (zeros stay in bin 0).
//
// Threshold search, with L levels: 2^(b-1) = (qmax - qmin + 2) / 2 for signed ranges
// (128 for int8, narrow or not), qmax - qmin + 1 for unsigned ones (256 for uint8: |x| of
// non-negative data uses them all). For each candidate i = L..bins:
//   P = hist[0, i) with the outliers sum(hist[i, bins)) folded into bin i - 1;
//   Q: bins j < i merged into L levels, level(j) = floor(j L / i); each level's count
//      (of the unfolded hist) is spread evenly over its bins whose count is not zero, and
//      zero bins stay zero;
//   KL(P || Q) over the normalized P and Q (terms with P_j = 0 are 0; Q_j = 0 < P_j makes
//   it +inf, which happens when bin i - 1 is empty but outliers were folded into it).
// The smallest KL wins; ties keep the largest i (pytorch-quantization's last argmin), and
// T = i R / bins, the upper edge of bin i - 1. KL is computed from prefix sums in O(L) per
// candidate: (1/N)(sum p log p - sum p log q) + log(sum q) - log N, N the total count.
// No smoothing (MXNet/TVM add eps to empty bins; pytorch-quantization does not).
//
// Range: [max(min(min_val, 0), -T), min(max(max_val, 0), T)] with min_val/max_val the
// running min/max of everything observed (widened to contain 0 as §2 does), so the range
// never exceeds what was seen. Per channel: one histogram
// and one search per channel. The search runs when range() or qparams() is called.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/observer.h"

namespace lowbit::quant {

struct KlOptions {
  int64_t bins = 2048;
};

class KlObserver : public Observer {
 public:
  explicit KlObserver(ObserverOptions options = {}, KlOptions kl = {});
  ObserverRange range() const override;
  void reset() override;
  std::string extra_repr() const override;
  int64_t levels() const;  // L above

  const KlOptions kl;
  Tensor histogram;  // f64 [channels, bins]: counts of |x|
  Tensor hist_max;   // f64 [channels]: R, the upper edge of the histogram

 protected:
  void observe_batch(const Batch& batch) override;
};

// KL(P || Q) of every candidate i = levels..hist.size() (entry i - levels), +inf where Q
// misses P's support. hist: counts, not all zero.
std::vector<double> kl_divergences(const std::vector<double>& hist, int64_t levels);
// The winning i (ties: the largest).
int64_t kl_threshold_bin(const std::vector<double>& hist, int64_t levels);

}  // namespace lowbit::quant
