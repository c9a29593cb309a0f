#include "quant/act_quant.h"

#include "tensor/error.h"

namespace lowbit::quant {

std::string ActQuant::repr(const std::string& slot) const {
  if (!quantizer || owner.empty()) return {};
  return str_cat(", ", slot, "=shared(", owner, ")");
}

void attach(nn::Module& layer, const std::string& slot, ActQuant& member, ActQuant q) {
  LOWBIT_CHECK(!member.quantizer, layer.type(), ": ", slot, " is already set");
  if (q.quantizer && q.owner.empty()) layer.add_module(slot, q.quantizer);
  member = std::move(q);
}

}  // namespace lowbit::quant
