// InMemoryLoader: one training batch of Fashion-MNIST's shape (256 images, 1x28x28, u8)
// with random crop (padding 4), horizontal flip and normalize, fused as the loader does
// it against the same samples through the reference transforms of data/transforms.h, in
// one binary so the ratio comes from the same run (PERF.md: compare side by side).
// Synthetic images of the data set's size (60000), so no data set is needed.
//
//   build/release/bench/loader_bench --benchmark_min_time=0.5
// Threads: 2 unless LOWBIT_NUM_THREADS is set. items_per_second is images/s.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "data/loader.h"
#include "data/transforms.h"
#include "tensor/config.h"
#include "tensor/random.h"

namespace {

using namespace lowbit;

void set_threads() {
  if (!std::getenv("LOWBIT_NUM_THREADS")) set_num_threads(2);
}

constexpr int64_t kSamples = 60000, kBatch = 256;

Tensor synthetic_images() {
  Generator gen{7, 0};
  return randint({kSamples, 28, 28}, 0, 256, DType::u8, Device::cpu(), &gen);
}

data::InMemoryLoader make_loader(bool augment) {
  return data::InMemoryLoader(synthetic_images(), arange(kSamples), kBatch, true, 1, {{0.2860}, {0.3530}},
                              augment ? data::Augment{4, true} : data::Augment{});
}

// state.range(0): 1 = crop + flip + normalize, 0 = normalize only.
void BM_loader_batch(benchmark::State& state) {
  set_threads();
  const data::InMemoryLoader loader = make_loader(state.range(0) == 1);
  int64_t index = 0;
  for (auto _ : state) {
    const data::Batch b = loader.batch(0, index);
    benchmark::DoNotOptimize(b.images.data_ptr());
    index = (index + 1) % loader.batches_per_epoch();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// The same batches, one image at a time through crop_padded -> horizontal_flip -> normalize.
void BM_loader_batch_reference(benchmark::State& state) {
  set_threads();
  const Tensor images = synthetic_images();
  const data::InMemoryLoader loader = make_loader(true);
  const data::Normalize stats{{0.2860}, {0.3530}};
  const Tensor order = loader.epoch_order(0);
  const int64_t* sample = order.data<int64_t>();
  int64_t index = 0;
  for (auto _ : state) {
    for (int64_t i = 0; i < kBatch; ++i) {
      const int64_t position = index * kBatch + i;
      const data::AugmentDraw d = loader.augment_draw(0, position);
      Tensor x = data::crop_padded(images.select(0, sample[position]).unsqueeze(0), 4, d.top, d.left);
      if (d.flip) x = data::horizontal_flip(x);
      benchmark::DoNotOptimize(data::normalize(x, stats).data_ptr());
    }
    index = (index + 1) % (loader.batches_per_epoch() - 1);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// The once-per-epoch cost: a randperm of 60000 (the loader caches the current epoch's order).
void BM_epoch_order(benchmark::State& state) {
  const data::InMemoryLoader loader = make_loader(false);
  int64_t epoch = 0;
  for (auto _ : state) benchmark::DoNotOptimize(loader.epoch_order(epoch++).data_ptr());
}

}  // namespace

BENCHMARK(BM_loader_batch)->Arg(1)->Arg(0)->ArgName("augment")->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_loader_batch_reference)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_epoch_order)->Unit(benchmark::kMicrosecond)->UseRealTime();

BENCHMARK_MAIN();
