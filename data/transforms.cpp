#include "data/transforms.h"

#include <cmath>
#include <cstdint>

namespace lowbit::data {

namespace {

// Every transform takes a CPU u8 or f32 image [C, H, W] and works on a contiguous copy,
// so the loops below index plainly as (c * H + y) * W + x.
Tensor checked_image(const char* op, const Tensor& image) {
  LOWBIT_CHECK(image.defined(), op, ": image is undefined");
  LOWBIT_CHECK(image.dim() == 3, op, ": expected an image [C,H,W], got ", describe(image));
  LOWBIT_CHECK(image.dtype() == DType::u8 || image.dtype() == DType::f32, op, ": expected a u8 or f32 image, got ",
               describe(image));
  LOWBIT_CHECK(image.device().is_cpu(), op, ": expected a CPU image, got ", describe(image));
  return image.contiguous();
}

// Calls fn(T{}) with T = uint8_t or float, matching the image's dtype.
template <typename Fn>
Tensor by_dtype(const Tensor& image, Fn fn) {
  if (image.dtype() == DType::u8) return fn(uint8_t{});
  return fn(float{});
}

}  // namespace

Tensor normalize(const Tensor& image_in, const Normalize& stats) {
  const Tensor image = checked_image("normalize", image_in);
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
  LOWBIT_CHECK(static_cast<int64_t>(stats.mean.size()) == C && static_cast<int64_t>(stats.std.size()) == C,
               "normalize: mean has ", stats.mean.size(), " and std ", stats.std.size(), " values but the image has ",
               C, " channels (image ", describe(image_in), ")");
  for (int64_t c = 0; c < C; ++c) {  // checked in f32, the precision of the arithmetic
    const float mean = static_cast<float>(stats.mean[c]), std = static_cast<float>(stats.std[c]);
    LOWBIT_CHECK(std::isfinite(mean) && std::isfinite(std) && std > 0, "normalize: channel ", c,
                 " needs a finite mean and a finite std > 0 (in f32), got mean ", stats.mean[c], " std ", stats.std[c]);
  }
  Tensor out = empty({C, H, W}, DType::f32);
  float* dst = out.data<float>();
  return by_dtype(image, [&](auto zero) {
    using T = decltype(zero);
    const T* src = image.data<T>();
    for (int64_t c = 0; c < C; ++c) {
      const float mean = static_cast<float>(stats.mean[c]), std = static_cast<float>(stats.std[c]);
      for (int64_t i = c * H * W; i < (c + 1) * H * W; ++i)
        dst[i] = normalize_pixel(static_cast<float>(src[i]), mean, std);
    }
    return out;
  });
}

Tensor pad(const Tensor& image_in, int64_t padding) {
  const Tensor image = checked_image("pad", image_in);
  LOWBIT_CHECK(padding >= 0, "pad: padding must be >= 0, got ", padding, " (image ", describe(image_in), ")");
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
  const int64_t Hp = H + 2 * padding, Wp = W + 2 * padding;
  Tensor out = zeros({C, Hp, Wp}, image.dtype());
  return by_dtype(image, [&](auto zero) {
    using T = decltype(zero);
    const T* src = image.data<T>();
    T* dst = out.data<T>();
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) dst[(c * Hp + y + padding) * Wp + x + padding] = src[(c * H + y) * W + x];
    return out;
  });
}

Tensor crop(const Tensor& image_in, int64_t top, int64_t left, int64_t height, int64_t width) {
  const Tensor image = checked_image("crop", image_in);
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
  LOWBIT_CHECK(top >= 0 && left >= 0 && height >= 0 && width >= 0 && top + height <= H && left + width <= W,
               "crop: window top=", top, " left=", left, " height=", height, " width=", width,
               " does not fit in the image ", describe(image_in));
  Tensor out = empty({C, height, width}, image.dtype());
  return by_dtype(image, [&](auto zero) {
    using T = decltype(zero);
    const T* src = image.data<T>();
    T* dst = out.data<T>();
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x) dst[(c * height + y) * width + x] = src[(c * H + top + y) * W + left + x];
    return out;
  });
}

Tensor crop_padded(const Tensor& image, int64_t padding, int64_t top, int64_t left) {
  checked_image("crop_padded", image);
  LOWBIT_CHECK(padding >= 0, "crop_padded: padding must be >= 0, got ", padding);
  LOWBIT_CHECK(top >= 0 && top <= 2 * padding && left >= 0 && left <= 2 * padding, "crop_padded: offset (top=", top,
               ", left=", left, ") must lie in [0, 2*padding] = [0, ", 2 * padding, "] (image ", describe(image), ")");
  return crop(pad(image, padding), top, left, image.size(1), image.size(2));
}

Tensor horizontal_flip(const Tensor& image_in) {
  const Tensor image = checked_image("horizontal_flip", image_in);
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
  Tensor out = empty({C, H, W}, image.dtype());
  return by_dtype(image, [&](auto zero) {
    using T = decltype(zero);
    const T* src = image.data<T>();
    T* dst = out.data<T>();
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) dst[(c * H + y) * W + x] = src[(c * H + y) * W + (W - 1 - x)];
    return out;
  });
}

}  // namespace lowbit::data
