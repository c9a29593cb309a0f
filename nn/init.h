// Parameter initialisation, in place and under no-grad, with the formulas of
// torch.nn.init (He et al., "Delving Deep into Rectifiers", ICCV 2015, for Kaiming).
//
//   fan_in  = size(1) * receptive field,  fan_out = size(0) * receptive field
//   (receptive field = product of the dims after the first two; 1 for a matrix)
//   kaiming_normal   N(0, std^2),        std   = gain / sqrt(fan)
//   kaiming_uniform  U(-bound, bound),   bound = gain * sqrt(3 / fan)
//   gain = sqrt(2) for ReLU; sqrt(2 / (1 + a^2)) for leaky ReLU with slope a
// Draws come from `gen` (nullptr: lowbit's default generator), so a seed fixes them.
#pragma once

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace lowbit::nn {

enum class FanMode { fan_in, fan_out };

int64_t fan_in(const Tensor& weight);   // requires dim() >= 2
int64_t fan_out(const Tensor& weight);  // requires dim() >= 2

// ReLU gain sqrt(2) when negative_slope is 0 (torchvision's ResNets: fan_out, ReLU).
void kaiming_normal_(Tensor& weight, FanMode mode = FanMode::fan_in, double negative_slope = 0,
                     Generator* gen = nullptr);
void kaiming_uniform_(Tensor& weight, FanMode mode = FanMode::fan_in, double negative_slope = 0,
                      Generator* gen = nullptr);
void uniform_(Tensor& t, double lo, double hi, Generator* gen = nullptr);
void normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);
void zeros_(Tensor& t);
void ones_(Tensor& t);

}  // namespace lowbit::nn
