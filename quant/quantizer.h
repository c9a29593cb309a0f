// Quantizer: the module that turns a float tensor into its fake-quantized version inside
// a model, with the TorchQuant-style three steps of QUANT_NUMERICS §5 and the state of §6.
//
//   pre_observe(x)    sees the float input (an observer measures its range, LSQ
//                     initialises its scale on the first batch, DSQ refreshes its range)
//   quantize(x)       the fake-quantized tensor, differentiable (an STE of §3.2 or the
//                     quantizer's own surrogate)
//   post_observe(y)   sees the result (the kurtosis regulariser of quant/kurtosis.h)
//
// forward(x) runs them according to the state (QUANT_NUMERICS §6):
//   fp         y = x                                  nothing observed
//   calibrate  pre_observe(x); y = x                  ranges are measured, output is float
//   qat        pre_observe(x); y = quantize(x); post_observe(y)
//   eval       y = quantize(x)                        parameters frozen, nothing observed
// The state is a buffer ("state", i64), so it is saved in checkpoints with the rest of
// the quantizer (scales, zero points, observer ranges, learnable parameters). A pinned
// state ("state_pin", i64, -1 = none) wins over every later set_state(): how one module
// of a model stays float (or stays calibrating) while quant::set_state sets the rest
// (quant/state.h).
//
// Each quantizer covers one tensor: a weight (per tensor or per output channel, axis 0)
// or an activation (per tensor). Its integer range comes from QuantizerConfig (bits 2..8
// or 16, signed / narrow / unsigned, symmetric / asymmetric, power-of-two scales) and its
// rounding from the NumericPolicy (QUANT_NUMERICS §1).
//
// Diagnostics (a researcher's questions, cheap enough to ask every logging step): with
// collect_stats on (set_collect_stats, or quant::set_collect_stats for a whole model),
// every quantize() also records the fraction of elements the clamp changed (where the STE
// mask of §3.2 is 0), and stats() returns it with the current range per channel and, for
// LSQ, the gradient scale g it applied. Off by default: it costs a pass over the tensor.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nn/module.h"
#include "quant/policy.h"
#include "quant/qparams.h"

namespace lowbit::quant {

enum class QuantState : uint8_t { fp, calibrate, qat, eval };
const char* to_string(QuantState state);
// "fp", "calibrate", "qat" or "eval"; anything else throws lowbit::Error listing them.
QuantState parse_quant_state(std::string_view name);

// What every quantizer is configured with.
struct QuantizerConfig {
  int bits = 8;
  IntKind kind = IntKind::signed_full;
  QScheme scheme = QScheme::symmetric;
  bool power_of_two = false;  // scales rounded to powers of two (QUANT_NUMERICS §2)
  int64_t ch_axis = -1;       // -1: one (s, z) for the tensor; else per channel along this axis
  int64_t channels = 1;       // per channel: how many (the size of ch_axis)
  NumericPolicy policy = NumericPolicy::pytorch();

  QRange range() const { return int_range(bits, kind); }
  bool per_channel() const { return ch_axis >= 0; }
  // "int8 signed symmetric per_tensor", "uint4 unsigned asymmetric per_channel(0, 64)", ...
  std::string str() const;
};
// Throws lowbit::Error (naming `who`) for bits outside 2..8/16, a negative channel count or
// a per-tensor config with channels != 1.
void check_config(const char* who, const QuantizerConfig& config);

// The diagnostics of the last quantize() with collect_stats on (see above).
struct QuantizerStats {
  int64_t calls = 0;                                                // quantize() calls recorded
  double clip_fraction = std::numeric_limits<double>::quiet_NaN();  // of the last call
  std::vector<float> scale;                                         // per channel (1 per tensor)
  std::vector<int64_t> zero_point;
  std::vector<float> range_min, range_max;                       // (qmin - z) s, (qmax - z) s
  double grad_scale = std::numeric_limits<double>::quiet_NaN();  // LSQ's g; NaN for others
};

class Quantizer : public nn::Module {
 public:
  Quantizer(std::string type, QuantizerConfig config);

  // Runs the steps the state asks for (see the header comment). final: subclasses
  // implement the steps, never the dispatch. A quantizer shared by several layers (the
  // consumers of one tensor, quant/prepare.h) is called once per layer: inside one
  // outermost module call (nn::CallScope), a second call with the same input tensor
  // returns the first call's output (while it is alive) without observing again.
  Tensor forward(const Tensor& x) final;

  virtual void pre_observe(const Tensor& x);
  virtual Tensor quantize(const Tensor& x) = 0;
  virtual void post_observe(const Tensor& y);
  // The (s, z) quantize() uses now, one entry per channel (one per tensor).
  virtual PerChannelQParams qparams() const = 0;
  // The real interval the outputs lie in, per channel: (qmin - z) s .. (qmax - z) s of
  // qparams() unless the quantizer's grid is not affine (DoReFa's weights).
  virtual void output_range(std::vector<float>& lo, std::vector<float>& hi) const;
  // Called by quant::after_optimizer_step after each optimizer step (LSQ keeps s > 0).
  virtual void after_step() {}
  // LSQ's gradient scale g (QUANT_NUMERICS §5.2) as last applied; NaN for others.
  virtual double grad_scale() const { return std::numeric_limits<double>::quiet_NaN(); }

  QuantState state() const;                         // the pinned state if any, else the one set
  void set_state(QuantState state);                 // ignored while a state is pinned
  void pin_state(std::optional<QuantState> state);  // nullopt unpins
  std::optional<QuantState> pinned_state() const;

  // Functions post_observe(y) calls with the quantized tensor, in the order added (the
  // kurtosis regulariser of quant/kurtosis.h is one). Subclasses overriding post_observe
  // call Quantizer::post_observe.
  using PostObserveHook = std::function<void(const Tensor& y)>;
  void add_post_observe_hook(PostObserveHook hook) { post_observe_hooks_.push_back(std::move(hook)); }

  void set_collect_stats(bool on) { collect_stats_ = on; }
  bool collect_stats() const { return collect_stats_; }
  QuantizerStats stats() const;

  const QuantizerConfig config;
  std::string extra_repr() const override;

 protected:
  // For subclasses' quantize(): records the clip fraction of x against (s, z) of
  // qparams() when collect_stats is on (exactly the elements whose STE mask is 0).
  void record_clipping(const Tensor& x);
  // For quantizers with their own mask (PACT, DoReFa, DSQ): records a computed fraction.
  void set_clip_fraction(double fraction);

 private:
  Tensor run_state(const Tensor& x);

  Tensor state_, pin_;  // i64 [] buffers
  uint64_t last_call_ = 0;  // the cache of forward(): outermost call, input, output (weak)
  std::weak_ptr<TensorImpl> last_input_, last_output_;
  std::vector<PostObserveHook> post_observe_hooks_;
  bool collect_stats_ = false;
  int64_t calls_ = 0;
  double clip_fraction_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace lowbit::quant
