// InMemoryLoader: batches of a data set held in memory (Fashion-MNIST, CIFAR), with
// seeded shuffling, normalization, random crop with zero padding and horizontal flip.
//
// Determinism and resumability (DESIGN.md, contract 2): batch(epoch, index) is a pure
// function of (seed, epoch, index) and the data. Nothing is carried from one call to the
// next, so a run resumed at (epoch, index) sees exactly the batches it would have seen,
// and the result is the same for every OpenMP thread count. Two Philox streams
// (tensor/kernels/philox.h), both keyed by `seed`, never share a counter:
//
//   order:   the epoch's order is randperm(N) on Generator{seed, epoch * ceil(N/2)}, i.e.
//            the (epoch+1)-th permutation drawn from Generator{seed, 0} (each randperm
//            advances the offset by ceil(N/2) blocks). Philox counter_hi = 0.
//            Without shuffle the order is 0, 1, ..., N-1.
//   augment: the sample at position `pos` of the epoch (pos = first + i) uses the single
//            block x = philox4x32_10(counter_lo = pos, counter_hi = epoch + 1, key = seed):
//              top  = (x[0] * (2p + 1)) >> 32      crop offset in [0, 2p]
//              left = (x[1] * (2p + 1)) >> 32      (bias at most (2p+1) / 2^32)
//              flip = horizontal_flip && (x[2] >> 31) == 1   (probability exactly 1/2)
//
// Per sample the pipeline is torchvision's RandomCrop(padding = p) -> RandomHorizontalFlip
// -> ToTensor -> Normalize (data/transforms.h gives the reference of each step). The loader
// fuses them into one pass per image with a 256-entry lookup table per channel holding
// normalize_pixel(v, mean, std) for v = 0..255, so its output equals the reference
// composition bit for bit (tests/loader_test.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "data/transforms.h"
#include "tensor/tensor.h"

namespace lowbit::data {

struct Batch {
  Tensor images;      // f32 [B, C, H, W], normalized
  Tensor labels;      // i64 [B]
  int64_t first = 0;  // position of the batch's first sample in the epoch order
};

// The random decisions for one sample (see the stream layout above).
struct AugmentDraw {
  int64_t top = 0, left = 0;  // crop offset into the padded image, each in [0, 2p]
  bool flip = false;
};

class InMemoryLoader {
 public:
  // images: u8 [N, H, W] (one channel) or [N, C, H, W], on the CPU; labels: integer [N]
  // (any integer dtype; returned as i64). normalize: C means and C stds > 0. Batches hold
  // batch_size samples; the last one of an epoch holds the rest unless drop_last.
  // Only handles to the tensors are kept (no copy when they are contiguous): do not
  // modify them while the loader is in use.
  InMemoryLoader(Tensor images, Tensor labels, int64_t batch_size, bool shuffle, uint64_t seed, Normalize normalize,
                 Augment augment = {}, bool drop_last = false);

  int64_t size() const { return n_; }  // samples
  int64_t batch_size() const { return batch_size_; }
  int64_t batches_per_epoch() const;
  int64_t channels() const { return c_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }

  // Batch `index` (0 <= index < batches_per_epoch()) of epoch `epoch` (>= 0): samples at
  // positions [index * batch_size, ...) of epoch_order(epoch). Safe to call from several
  // threads at once; the images are written in parallel with OpenMP.
  Batch batch(int64_t epoch, int64_t index) const;

  // i64 [N]: the sample index at each position of the epoch.
  Tensor epoch_order(int64_t epoch) const;
  // The crop offset and flip state of the sample at `position` of `epoch`.
  AugmentDraw augment_draw(int64_t epoch, int64_t position) const;

 private:
  Tensor images_;  // u8 [N, C, H, W], contiguous
  Tensor labels_;  // i64 [N], contiguous
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  int64_t batch_size_ = 0;
  bool shuffle_ = false, drop_last_ = false;
  uint64_t seed_ = 0;
  Augment augment_;
  std::vector<float> lut_;  // [C][256]: normalize_pixel(v, mean[c], std[c])

  // The last epoch's order: batch() asks for the same epoch hundreds of times in a row,
  // and a randperm of 60000 costs more than a batch. A cache, not state: the order is
  // recomputed identically whenever the epoch changes. Shared by copies of the loader,
  // which have the same seed and size and so the same orders.
  struct OrderCache {
    std::mutex mutex;
    int64_t epoch = -1;
    Tensor order;  // i64 [N]
  };
  std::shared_ptr<OrderCache> cache_ = std::make_shared<OrderCache>();
  Tensor order_for(int64_t epoch) const;  // cached; callers must not modify it
};

}  // namespace lowbit::data
