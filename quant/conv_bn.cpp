// Fused conv + BN for QAT, QUANT_NUMERICS §7: one small function per strategy, built
// from the differentiable ops of autograd/ops.h (conv2d, batch_norm, mean, var, ...), so
// that each line reads as the table in quant/conv_bn.h and the backward is autograd's.
#include "quant/conv_bn.h"

#include <algorithm>
#include <array>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/variable.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace lowbit::quant {

namespace {
constexpr std::array<FoldStrategy, 6> kStrategies = {FoldStrategy::none,    FoldStrategy::merge,
                                                     FoldStrategy::fold_frozen, FoldStrategy::jacob,
                                                     FoldStrategy::krishnamoorthi, FoldStrategy::pytorch};
}  // namespace

const char* to_string(FoldStrategy strategy) {
  switch (strategy) {
    case FoldStrategy::none: return "none";
    case FoldStrategy::merge: return "merge";
    case FoldStrategy::fold_frozen: return "fold_frozen";
    case FoldStrategy::jacob: return "jacob";
    case FoldStrategy::krishnamoorthi: return "krishnamoorthi";
    case FoldStrategy::pytorch: return "pytorch";
  }
  return "?";
}

FoldStrategy parse_fold_strategy(std::string_view text) {
  for (FoldStrategy s : kStrategies)
    if (text == to_string(s) || text == std::to_string(static_cast<int>(s))) return s;
  throw_error(str_cat("fold strategy: unknown strategy '", text,
                      "' (expected -1..4 or none, merge, fold_frozen, jacob, krishnamoorthi, pytorch)"));
}

namespace {

// A per-channel vector [C] shaped to scale the rows of a weight [C, ...] or the channels
// of a conv output [N, C, H, W].
Tensor as_weight_rows(const Tensor& v) { return reshape(v, {v.numel(), 1, 1, 1}); }

Tensor sigma_of(const Tensor& var, double eps) { return sqrt(add(var, eps)); }  // σ = sqrt(var + eps)

// w·γ/σ and β − γ(μ − b)/σ: the conv bias b is folded into the BN shift as μ − b, since
// the statistics describe conv(x, w) + b (QUANT_NUMERICS §7, header comment).
Tensor fold_weight(const Tensor& w, const Tensor& gamma, const Tensor& sigma) {
  return mul(w, as_weight_rows(div(gamma, sigma)));
}
Tensor fold_bias(const Tensor& b, const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& sigma) {
  const Tensor centre = b.defined() ? sub(mean, b) : mean;
  return sub(beta, mul(centre, div(gamma, sigma)));
}

Tensor quantize_weight(const ConvBnArgs& a, const Tensor& w) { return a.weight_quant ? (*a.weight_quant)(w) : w; }

Tensor conv(const ConvBnArgs& a, const Tensor& x, const Tensor& w, const Tensor& bias) {
  return conv2d(x, w, bias, a.stride, a.padding, a.dilation, a.groups);
}

void check_args(FoldStrategy strategy, const ConvBnArgs& a) {
  LOWBIT_CHECK(a.weight.defined() && a.weight.dim() == 4, "conv_bn_forward(", to_string(strategy),
               "): the weight must be [C_out, C_in/groups, kH, kW], got ",
               a.weight.defined() ? shape_str(a.weight.sizes()) : std::string("undefined"));
  const int64_t c = a.weight.size(0);
  if (strategy == FoldStrategy::merge) return;  // the BN is gone
  for (const Tensor* t : {&a.gamma, &a.beta, &a.running_mean, &a.running_var})
    LOWBIT_CHECK(t->defined() && t->dim() == 1 && t->size(0) == c, "conv_bn_forward(", to_string(strategy),
                 "): gamma, beta, running_mean and running_var must be [", c, "] (the weight's output channels, ",
                 shape_str(a.weight.sizes()), "), got ", t->defined() ? shape_str(t->sizes()) : "undefined");
}

// Batch statistics need two or more values per channel (the unbiased running variance
// divides by M - 1), as nn::BatchNorm2d in training.
void check_batch(FoldStrategy strategy, const Tensor& z) {
  LOWBIT_CHECK(z.numel() / z.size(1) > 1, "ConvBn2d(", to_string(strategy),
               "): training with batch statistics needs more than one value per channel, but the conv output is ",
               shape_str(z.sizes()));
}

// num_batches_tracked + 1, as nn::BatchNorm2d counts a training call.
void count_batch(const ConvBnArgs& a) {
  if (!a.num_batches_tracked.defined()) return;
  NoGradGuard no_grad;
  Tensor count = a.num_batches_tracked;
  count.copy_(raw::add(count, 1.0));
  count.bump_version();
}

// BN in training mode on u: batch statistics normalise, running ones are updated.
Tensor bn_train(FoldStrategy strategy, const ConvBnArgs& a, const Tensor& u) {
  check_batch(strategy, u);
  Tensor y = batch_norm(u, a.gamma, a.beta, a.running_mean, a.running_var, true, a.momentum, a.eps);
  count_batch(a);
  return y;
}

// The running-statistics update nn::BatchNorm2d makes on z, without its output: the
// same kernel, so the same bits (strategies 2 and 3 on the float conv output).
void track_batch_stats(const ConvBnArgs& a, const Tensor& z) {
  NoGradGuard no_grad;
  batch_norm(detach(z), Tensor(), Tensor(), a.running_mean, a.running_var, true, a.momentum, a.eps);
  count_batch(a);
}

// μ_B and σ_B = sqrt(var_B + eps) per channel of z [N, C, H, W], with the biased variance
// (what BN normalises with); differentiable, so gradients reach x and w through them.
struct BatchStats {
  Tensor mean, sigma;
};
BatchStats batch_stats(const Tensor& z, double eps) {
  return {mean(z, {0, 2, 3}), sigma_of(var(z, {0, 2, 3}, /*correction=*/0), eps)};
}

// Strategy 1, every eval, and frozen 2-4: conv(x, q(w·γ/σ)) + β − γ(μ − b)/σ.
Tensor forward_running_fold(const ConvBnArgs& a, const Tensor& x) {
  const FoldedConv f = fold_conv_bn(a.weight, a.bias, a.gamma, a.beta, a.running_mean, a.running_var, a.eps);
  return conv(a, x, quantize_weight(a, f.weight), f.bias);
}

// Strategy -1: conv(x, q(w)) + b, then BN (frozen: BN in eval mode).
Tensor forward_none(const ConvBnArgs& a, const Tensor& x, bool bn_frozen) {
  const Tensor u = conv(a, x, quantize_weight(a, a.weight), a.bias);
  if (bn_frozen) return batch_norm(u, a.gamma, a.beta, a.running_mean, a.running_var, false, a.momentum, a.eps);
  return bn_train(FoldStrategy::none, a, u);
}

// Strategy 2 (Jacob et al. 2018): the float conv gives μ_B, σ_B; the weight is folded
// with them, y = conv(x, q(w·γ/σ_B)) + β − γ(μ_B − b)/σ_B.
Tensor forward_jacob(const ConvBnArgs& a, const Tensor& x) {
  const Tensor z = conv(a, x, a.weight, a.bias);
  check_batch(FoldStrategy::jacob, z);
  const BatchStats s = batch_stats(z, a.eps);
  const Tensor y = conv(a, x, quantize_weight(a, fold_weight(a.weight, a.gamma, s.sigma)),
                        fold_bias(a.bias, a.gamma, a.beta, s.mean, s.sigma));
  track_batch_stats(a, z);
  return y;
}

// Strategy 3 (Krishnamoorthi 2018): the weight is folded with the running σ (a stable
// grid for q), the output corrected to batch statistics by σ/σ_B:
// y = conv(x, q(w·γ/σ))·(σ/σ_B) + β − γ(μ_B − b)/σ_B. σ is read before this batch's update.
// The per-channel factor σ/σ_B is applied to the quantized weight's rows, not to the
// output: conv is linear in each output channel's filter, so conv(x, v)·k = conv(x, v·k)
// for a per-channel k; the result and the gradients are the same functions, computed on
// a weight-sized tensor instead of an activation-sized one (QAT's cost, bench/qat_bench).
Tensor forward_krishnamoorthi(const ConvBnArgs& a, const Tensor& x) {
  const Tensor z = conv(a, x, a.weight, a.bias);
  check_batch(FoldStrategy::krishnamoorthi, z);
  const BatchStats s = batch_stats(z, a.eps);
  const Tensor sigma = sigma_of(a.running_var, a.eps);
  const Tensor q = quantize_weight(a, fold_weight(a.weight, a.gamma, sigma));
  const Tensor y = conv(a, x, mul(q, as_weight_rows(div(sigma, s.sigma))),
                        fold_bias(a.bias, a.gamma, a.beta, s.mean, s.sigma));
  track_batch_stats(a, z);
  return y;
}

// Strategy 4 (PyTorch's ConvBn2d._forward_approximate): u = conv(x, q(w·γ/σ)) / (γ/σ) + b,
// then BN with batch statistics. The division by γ/σ is applied to the rows of the
// quantized weight, u = conv(x, q(w·γ/σ) / (γ/σ)) + b (the same function, see strategy 3),
// which makes this strategy's training step cost the float one's plus the weight work.
// A channel with γ exactly 0 has the folded weight 0 and q/0 = 0/0; its filter is the
// float w instead, so u = conv(x, w) + b there (BN then outputs β, as it does for γ = 0,
// with the float model's statistics and dγ). where() keeps NaN out of the gradients too:
// the division sees 1 in those channels.
Tensor forward_pytorch(const ConvBnArgs& a, const Tensor& x) {
  const Tensor sigma = sigma_of(a.running_var, a.eps);
  const Tensor scale = div(a.gamma, sigma);
  const Tensor q = quantize_weight(a, mul(a.weight, as_weight_rows(scale)));
  const Tensor zero_gamma = raw::eq(a.gamma, zeros({a.gamma.numel()}, a.gamma.dtype(), a.gamma.device()));
  const std::vector<uint8_t> is_zero = zero_gamma.to_vector<uint8_t>();
  Tensor filters;
  if (std::find(is_zero.begin(), is_zero.end(), 1) == is_zero.end()) {
    filters = div(q, as_weight_rows(scale));
  } else {
    const Tensor safe_scale = where(zero_gamma, ones({scale.numel()}, scale.dtype(), scale.device()), scale);
    filters = where(as_weight_rows(zero_gamma), a.weight, div(q, as_weight_rows(safe_scale)));
  }
  return bn_train(FoldStrategy::pytorch, a, conv(a, x, filters, a.bias));
}

}  // namespace

FoldedConv fold_conv_bn(const Tensor& w, const Tensor& b, const Tensor& gamma, const Tensor& beta,
                        const Tensor& mean, const Tensor& var, double eps) {
  const Tensor sigma = sigma_of(var, eps);
  return {fold_weight(w, gamma, sigma), fold_bias(b, gamma, beta, mean, sigma)};
}

Tensor conv_bn_forward(FoldStrategy strategy, const ConvBnArgs& a, const Tensor& x, bool training,
                       bool bn_frozen) {
  check_args(strategy, a);
  if (strategy == FoldStrategy::merge) return conv(a, x, quantize_weight(a, a.weight), a.bias);
  // QUANT_NUMERICS §7: eval is the running fold for every strategy; so is training once
  // the statistics are frozen, except for -1, whose q sits on the unfolded weight.
  if (!training || strategy == FoldStrategy::fold_frozen) return forward_running_fold(a, x);
  if (strategy == FoldStrategy::none) return forward_none(a, x, bn_frozen);
  if (bn_frozen) return forward_running_fold(a, x);
  switch (strategy) {
    case FoldStrategy::jacob: return forward_jacob(a, x);
    case FoldStrategy::krishnamoorthi: return forward_krishnamoorthi(a, x);
    case FoldStrategy::pytorch: return forward_pytorch(a, x);
    default: break;
  }
  throw_error(str_cat("conv_bn_forward: strategy ", static_cast<int>(strategy), " is not one of -1..4"));
}

namespace {

void check_modules(const nn::Conv2d* conv, const nn::BatchNorm2d* bn, const Quantizer* weight_quant) {
  LOWBIT_CHECK(conv != nullptr && bn != nullptr, "ConvBn2d: conv and bn must both be given (conv ",
               conv ? "given" : "null", ", bn ", bn ? "given" : "null", ")");
  const std::string both = str_cat("(conv Conv2d(", conv->extra_repr(), "), bn BatchNorm2d(", bn->extra_repr(), "))");
  LOWBIT_CHECK(conv->out_channels == bn->num_features, "ConvBn2d: conv has ", conv->out_channels,
               " output channels but bn has ", bn->num_features, " features ", both);
  LOWBIT_CHECK(bn->options.affine, "ConvBn2d: bn must be affine (gamma and beta are folded into the weight) ", both);
  LOWBIT_CHECK(conv->weight.dtype() == bn->running_mean.dtype(), "ConvBn2d: conv is ",
               dtype_name(conv->weight.dtype()), " but bn is ", dtype_name(bn->running_mean.dtype()), " ", both);
  if (weight_quant != nullptr && weight_quant->config.per_channel())
    LOWBIT_CHECK(weight_quant->config.ch_axis == 0 && weight_quant->config.channels == conv->out_channels,
                 "ConvBn2d: the weight quantizer is ", weight_quant->config.str(), " but the folded weight ",
                 shape_str(conv->weight.sizes()), " needs per tensor or per channel along axis 0 with ",
                 conv->out_channels, " channels");
}

// Strategy 0: a new Conv2d with bias holding the eval fold (the same fold_conv_bn as
// every eval forward, so its bits are theirs). Its constructor's random initial values
// are overwritten; they are drawn from a scratch generator so the default one is untouched.
std::shared_ptr<nn::Conv2d> merged_conv(const nn::Conv2d& conv, const nn::BatchNorm2d& bn) {
  Generator scratch;
  nn::Conv2dOptions options = conv.options;
  options.bias = true;
  options.gen = &scratch;
  auto merged = std::make_shared<nn::Conv2d>(conv.in_channels, conv.out_channels, conv.kernel_size, options);
  NoGradGuard no_grad;
  const FoldedConv f = fold_conv_bn(conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                                    bn.options.eps);
  merged->weight.copy_(f.weight);
  merged->bias.copy_(f.bias);
  return merged;
}

bool tracks_statistics(FoldStrategy s) {
  return s == FoldStrategy::none || s == FoldStrategy::jacob || s == FoldStrategy::krishnamoorthi ||
         s == FoldStrategy::pytorch;
}

}  // namespace

ConvBn2d::ConvBn2d(std::shared_ptr<nn::Conv2d> conv_, std::shared_ptr<nn::BatchNorm2d> bn_, FoldStrategy strategy_,
                   std::shared_ptr<Quantizer> weight_quant_)
    : Module("ConvBn2d"), strategy(strategy_) {
  LOWBIT_CHECK(std::find(kStrategies.begin(), kStrategies.end(), strategy) != kStrategies.end(),
               "ConvBn2d: strategy ", static_cast<int>(strategy), " is not one of -1..4");
  check_modules(conv_.get(), bn_.get(), weight_quant_.get());
  if (strategy == FoldStrategy::merge) {
    conv = register_module("conv", merged_conv(*conv_, *bn_));
  } else {
    conv = register_module("conv", conv_);
    bn = register_module("bn", bn_);
  }
  if (weight_quant_) weight_quant = register_module("weight_quant", weight_quant_);
  if (tracks_statistics(strategy)) frozen_ = register_buffer("bn_frozen", scalar_tensor(0, DType::i64));
}

ConvBnArgs ConvBn2d::args() const {
  ConvBnArgs a;
  a.weight = conv->weight;
  a.bias = conv->bias;
  a.stride = conv->options.stride;
  a.padding = conv->options.padding;
  a.dilation = conv->options.dilation;
  a.groups = conv->options.groups;
  if (bn) {
    a.gamma = bn->weight;
    a.beta = bn->bias;
    a.running_mean = bn->running_mean;
    a.running_var = bn->running_var;
    a.num_batches_tracked = bn->num_batches_tracked;
    a.eps = bn->options.eps;
    a.momentum = nn::batch_norm_momentum(*bn);
  }
  a.weight_quant = weight_quant.get();
  return a;
}

Tensor ConvBn2d::forward(const Tensor& x) {
  return conv_bn_forward(strategy, args(), input_quant(x), is_training(), bn_frozen());
}

void ConvBn2d::freeze_bn(bool frozen) {
  if (frozen_.defined()) frozen_.fill_(frozen ? 1 : 0);
}

bool ConvBn2d::bn_frozen() const { return !frozen_.defined() || frozen_.item() != 0; }

FoldedConv ConvBn2d::folded_weight_and_bias() const {
  NoGradGuard no_grad;
  if (strategy == FoldStrategy::merge) return {conv->weight.clone(), conv->bias.clone()};
  return fold_conv_bn(conv->weight, conv->bias, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                      bn->options.eps);
}

std::string ConvBn2d::extra_repr() const {
  std::string s = str_cat("strategy=", to_string(strategy), " (", static_cast<int>(strategy), ")");
  if (frozen_.defined()) s += bn_frozen() ? ", bn_frozen=true" : ", bn_frozen=false";
  return s + input_quant.repr("input_quant");
}

int64_t ConvBn2d::macs(const Tensor& input, const Tensor& output) const { return conv->macs(input, output); }

}  // namespace lowbit::quant
