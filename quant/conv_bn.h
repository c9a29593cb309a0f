// Fused conv + BN for quantization-aware training: QUANT_NUMERICS §7 (MQBench §3.2).
//
// A float model keeps each Conv2d and its BatchNorm2d apart (models/layers.h); quant/
// replaces the pair by one ConvBn2d built from the two modules, so that the weight
// quantizer sees the weight the integer engine will deploy, w·γ/σ, during training.
// σ = sqrt(var + eps); γ, β the BN affine; μ, var the running statistics; μ_B, σ_B the
// statistics of the current batch; b the conv's own bias (0 if it has none).
//
//   strategy            training forward                                             statistics
//   -1 none             conv(x, q(w)) + b, then BN                                  updated
//    0 merge            w, b replaced once, at construction, by the eval fold       none (BN gone)
//    1 fold_frozen      conv(x, q(w·γ/σ)) + β − γ(μ − b)/σ                           frozen
//    2 jacob            conv(x, w) + b gives μ_B, σ_B; then                          updated
//                       conv(x, q(w·γ/σ_B)) + β − γ(μ_B − b)/σ_B
//    3 krishnamoorthi   conv(x, w) + b gives μ_B, σ_B; then                          updated
//                       conv(x, q(w·γ/σ))·(σ/σ_B) + β − γ(μ_B − b)/σ_B
//    4 pytorch          conv(x, q(w·γ/σ))·(σ/γ) + b, then BN with batch statistics   updated
//
// eval (module.eval()), every strategy: conv(x, q(w·γ/σ)) + β − γ(μ − b)/σ with the
// weight and bias of fold_conv_bn() (strategy 0 stored that function's result at
// construction), so all six give the same bits from the same float values.
//
// The conv bias b is folded into the BN shift as μ − b: the running mean keeps meaning
// what it means in the float model, the mean of conv(x, w) + b, so a float checkpoint's
// statistics load unchanged and the running updates are those nn::BatchNorm2d makes on
// the float conv output (batch_norm's kernel, momentum, unbiased running variance,
// num_batches_tracked + 1), bit for bit for strategies -1, 2 and 3.
//
// Gradients flow through every term as written, the batch statistics μ_B, σ_B included
// (as in Jacob et al.'s graph and in BN itself). TensorFlow's contrib/quantize stops the
// gradient of Krishnamoorthi's correction factors; that variant is not implemented.
//
// freeze_bn() (strategies -1, 2, 3, 4; PyTorch's freeze_bn_stats): the training forward
// uses the running statistics and stops updating them. Strategies 2, 3 and 4 then compute
// the eval fold (the formula 1 uses; for 4 it is PyTorch's frozen formula with σ/γ and γ/σ
// cancelled, so no division by γ remains); -1 runs its BN in eval mode after conv(x, q(w)).
// Strategies 0 and 1 never update statistics: freeze_bn() changes nothing there.
//
// Zero γ. Strategies 1, 2, 3 divide only by σ or σ_B, which eps keeps positive. Strategy
// 4 divides the conv output by γ/σ: a channel whose γ is exactly 0 has folded weight 0,
// so 0/0 would be NaN; that channel's BN input is taken from the float conv(x, w) + b
// instead (its output is β, as BN with γ = 0 gives, and its statistics and dγ are the
// float model's). Only exact zeros are special: a tiny γ divides as PyTorch does.
//
// Activation: not fused. The caller applies ReLU / ReLU6 (and its activation quantizer)
// after this module, as the float model did after its BN.
//
// Conv geometry: stride, padding, dilation and groups are all supported (the fold is per
// output channel, axis 0 of the weight, whatever the grouping). The BN must be affine and
// of the conv's dtype (f32 or f64).
//
// State dict (children keep the float model's module names, so a float checkpoint maps
// by inserting "conv." / "bn." after the layer's prefix):
//   bn_frozen                      i64 [] buffer, 1 after freeze_bn() (strategies -1, 2, 3, 4)
//   conv.weight, conv.bias         conv.bias only if the conv had one; strategy 0: always
//                                  (the merged bias), and both hold the merged values
//   bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked
//                                  (every strategy but 0)
//   weight_quant.*                 the weight quantizer's state, when there is one
//   input_quant.*                  the input's quantizer, when this layer owns it (quant/prepare.h)
//
//   auto fused = std::make_shared<quant::ConvBn2d>(conv, bn, quant::FoldStrategy::pytorch,
//       std::make_shared<quant::LsqQuantizer>(QuantizerConfig{.bits = 4, .ch_axis = 0, .channels = 64}));
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "nn/batch_norm.h"
#include "nn/conv2d.h"
#include "nn/module.h"
#include "quant/act_quant.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

// MQBench's numbering (§3.2, Fig. 3), which QUANT_NUMERICS §7 follows.
enum class FoldStrategy : int8_t { none = -1, merge = 0, fold_frozen = 1, jacob = 2, krishnamoorthi = 3, pytorch = 4 };
// "none", "merge", "fold_frozen", "jacob", "krishnamoorthi" or "pytorch".
const char* to_string(FoldStrategy strategy);
// A name of to_string or a number -1..4; anything else throws lowbit::Error listing both.
FoldStrategy parse_fold_strategy(std::string_view text);

// The eval fold (QUANT_NUMERICS §7), what the integer engine deploys:
//   weight = w·γ/σ        [C_out, C_in/groups, kH, kW]
//   bias   = β − γ(μ − b)/σ   [C_out]      σ = sqrt(var + eps)
struct FoldedConv {
  Tensor weight, bias;
};
// w [C_out, C_in/groups, kH, kW]; b [C_out] or undefined; gamma, beta, mean, var [C_out].
// Differentiable in every tensor (the module's forward records it).
FoldedConv fold_conv_bn(const Tensor& w, const Tensor& b, const Tensor& gamma, const Tensor& beta,
                        const Tensor& mean, const Tensor& var, double eps);

// Everything the fused forward reads, as plain tensors: the module passes its own, a test
// passes its own leaves (gradcheck differentiates x, w, γ, β through conv_bn_forward).
struct ConvBnArgs {
  Tensor weight, bias;                // conv [C_out, C_in/groups, kH, kW]; [C_out] or undefined
  Tensor gamma, beta;                 // BN affine [C_out] (unused by merge)
  Tensor running_mean, running_var;   // [C_out]; updated in place where statistics are tracked
  Tensor num_batches_tracked;         // i64 [], + 1 with each update; may be undefined
  std::array<int64_t, 2> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
  double eps = 1e-5, momentum = 0.1;  // the BN's
  Quantizer* weight_quant = nullptr;  // null: the weight is not quantized
};

// The forward of the table above for x [N, C_in, H, W]: training (bn_frozen or not) or
// eval. For merge, args.weight / args.bias are the merged ones and the BN fields unused.
Tensor conv_bn_forward(FoldStrategy strategy, const ConvBnArgs& args, const Tensor& x, bool training,
                       bool bn_frozen);

class ConvBn2d : public nn::Module {
 public:
  // Takes the float model's modules themselves (their parameter and buffer tensors are
  // shared, not copied), except for merge, which folds bn into a new Conv2d with bias and
  // keeps neither. weight_quant (null: none) quantizes the folded weight: per tensor, or
  // per channel along axis 0 with conv->out_channels channels. Errors name both modules
  // when they do not fit together (channels, dtype, a non-affine BN).
  ConvBn2d(std::shared_ptr<nn::Conv2d> conv, std::shared_ptr<nn::BatchNorm2d> bn, FoldStrategy strategy,
           std::shared_ptr<Quantizer> weight_quant = nullptr);

  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t macs(const Tensor& input, const Tensor& output) const override;  // the deployed conv's

  // From now on (or again, with false) the training forward uses the running statistics
  // and leaves them alone (see the header comment). Saved in the state dict.
  void freeze_bn(bool frozen = true);
  // True once frozen, and always for merge and fold_frozen (they never update statistics).
  bool bn_frozen() const;

  // The eval fold of the current parameters (merge: the merged weight and bias), detached:
  // the float weight and bias the integer engine quantizes and deploys.
  FoldedConv folded_weight_and_bias() const;

  const FoldStrategy strategy;
  std::shared_ptr<nn::Conv2d> conv;           // child "conv"
  std::shared_ptr<nn::BatchNorm2d> bn;        // child "bn"; null for merge
  std::shared_ptr<Quantizer> weight_quant;    // child "weight_quant"; may be null
  ActQuant input_quant;  // the input's quantizer (quant/act_quant.h): child "input_quant" when owned

 private:
  ConvBnArgs args() const;
  Tensor frozen_;  // i64 [] buffer "bn_frozen" (strategies -1, 2, 3, 4); undefined otherwise
};

}  // namespace lowbit::quant
