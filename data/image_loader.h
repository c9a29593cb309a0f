// ImageLoader: batches from a Dataset (data/dataset.h), decoded and transformed by worker
// threads into a bounded queue of ready batches.
//
// Each batch is one f32 tensor [B, C, H, W] allocated once; the workers decode a sample
// and the transform writes it straight into its slot (no intermediate copies). Workers
// take whole batches; a batch leaves the loader in order, so the consumer sees batch 0,
// 1, 2, ... whichever worker finished first. At most `prefetch` batches exist at once
// (being filled or waiting), which bounds memory: prefetch * B * C * H * W * 4 bytes plus
// one decoded image per worker.
//
// Determinism (DESIGN.md, contract 2): the epoch's order and every random augmentation
// depend only on (seed, epoch, sample index), never on the number of workers or on timing:
//
//   order:  shuffle: randperm(N) on Generator{seed, epoch * ceil(N/2)} (the InMemoryLoader's
//           stream, data/loader.h); else 0..N-1. With world_size > 1 the order is then
//           sharded as torch's DistributedSampler (drop_last = False) does: padded by
//           repeating its start to a multiple of world_size, and rank r takes positions
//           r, r + world_size, ... (drop_last here drops a last, short batch).
//   sample: the transform gets a SampleKey {seed, epoch, index}, from which it draws
//           (data/image_transforms.h keys Philox with it).
//
// Errors: a sample that cannot be decoded raises lowbit::Error (naming the file) from
// next() when the consumer reaches its batch; the loader stops cleanly. With
// skip_bad_samples the sample is left out of its batch instead (the batch is shorter:
// the samples after it move up), and skipped() lists every sample left out so far with
// the reason. Destroying the loader, or starting another epoch, in the middle of an
// epoch stops the workers and joins them: no hang, no leaked thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "tensor/tensor.h"

namespace lowbit::data {

struct SampleKey {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t index = 0;  // the sample's index in the dataset
};

// Writes sample `image` as f32 [C, H, W] (the loader's sample shape) into `out`. Called
// from several worker threads at once: it must not modify shared state. A lowbit::Error it
// throws counts as a bad sample (skipped with skip_bad_samples).
using SampleTransform = std::function<void(const Image& image, const SampleKey& key, float* out)>;

struct ImageLoaderOptions {
  int64_t batch_size = 256;
  int64_t channels = 3, height = 224, width = 224;  // what the transform writes per sample
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int workers = 2;
  int64_t prefetch = 4;  // batches filled or ready at once (>= 1)
  bool skip_bad_samples = false;
  int64_t rank = 0, world_size = 1;  // this process's shard
  // Batches in pinned (page-locked) memory, for fast copies to a GPU. Without a visible CUDA
  // device this is a no-op (as torch's pin_memory): is_pinned(batch.images) tells.
  bool pin_memory = false;
};

struct ImageBatch {
  Tensor images;      // f32 [B, C, H, W]
  Tensor labels;      // i64 [B]
  Tensor indices;     // i64 [B]: the dataset index of each sample
  int64_t index = 0;  // the batch's number in the epoch
};

struct SkippedSample {
  int64_t index = 0;
  std::string name, reason;
};

class ImageLoader {
 public:
  // The dataset must outlive the loader.
  ImageLoader(const Dataset& dataset, SampleTransform transform, ImageLoaderOptions options);
  ~ImageLoader();
  ImageLoader(const ImageLoader&) = delete;
  ImageLoader& operator=(const ImageLoader&) = delete;

  // This rank's samples per epoch and batches per epoch.
  int64_t samples_per_epoch() const { return shard_size_; }
  int64_t batches_per_epoch() const;
  // The dataset indices this rank visits in `epoch`, in order.
  std::vector<int64_t> epoch_indices(int64_t epoch) const;

  // Starts `epoch` (stopping any epoch in progress); then next() returns its batches in
  // order and std::nullopt after the last.
  void start_epoch(int64_t epoch);
  std::optional<ImageBatch> next();

  std::vector<SkippedSample> skipped() const;

 private:
  struct Slot;
  void stop();
  void worker_loop();
  void fill(Slot& slot, int64_t batch);

  const Dataset& dataset_;
  SampleTransform transform_;
  ImageLoaderOptions options_;
  int64_t shard_size_ = 0;

  // State of the current epoch, guarded by mutex_.
  mutable std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<std::thread> threads_;
  std::vector<int64_t> indices_;  // this epoch's indices for this rank
  int64_t epoch_ = -1;
  int64_t next_to_fill_ = 0;     // the next batch a worker takes
  int64_t next_to_return_ = 0;   // the next batch next() returns
  bool stopping_ = false;
  std::map<int64_t, std::unique_ptr<Slot>> done_;  // filled batches waiting for next()
  std::vector<SkippedSample> skipped_;
};

}  // namespace lowbit::data
