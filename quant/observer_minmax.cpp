// MinMax and EMA MinMax, QUANT_NUMERICS §4: the batch min/max come from the base's checked
// min/max pass (observer.cpp); these observers only combine them across batches.
#include "quant/observer_minmax.h"

namespace lowbit::quant {

MinMaxObserver::MinMaxObserver(ObserverOptions options) : Observer("MinMaxObserver", options) {
  register_range_buffers();
}

void MinMaxObserver::observe_batch(const Batch& batch) { update_running(batch.min, batch.max); }

EmaMinMaxObserver::EmaMinMaxObserver(ObserverOptions options) : Observer("EmaMinMaxObserver", options) {
  register_range_buffers();
}

void EmaMinMaxObserver::observe_batch(const Batch& batch) { update_ema(batch.min, batch.max); }

std::string EmaMinMaxObserver::extra_repr() const {
  return str_cat(Observer::extra_repr(), ", averaging_constant=", options.averaging_constant);
}

}  // namespace lowbit::quant
