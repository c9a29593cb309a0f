// RGBA -> RGB packing for decode_image (image.cpp): stb_image converts JPEG's YCbCr to RGB
// with SSE2 only when it writes 4 bytes per pixel (its 3-byte path is scalar), so a colour
// JPEG is decoded to RGBA and packed here. 500x375 JPEGs, 2-core AMD EPYC (AVX2), -O2:
// decoding 0.93 -> 0.63 ms per image with a scalar pack loop (0.10 ms of it), less with
// this one. The bytes are stb's RGB path's bytes (tested in tests/image_test.cpp).

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "data/image_rgba.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace lowbit::data::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// rgb[3 i + c] = rgba[4 i + c] for i < n, c < 3.
void RgbaToRgb(const uint8_t* HWY_RESTRICT rgba, int64_t n, uint8_t* HWY_RESTRICT rgb) {
  const hn::ScalableTag<uint8_t> d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    hn::Vec<decltype(d)> r, g, b, a;
    hn::LoadInterleaved4(d, rgba + 4 * i, r, g, b, a);
    hn::StoreInterleaved3(r, g, b, d, rgb + 3 * i);
  }
  for (; i < n; ++i)
    for (int c = 0; c < 3; ++c) rgb[3 * i + c] = rgba[4 * i + c];
}

}  // namespace lowbit::data::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "data/image_kernels.h"

namespace lowbit::data {
HWY_EXPORT(RgbaToRgb);

namespace detail {
void rgba_to_rgb(const uint8_t* rgba, int64_t n, uint8_t* rgb) { HWY_DYNAMIC_DISPATCH(RgbaToRgb)(rgba, n, rgb); }
}  // namespace detail
}  // namespace lowbit::data
#endif  // HWY_ONCE
