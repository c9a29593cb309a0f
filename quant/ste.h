// Straight-through rounding: y = R(x) in the forward (R from the numeric policy,
// QUANT_NUMERICS §1), dy/dx := 1 in the backward (Bengio et al. 2013). The building block of
// the quantizers whose forward is not a plain fake quantization (DoReFa §5.5, DSQ §5.6).
#pragma once

#include "quant/policy.h"
#include "tensor/tensor.h"

namespace lowbit::quant {

// x: f32 or f64 on the CPU. Gradient: the incoming one, unchanged.
Tensor round_ste(const Tensor& x, Rounding rounding = Rounding::half_even);

}  // namespace lowbit::quant
