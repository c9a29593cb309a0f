// Classification metrics. A sample is top-k correct when fewer than k classes rank
// above its target, ranking by logit and, between equal logits, by lower class index
// (so exactly k classes are "the top k", as with a stable sort).
#pragma once

#include "tensor/tensor.h"

namespace lowbit::nn {

// logits [N, C] (f32/f64, any device), target [N] integer class indices in [0, C).
// Returns how many of the N samples are top-k correct (k >= 1).
int64_t topk_correct(const Tensor& logits, const Tensor& target, int64_t k);

}  // namespace lowbit::nn
