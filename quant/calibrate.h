// Post-training calibration (QUANT_NUMERICS §4, §6) and BN re-calibration (MQBench
// Appendix C.3) of a prepared model (quant/prepare.h).
//
//   quant::calibrate(*model, [&](int64_t i) { return loader.batch(0, i).images; }, 16);
//   quant::set_state(*model, quant::QuantState::eval);
//   quant::recalibrate_bn(*model, batches, 16);      // optional
//
// calibrate: every quantizer (except pinned ones) in state `calibrate`, the model in eval
// mode, no gradients; `count` batches go through, so observers see real activations and
// LSQ / LSQ+ initialise their scales from the first batch. The quantizers are left in the
// calibrate state: set the next one (eval for PTQ, qat to fine-tune).
//
// recalibrate_bn: with the quantizers as they are (eval: the quantized model), the running
// statistics of every BatchNorm2d (standalone or inside a ConvBn2d) are reset and
// re-estimated as the plain average over `count` batches (torch's momentum=None), with
// only the BN layers in training mode (no dropout) and no gradients. ConvBn2d layers with
// frozen statistics (strategies merge and fold_frozen, or after freeze_bn) are unfrozen
// for the pass and frozen again after it, except merge (no BN left) and fold_frozen (its
// statistics are never batch statistics): those are skipped. Modes and momenta are
// restored afterwards, also when a batch throws. Returns the number of BN layers re-estimated.
#pragma once

#include <cstdint>
#include <functional>

#include "nn/module.h"

namespace lowbit::quant {

using BatchSource = std::function<Tensor(int64_t index)>;

void calibrate(nn::Module& model, const BatchSource& batch, int64_t count);
int64_t recalibrate_bn(nn::Module& model, const BatchSource& batch, int64_t count);

}  // namespace lowbit::quant
