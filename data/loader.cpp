#include "data/loader.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "tensor/kernels/philox.h"
#include "tensor/random.h"

namespace lowbit::data {

namespace {

// Below this many output pixels a batch is written by one thread: starting an OpenMP
// team costs a few microseconds, and 16384 pixels (20 images of 28x28) take ~20 us.
constexpr int64_t kParallelPixels = 16384;

// One sample, crop + flip + normalize fused: dst f32 [C, H, W] from src u8 [C, H, W].
// table is [C][256], table[c][v] = normalize_pixel(v, mean[c], std[c]); the padded
// border is pixel value 0, hence table[c][0].
//
// Output (y, x) of the crop reads input (y + dy, x + dx) with dy = top - p, dx = left - p;
// with the flip it reads the crop's column W-1-x instead, i.e. input column W-1-x+dx.
// The output columns whose input column lies in [0, W) form one range [x0, x1):
//   no flip: x + dx in [0, W)          <=> x in [-dx, W - dx)
//   flip:    W - 1 - x + dx in [0, W)  <=> x in [dx, W + dx)
// so each row is a border run, a run of table lookups, and a border run (no per-pixel branch).
void render_sample(const uint8_t* src, float* dst, const float* table, int64_t C, int64_t H, int64_t W, int64_t p,
                   const AugmentDraw& d) {
  const int64_t dy = d.top - p, dx = d.left - p;
  int64_t x0 = d.flip ? dx : -dx, x1 = d.flip ? W + dx : W - dx;
  x0 = std::clamp<int64_t>(x0, 0, W);
  x1 = std::clamp<int64_t>(x1, x0, W);
  for (int64_t c = 0; c < C; ++c) {
    const float* lut = table + 256 * c;
    const float border = lut[0];
    for (int64_t y = 0; y < H; ++y) {
      float* out = dst + (c * H + y) * W;
      const int64_t in_y = y + dy;
      if (in_y < 0 || in_y >= H) {
        std::fill(out, out + W, border);
        continue;
      }
      const uint8_t* in = src + (c * H + in_y) * W;
      std::fill(out, out + x0, border);
      if (d.flip) {
        for (int64_t x = x0; x < x1; ++x) out[x] = lut[in[W - 1 - x + dx]];
      } else {
        for (int64_t x = x0; x < x1; ++x) out[x] = lut[in[x + dx]];
      }
      std::fill(out + x1, out + W, border);
    }
  }
}

// The stream layout of loader.h: one Philox block per (seed, epoch, position).
// counter_hi = epoch + 1 >= 1 keeps this stream apart from randperm's (counter_hi = 0).
AugmentDraw draw_augment(uint64_t seed, int64_t epoch, int64_t position, const Augment& augment) {
  const Philox4x32 x = philox4x32_10(static_cast<uint64_t>(position), static_cast<uint64_t>(epoch) + 1, seed);
  const uint64_t range = static_cast<uint64_t>(2 * augment.crop_padding + 1);  // <= 2^31: x * range fits 64 bits
  AugmentDraw d;
  d.top = static_cast<int64_t>((x.x[0] * range) >> 32);
  d.left = static_cast<int64_t>((x.x[1] * range) >> 32);
  d.flip = augment.horizontal_flip && (x.x[2] >> 31) == 1;
  return d;
}

}  // namespace

InMemoryLoader::InMemoryLoader(Tensor images, Tensor labels, int64_t batch_size, bool shuffle, uint64_t seed,
                               Normalize normalize, Augment augment, bool drop_last)
    : batch_size_(batch_size), shuffle_(shuffle), drop_last_(drop_last), seed_(seed), augment_(augment) {
  constexpr const char* op = "InMemoryLoader";
  LOWBIT_CHECK(images.defined() && labels.defined(), op, ": images and labels must be defined tensors");
  LOWBIT_CHECK(images.dtype() == DType::u8 && (images.dim() == 3 || images.dim() == 4) && images.device().is_cpu(), op,
               ": images must be u8 [N,H,W] or [N,C,H,W] on the CPU, got ", describe(images));
  LOWBIT_CHECK(is_integral(labels.dtype()) && labels.dim() == 1 && labels.device().is_cpu(), op,
               ": labels must be an integer tensor [N] on the CPU, got ", describe(labels));
  LOWBIT_CHECK(labels.size(0) == images.size(0), op, ": ", images.size(0), " images but ", labels.size(0),
               " labels (images ", describe(images), ", labels ", describe(labels), ")");
  for (int64_t d = 0; d < images.dim(); ++d)
    LOWBIT_CHECK(images.size(d) > 0, op, ": images must not be empty, got ", describe(images));
  LOWBIT_CHECK(batch_size > 0, op, ": batch_size must be > 0, got ", batch_size);
  // The upper bound keeps the draw's 32x32-bit product and the pixel arithmetic exact.
  LOWBIT_CHECK(augment.crop_padding >= 0 && augment.crop_padding < (int64_t{1} << 30), op,
               ": augment.crop_padding must be in [0, 2^30), got ", augment.crop_padding);

  n_ = images.size(0);
  c_ = images.dim() == 4 ? images.size(1) : 1;
  h_ = images.size(-2);
  w_ = images.size(-1);
  images_ = images.contiguous().reshape({n_, c_, h_, w_});
  labels_ = labels.to(DType::i64).contiguous();

  LOWBIT_CHECK(static_cast<int64_t>(normalize.mean.size()) == c_ && static_cast<int64_t>(normalize.std.size()) == c_,
               op, ": normalize has ", normalize.mean.size(), " means and ", normalize.std.size(),
               " stds but the images have ", c_, " channel", c_ == 1 ? "" : "s", " (images ", describe(images), ")");
  lut_.resize(static_cast<size_t>(256 * c_));
  for (int64_t c = 0; c < c_; ++c) {
    const double mean = normalize.mean[c], std = normalize.std[c];
    // Checked in f32 too, where the table is computed: a std of 1e-50 would round to 0 there.
    const float mean32 = static_cast<float>(mean), std32 = static_cast<float>(std);
    LOWBIT_CHECK(std::isfinite(mean32) && std::isfinite(std32) && std32 > 0, op, ": normalize channel ", c,
                 " needs a finite mean and a finite std > 0 (in f32), got mean ", mean, " std ", std);
    // The same expression as transforms.cpp's normalize, so the bits agree.
    for (int v = 0; v < 256; ++v)
      lut_[static_cast<size_t>(256 * c + v)] = normalize_pixel(static_cast<float>(v), mean32, std32);
  }
}

int64_t InMemoryLoader::batches_per_epoch() const {
  return drop_last_ ? n_ / batch_size_ : (n_ + batch_size_ - 1) / batch_size_;
}

Tensor InMemoryLoader::order_for(int64_t epoch) const {
  LOWBIT_CHECK(epoch >= 0, "InMemoryLoader: epoch must be >= 0, got ", epoch);
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->epoch == epoch || (!shuffle_ && cache_->order.defined())) return cache_->order;
  if (shuffle_) {
    // The (epoch+1)-th randperm drawn from Generator{seed, 0}: each one consumes ceil(N/2)
    // Philox blocks. (The product wraps modulo 2^64 only past ~3e14 epochs of 60000 samples.)
    Generator gen{seed_, static_cast<uint64_t>(epoch) * static_cast<uint64_t>((n_ + 1) / 2)};
    cache_->order = randperm(n_, Device::cpu(), &gen);
  } else {
    cache_->order = arange(n_);
  }
  cache_->epoch = epoch;
  return cache_->order;
}

Tensor InMemoryLoader::epoch_order(int64_t epoch) const { return order_for(epoch).clone(); }

AugmentDraw InMemoryLoader::augment_draw(int64_t epoch, int64_t position) const {
  LOWBIT_CHECK(epoch >= 0, "InMemoryLoader: epoch must be >= 0, got ", epoch);
  LOWBIT_CHECK(position >= 0 && position < n_, "InMemoryLoader: position ", position, " is out of range for ", n_,
               " samples");
  return draw_augment(seed_, epoch, position, augment_);
}

Batch InMemoryLoader::batch(int64_t epoch, int64_t index) const {
  const int64_t nbatches = batches_per_epoch();
  LOWBIT_CHECK(index >= 0 && index < nbatches, "InMemoryLoader: batch index ", index, " is out of range: an epoch has ",
               nbatches, " batches (", n_, " samples, batch_size ", batch_size_, drop_last_ ? ", drop_last" : "", ")");
  const Tensor order = order_for(epoch);
  const int64_t first = index * batch_size_;
  const int64_t count = std::min(batch_size_, n_ - first);
  const int64_t pixels = c_ * h_ * w_;

  Batch out{empty({count, c_, h_, w_}, DType::f32), empty({count}, DType::i64), first};
  const int64_t* sample_of = order.data<int64_t>() + first;  // sample index at each position of the batch
  const uint8_t* src = images_.data<uint8_t>();
  const int64_t* labels = labels_.data<int64_t>();
  float* dst = out.images.data<float>();
  int64_t* dst_labels = out.labels.data<int64_t>();
  const float* table = lut_.data();
  const int64_t p = augment_.crop_padding;
  // Each image's draws depend only on its position and each thread writes only its own
  // images, so the result is the same for any thread count and schedule.
#pragma omp parallel for schedule(static) if (count * pixels >= kParallelPixels)
  for (int64_t i = 0; i < count; ++i) {
    const int64_t sample = sample_of[i];
    const AugmentDraw d = draw_augment(seed_, epoch, first + i, augment_);  // no checks: nothing may throw here
    render_sample(src + sample * pixels, dst + i * pixels, table, c_, h_, w_, p, d);
    dst_labels[i] = labels[sample];
  }
  return out;
}

}  // namespace lowbit::data
