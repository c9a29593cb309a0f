// An activation quantizer as a quantized layer holds it (quant/prepare.h places them).
//
// One tensor has one (s, z): when a tensor feeds several quantized layers (a ResNet
// block's input feeds conv1, the downsample conv and the residual add), all of them hold
// the same Quantizer. The first of them in execution order owns it: it is registered as
// that layer's child (its parameters and state are saved under that layer's name, once);
// the others hold it shared, as a plain member, and print where it lives. Called by each
// holder, the quantizer computes once per forward (quant/quantizer.h).
#pragma once

#include <memory>
#include <string>

#include "nn/module.h"
#include "quant/quantizer.h"

namespace lowbit::quant {

struct ActQuant {
  std::shared_ptr<Quantizer> quantizer;  // null: the tensor stays float here
  std::string owner;                     // "": the holder owns it; else the owner's name

  Tensor operator()(const Tensor& x) const { return quantizer ? (*quantizer)(x) : x; }
  explicit operator bool() const { return quantizer != nullptr; }
  // For extra_repr: "" when absent or owned (the printout shows the child), else
  // ", input_quant=shared(layer1.0.conv1.input_quant)".
  std::string repr(const std::string& slot) const;
};

// Sets `member` of `layer` to `q`, registering the quantizer as the child `slot` when the
// layer owns it. Throws if the member is already set (a layer gets each quantizer once).
void attach(nn::Module& layer, const std::string& slot, ActQuant& member, ActQuant q);

}  // namespace lowbit::quant
