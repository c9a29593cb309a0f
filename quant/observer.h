// Observers: how a range is measured, QUANT_NUMERICS §4. An observer sees float tensors
// (observe(x), or forward(x), which returns x unchanged) and turns what it saw into
// quantization parameters through QUANT_NUMERICS §2 (quant/qparams.h).
//
//   name         class               what it keeps                               file
//   minmax       MinMaxObserver      running min and max                         observer_minmax.h
//   ema_minmax   EmaMinMaxObserver   EMA of each batch's min and max             observer_minmax.h
//   percentile   PercentileObserver  EMA of each batch's p_lo / p_hi percentiles observer_percentile.h
//   mse          MseObserver         running min/max of each batch's best clip   observer_mse.h
//   kl           KlObserver          a 2048-bin histogram of |x| (TensorRT)      observer_kl.h
//   norm         NormObserver        EMA of s = 2 mean|x| / sqrt(qmax) (LSQ)     observer_stats.h
//   meanstd      MeanStdObserver     EMA of mean -+ k std (LSQ+, DSQ)            observer_stats.h
//
// Every observer works per tensor (ch_axis = -1) and per channel (one range per index of
// dim ch_axis). Per channel, the channel count is fixed at construction (num_channels),
// because the state lives in registered buffers of that shape: a Module's buffers never
// change shape, so state_dict() / load_state_dict() and checkpoints carry the state as
// BatchNorm's running statistics are carried. Negative axes are not counted from the end
// here: -1 is reserved for "per tensor".
//
// Input: f32 or f64, any shape and strides, on any device (CUDA input is copied to the
// host: observers run on the CPU). observe() runs under NoGradGuard.
//
// Non-finite values (NaN, +-Inf) are refused: observe() throws lowbit::Error naming the
// observer, the tensor and how many of its values are not finite, and leaves the state
// as it was. A running range or histogram that absorbed one NaN would give NaN scales
// for the rest of training; failing at the batch that carries it points at the culprit.
// (f64 inputs with finite values beyond float32's range are refused the same way: the
// ranges and scales are float32, QUANT_NUMERICS §2.) Empty tensors are refused too.
//
// Determinism: every observer gives the same bits for the same inputs and seed, for any
// number of OpenMP threads (DESIGN.md, contract 2): work is split in fixed blocks and
// floating-point sums are combined in block order, in double.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nn/module.h"
#include "quant/policy.h"
#include "quant/qparams.h"

namespace lowbit::quant {

constexpr int64_t kPerTensor = -1;  // ObserverOptions::ch_axis for one range per tensor

struct ObserverOptions {
  QRange range = {-128, 127};  // int_range(8, IntKind::signed_full)
  QScheme scheme = QScheme::symmetric;
  bool power_of_two = false;     // s <- 2^rne(log2 s), QUANT_NUMERICS §2
  int64_t ch_axis = kPerTensor;  // -1: per tensor; >= 0: per channel along this dim
  int64_t num_channels = 0;      // per channel: x.size(ch_axis), required (> 0)
  // m of the exponential moving average r <- (1 - m) r + m r_batch used by ema_minmax,
  // percentile, norm and meanstd (the first batch sets r). 0.1 is lowbit's default;
  // PyTorch's MovingAverageMinMaxObserver uses averaging_constant 0.01 (the same m);
  // TorchQuant and MQBench write 0.9 for the weight of the old value (1 - m, i.e. m = 0.1).
  double averaging_constant = 0.1;
  NumericPolicy policy = NumericPolicy::pytorch();  // the fake quantization MSE measures
};

// One entry per channel (per tensor: one entry).
struct ObserverRange {
  std::vector<float> min, max;
};

class Observer : public nn::Module {
 public:
  Observer(std::string type, ObserverOptions options);

  // Updates the state with one batch. Checks x first (see the file comment); a batch
  // that throws changes nothing.
  void observe(const Tensor& x);
  // observe(x), then x itself (not a copy): an observer can sit in a model as a layer.
  Tensor forward(const Tensor& x) override;
  // Back to the state of a new observer.
  virtual void reset();

  bool has_observed() const { return batches_observed() > 0; }
  int64_t batches_observed() const;
  bool per_channel() const { return options.ch_axis != kPerTensor; }
  int64_t channels() const { return per_channel() ? options.num_channels : 1; }

  // The measured range, one [min, max] per channel. Throws if nothing was observed.
  virtual ObserverRange range() const;
  std::vector<float> min_range() const { return range().min; }
  std::vector<float> max_range() const { return range().max; }
  // (s, z) per channel (one entry per tensor): choose_qparams_per_channel of range()
  // with the options' integer range, scheme and power-of-two flag, QUANT_NUMERICS §2.
  // Throws if nothing was observed.
  virtual PerChannelQParams qparams() const;

  std::string extra_repr() const override;

  const ObserverOptions options;
  Tensor num_batches;       // i64 []: batches observed so far (0: none)
  Tensor min_val, max_val;  // f32 [channels()]: the range (undefined for NormObserver)

 protected:
  // One checked batch as the observers consume it.
  struct Batch {
    Tensor x;                     // the input, finite, on the CPU (f32 or f64); per channel
                                  // with a trailing dim of size 1 appended
    std::vector<int64_t> dims;    // the dims of x reduced per channel (all but ch_axis;
                                  // empty per tensor, which the reductions read as "all")
    std::vector<float> min, max;  // per channel: the batch's min and max
    // x as a contiguous f32 [channels, n] tensor, row c = every element of channel c
    // (in some fixed order). A free view when x is contiguous f32 and ch_axis is 0 or -1.
    Tensor rows() const;
    int64_t ch_axis = kPerTensor;
  };
  // Called by observe() with a checked batch; the batch counter is bumped afterwards.
  virtual void observe_batch(const Batch& batch) = 0;

  // Registers min_val / max_val (+inf / -inf until the first batch).
  void register_range_buffers();
  // min_val/max_val <- the running min/max with the batch's values (QUANT_NUMERICS §4 MinMax).
  void update_running(const std::vector<float>& min, const std::vector<float>& max);
  // min_val/max_val <- batch values on the first batch, else (1 - m) r + m r_batch in
  // double, rounded once to float32 (m = options.averaging_constant).
  void update_ema(const std::vector<float>& min, const std::vector<float>& max);
  // Throws "<type>: <what> before any batch was observed" when nothing was observed.
  void check_observed(const char* what) const;
  // The range buffers as vectors.
  ObserverRange stored_range() const;
};

// An observer by name: minmax, ema_minmax, percentile, mse, kl, norm, meanstd (with the
// default observer-specific options). Unknown names throw lowbit::Error listing these.
std::shared_ptr<Observer> make_observer(std::string_view name, const ObserverOptions& options = {});
const std::vector<std::string>& observer_names();

// Helpers shared by the observer files.
// The f32 [channels] tensor's values / writes values into it (bumping its version).
std::vector<float> read_floats(const Tensor& t);
void write_floats(const Tensor& t, const std::vector<float>& values);

}  // namespace lowbit::quant
