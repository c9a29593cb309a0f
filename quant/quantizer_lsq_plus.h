// LSQ+ (Bhalgat et al., CVPR workshops 2020), QUANT_NUMERICS §5.3: LSQ with a learnable
// offset beta, for activations whose range is not centred on 0 (Swish, h-swish, or any
// asymmetric setting):
//   y = clamp(R((x - beta) / s), qmin, qmax) s + beta
// written as LSQ's fake quantization of x - beta (z = 0) plus beta, so
//   dx = dy inside, ds = LSQ's (§5.2, with the same g), dbeta = dy outside the range, 0 inside.
// Initialisation on the first observed batch from a range [lo, hi]: s = (hi - lo) /
// (qmax - qmin) and beta = lo - qmin s (code qmin sits at lo), the range coming from
// MeanStd with k = 3 (the paper's choice, the default) or the MSE search (§4). Per tensor.
#pragma once

#include <memory>

#include "quant/observer.h"
#include "quant/quantizer_lsq.h"

namespace lowbit::quant {

enum class LsqPlusInit : uint8_t { meanstd, mse };

struct LsqPlusOptions {
  LsqTensorKind tensor = LsqTensorKind::activation;
  LsqGradScaleN n_mode = LsqGradScaleN::paper;
  LsqMask mask = LsqMask::pytorch;
  LsqPlusInit init = LsqPlusInit::meanstd;
  DType dtype = DType::f32;
};

class LsqPlusQuantizer : public Quantizer {
 public:
  explicit LsqPlusQuantizer(QuantizerConfig config, LsqPlusOptions options = {});

  void pre_observe(const Tensor& x) override;
  Tensor quantize(const Tensor& x) override;
  PerChannelQParams qparams() const override;
  void output_range(std::vector<float>& lo, std::vector<float>& hi) const override;
  void after_step() override;
  double grad_scale() const override { return grad_scale_; }

  bool initialized() const { return initialized_.item() != 0; }

  const LsqPlusOptions options;
  Tensor scale;   // parameter []
  Tensor offset;  // parameter [] (beta)

 private:
  std::shared_ptr<Observer> init_observer_;  // not a child: used once, not saved
  Tensor zero_point_;                        // zeros [] (the learnable op's z; never trained)
  Tensor initialized_;                       // i64 [] buffer
  double grad_scale_ = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace lowbit::quant
