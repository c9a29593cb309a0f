#include "quant/quantizer_dorefa.h"

#include <cmath>

#include "autograd/ops.h"
#include "quant/fake_quantize.h"
#include "quant/ste.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace lowbit::quant {

namespace {

void check_float(const char* op, const Tensor& x, int bits) {
  LOWBIT_CHECK(x.defined() && (x.dtype() == DType::f32 || x.dtype() == DType::f64), op,
               ": input must be f32 or f64, got ", describe(x));
  LOWBIT_CHECK(bits >= 1 && bits <= 16, op, ": bits must be in 1..16, got ", bits);
}

}  // namespace

Tensor dorefa_weight(const Tensor& w, int bits, DorefaVariant variant, const NumericPolicy& policy) {
  check_float("dorefa_weight", w, bits);
  const Tensor t = tanh(w);
  const Tensor m = max(abs(t));
  LOWBIT_CHECK(m.item() > 0, "dorefa_weight: every weight is 0 (max|tanh(w)| = 0) in ", describe(w));
  if (variant == DorefaVariant::mqbench) {
    const QRange r = int_range(bits, IntKind::signed_full);
    const QParams q = choose_qparams(-1.0f, 1.0f, r, QScheme::symmetric);
    return fake_quantize_per_tensor_affine(div(t, m), q.scale, q.zero_point, r.qmin, r.qmax, policy);
  }
  const double levels = std::ldexp(1.0, bits) - 1;  // 2^b - 1
  const Tensor unit = add(div(t, mul(m, 2.0)), 0.5);
  return sub(div(mul(round_ste(mul(unit, levels), policy.rounding), 2.0), levels), 1.0);
}

Tensor dorefa_activation(const Tensor& x, int bits, const NumericPolicy& policy) {
  check_float("dorefa_activation", x, bits);
  const double levels = std::ldexp(1.0, bits) - 1;
  return div(round_ste(mul(clamp(x, 0.0, 1.0), levels), policy.rounding), levels);
}

DorefaQuantizer::DorefaQuantizer(QuantizerConfig c, DorefaOptions o) : Quantizer("DorefaQuantizer", c), options(o) {
  LOWBIT_CHECK(!c.per_channel(), "DorefaQuantizer: DoReFa quantizes per tensor; got ", c.str());
}

Tensor DorefaQuantizer::quantize(const Tensor& x) {
  if (options.tensor == DorefaTensorKind::activation) {
    if (collect_stats()) {  // the clip to [0, 1] is the mask
      const Tensor inside = raw::where(raw::ge(x, zeros({}, x.dtype())), raw::le(x, full({}, 1.0, x.dtype())),
                                       raw::ge(x, zeros({}, x.dtype())));
      set_clip_fraction(1.0 - raw::sum(inside.to(DType::f64)).item() / static_cast<double>(x.numel()));
    }
    return dorefa_activation(x, config.bits, config.policy);
  }
  if (collect_stats()) set_clip_fraction(0.0);  // tanh / max maps every weight inside
  return dorefa_weight(x, config.bits, options.variant, config.policy);
}

PerChannelQParams DorefaQuantizer::qparams() const {
  const double levels = std::ldexp(1.0, config.bits) - 1;
  if (options.tensor == DorefaTensorKind::activation) return {{static_cast<float>(1 / levels)}, {0}};
  if (options.variant == DorefaVariant::mqbench) {
    const QParams q = choose_qparams(-1.0f, 1.0f, int_range(config.bits, IntKind::signed_full), QScheme::symmetric);
    return {{q.scale}, {q.zero_point}};
  }
  // 2 k / levels - 1 for k = 0..levels: step 2 / levels, code 0 at -1.
  return {{static_cast<float>(2 / levels)}, {0}};
}

void DorefaQuantizer::output_range(std::vector<float>& lo, std::vector<float>& hi) const {
  lo = {options.tensor == DorefaTensorKind::activation ? 0.0f : -1.0f};
  hi = {1.0f};
  if (options.tensor == DorefaTensorKind::weight && options.variant == DorefaVariant::mqbench)
    Quantizer::output_range(lo, hi);  // the fake quantization's own grid on [-1, 1]
}

}  // namespace lowbit::quant
