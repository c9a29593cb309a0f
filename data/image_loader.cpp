// ImageLoader: worker threads, a bounded reorder queue, clean shutdown (see image_loader.h).
#include "data/image_loader.h"

#include <algorithm>
#include <utility>

#include "tensor/device_memory.h"
#include "tensor/error.h"
#include "tensor/random.h"

namespace lowbit::data {

struct ImageLoader::Slot {
  ImageBatch batch;
  std::exception_ptr error;  // rethrown by next() when the consumer reaches this batch
  std::vector<SkippedSample> skipped;
};

ImageLoader::ImageLoader(const Dataset& dataset, SampleTransform transform, ImageLoaderOptions options)
    : dataset_(dataset), transform_(std::move(transform)), options_(options) {
  const ImageLoaderOptions& o = options_;
  LOWBIT_CHECK(transform_ != nullptr, "ImageLoader: no sample transform given");
  LOWBIT_CHECK(o.batch_size > 0, "ImageLoader: batch_size must be > 0, got ", o.batch_size);
  LOWBIT_CHECK(o.channels > 0 && o.height > 0 && o.width > 0, "ImageLoader: the sample shape must be positive, got [",
               o.channels, ", ", o.height, ", ", o.width, "]");
  LOWBIT_CHECK(o.workers >= 1, "ImageLoader: workers must be >= 1, got ", o.workers);
  LOWBIT_CHECK(o.prefetch >= 1, "ImageLoader: prefetch must be >= 1, got ", o.prefetch);
  LOWBIT_CHECK(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size, "ImageLoader: rank ", o.rank,
               " is not in [0, world_size = ", o.world_size, ")");
  const int64_t n = dataset_.size();
  LOWBIT_CHECK(n > 0, "ImageLoader: the dataset is empty");
  shard_size_ = (n + o.world_size - 1) / o.world_size;  // DistributedSampler: padded to a multiple of world_size
}

ImageLoader::~ImageLoader() { stop(); }

int64_t ImageLoader::batches_per_epoch() const {
  const int64_t b = options_.batch_size;
  return options_.drop_last ? shard_size_ / b : (shard_size_ + b - 1) / b;
}

std::vector<int64_t> ImageLoader::epoch_indices(int64_t epoch) const {
  LOWBIT_CHECK(epoch >= 0, "ImageLoader: epoch must be >= 0, got ", epoch);
  const int64_t n = dataset_.size(), world = options_.world_size;
  std::vector<int64_t> order(static_cast<size_t>(n));
  if (options_.shuffle) {
    // The InMemoryLoader's stream: the (epoch+1)-th randperm drawn from Generator{seed, 0}.
    Generator gen{options_.seed, static_cast<uint64_t>(epoch) * static_cast<uint64_t>((n + 1) / 2)};
    const Tensor perm = randperm(n, Device::cpu(), &gen);
    std::copy(perm.data<int64_t>(), perm.data<int64_t>() + n, order.begin());
  } else {
    for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  }
  // Pad by repeating the start (as often as needed) to total = shard * world, then take
  // every world-th position from rank on.
  std::vector<int64_t> shard;
  shard.reserve(static_cast<size_t>(shard_size_));
  for (int64_t pos = options_.rank; pos < shard_size_ * world; pos += world)
    shard.push_back(order[static_cast<size_t>(pos % n)]);
  return shard;
}

void ImageLoader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = false;
  done_.clear();
}

void ImageLoader::start_epoch(int64_t epoch) {
  std::vector<int64_t> indices = epoch_indices(epoch);  // validates epoch
  stop();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    indices_ = std::move(indices);  // constant while the workers run: they read it unlocked
    epoch_ = epoch;
    next_to_fill_ = 0;
    next_to_return_ = 0;
  }
  for (int w = 0; w < options_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
}

void ImageLoader::worker_loop() {
  const int64_t batches = batches_per_epoch();
  for (;;) {
    int64_t b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Bounded: batch b may be filled only while fewer than `prefetch` batches are ahead
      // of the consumer.
      work_cv_.wait(lock, [&] {
        return stopping_ || next_to_fill_ >= batches || next_to_fill_ < next_to_return_ + options_.prefetch;
      });
      if (stopping_ || next_to_fill_ >= batches) return;
      b = next_to_fill_++;
    }
    auto slot = std::make_unique<Slot>();
    try {
      fill(*slot, b);
    } catch (...) {
      slot->error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_[b] = std::move(slot);
    }
    ready_cv_.notify_all();
  }
}

// Samples are written into the batch tensor in order; a skipped sample leaves no hole (the
// next one takes its place), so a short batch is a prefix of the tensor, returned as a view.
void ImageLoader::fill(Slot& slot, int64_t b) {
  const ImageLoaderOptions& o = options_;
  const int64_t begin = b * o.batch_size, count = std::min(o.batch_size, shard_size_ - begin);
  const int64_t sample = o.channels * o.height * o.width;
  const bool pin = o.pin_memory && cuda_device_count() > 0;
  auto make = [pin](const Shape& shape, DType dtype) { return pin ? empty_pinned(shape, dtype) : empty(shape, dtype); };
  Tensor images = make({count, o.channels, o.height, o.width}, DType::f32);
  Tensor labels = make({count}, DType::i64), indices = make({count}, DType::i64);
  float* out = images.data<float>();
  int64_t filled = 0;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t index = indices_[static_cast<size_t>(begin + i)];
    try {
      const Image image = dataset_.image(index);
      transform_(image, SampleKey{o.seed, epoch_, index}, out + filled * sample);
    } catch (const Error& e) {
      if (!o.skip_bad_samples) throw;
      slot.skipped.push_back({index, dataset_.sample_name(index), e.what()});
      continue;
    }
    labels.data<int64_t>()[filled] = dataset_.label(index);
    indices.data<int64_t>()[filled] = index;
    ++filled;
  }
  slot.batch.index = b;
  slot.batch.images = filled == count ? images : images.narrow(0, 0, filled);
  slot.batch.labels = filled == count ? labels : labels.narrow(0, 0, filled);
  slot.batch.indices = filled == count ? indices : indices.narrow(0, 0, filled);
}

std::optional<ImageBatch> ImageLoader::next() {
  std::unique_ptr<Slot> slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    LOWBIT_CHECK(epoch_ >= 0, "ImageLoader: call start_epoch() before next()");
    if (next_to_return_ >= batches_per_epoch()) return std::nullopt;
    const int64_t b = next_to_return_;
    ready_cv_.wait(lock, [&] { return done_.count(b) > 0; });
    slot = std::move(done_[b]);
    done_.erase(b);
    ++next_to_return_;
    skipped_.insert(skipped_.end(), slot->skipped.begin(), slot->skipped.end());
  }
  work_cv_.notify_all();
  if (slot->error) {
    stop();
    std::lock_guard<std::mutex> lock(mutex_);
    next_to_return_ = batches_per_epoch();  // the epoch ends here: start_epoch() to go on
    std::rethrow_exception(slot->error);
  }
  return std::move(slot->batch);
}

std::vector<SkippedSample> ImageLoader::skipped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return skipped_;
}

}  // namespace lowbit::data
