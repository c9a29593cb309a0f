// ColorJitter's adjustments (PIL ImageEnhance blends and torchvision's PIL hue shift) and the
// normalising write: the fast path behind color_jitter, adjust_*, to_chw_normalized and the
// pipelines. image_transforms.h states the formulas; ref:: (image_transforms_ref.cpp)
// transcribes PIL one step at a time, on whole images; the tests require equal bytes / bits.
//
// The image is swept in row pieces of up to kChunk pixels. A piece is split into three planes
// of floats (the bytes, exactly); each adjustment runs over the planes as a vector loop, one
// pixel per lane; the piece is then put back as bytes, or written out normalised (and
// flipped). PIL's float expressions are evaluated with the same IEEE operations in the same
// order (Mul and Add, never a fused MulAdd; the build passes -ffp-contract=off); where PIL
// computes in double, a float expression that gives the same byte on every input is used
// instead, as argued in shift_hue and checked by enumeration in tests/image_color_test.cpp.
// So every target gives PIL's bytes. Contrast blends with the mean L of the image it
// receives, so a chain where it follows other adjustments takes two sweeps: those
// adjustments in place, adding up L; then contrast and the rest, fused with the normalising
// write.
//
// A 224 x 224 image, 2-core AMD EPYC (Zen 4, AVX2), -O2, adjust_* with its copy: brightness
// 0.05 ms, contrast 0.08, saturation 0.06, hue 0.11; to_chw_normalized 0.037 (0.053 with a
// division by 255). The byte tables and scalar HSV tables this replaced took 0.11, 0.20, 0.79
// and 1.14 ms. (Gathers from those tables measured 11 cycles per 8 lanes here, hence
// arithmetic.) TrainTransform with ColorJitter(0.4, 0.4, 0.4, 0.1) after RandomResizedCrop:
// 0.33 ms per image, 0.24 without hue (0.35 and 0.26 before div255 and blend_within).
// Divisions (about 3.5 cycles per vector here, one at a time) bound several loops; the
// divisions of bytes by 255 are done exactly without one (div255), the others stay. Tried
// and slower: one loop per piece with the steps, the conversions and the output fused (the
// chains of dependent operations outgrow what the out-of-order window hides), the two hue
// loops merged, and divisions as double products by a reciprocal (exact, but the
// conversions to and from double cost as much as the division).

// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "data/image_color.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// clang-format on

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "data/image_kernels.h"
#include "data/transforms.h"

HWY_BEFORE_NAMESPACE();
namespace lowbit::data::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using detail::ColourPass;
using detail::ColourStep;

constexpr int64_t kChunk = 256;  // pixels per piece; a multiple of every target's lane count

// A piece of the image as three planes of floats, each byte value held exactly: n pixels,
// then padding lanes (zero bytes to begin with) up to kChunk, so that the loops of the
// adjustments can run over whole vectors.
struct Planes {
  float* c[3];
};

// pil_blend (Blend.c) per lane: degenerate + alpha * (value - degenerate) in float (the
// difference of two bytes is exact), clamped to [0, 255] and truncated (floor, as >= 0).
template <class DF, class V = hn::Vec<DF>>
HWY_INLINE V blend(DF df, V degenerate, V value, float alpha) {
  const V t = hn::Add(degenerate, hn::Mul(hn::Set(df, alpha), hn::Sub(value, degenerate)));
  return hn::Floor(hn::Min(hn::Max(t, hn::Zero(df)), hn::Set(df, 255.0f)));
}

// blend for 0 <= alpha <= 1, without the clamp: the difference is exact, |alpha * (value -
// degenerate)| rounds to at most |value - degenerate| (a float), so the sum lies between
// degenerate and value, two floats in [0, 255], and rounds into that range too. The clamp is
// then the identity; skipping it saves two of six operations, and half of ColorJitter's
// factors are <= 1.
template <class DF, class V = hn::Vec<DF>>
HWY_INLINE V blend_within(DF df, V degenerate, V value, float alpha) {
  return hn::Floor(hn::Add(degenerate, hn::Mul(hn::Set(df, alpha), hn::Sub(value, degenerate))));
}

// PIL's L (Convert.c rgb2l): (19595 R + 38470 G + 7471 B + 0x8000) >> 16. Every partial
// sum is an integer below 255 * 65536 + 32768 < 2^24, so float holds it exactly, and the
// shift is a multiplication by 2^-16 and a floor.
template <class DF, class V = hn::Vec<DF>>
HWY_INLINE V luma(DF df, V r, V g, V b) {
  const V sum = hn::Add(hn::Add(hn::Mul(r, hn::Set(df, 19595.0f)), hn::Mul(g, hn::Set(df, 38470.0f))),
                        hn::Add(hn::Mul(b, hn::Set(df, 7471.0f)), hn::Set(df, 32768.0f)));
  return hn::Floor(hn::Mul(sum, hn::Set(df, 1.0f / 65536.0f)));
}

// x / 255.0f, the correctly rounded float quotient, for an integer 0 <= x <= 255, without a
// division: 1/255 = (1 + 2^-8 + 2^-16 + ...) 2^-8 = 257 / 2^16 + 1 / (255 * 2^16), so
// x * (257 / 2^16) (17 bits: exact) plus x * float(1 / 255) / 2^16 (two roundings of a term
// 2^-16 of the sum) is x / 255 within a relative 2^-38 before the addition rounds. x / 255
// is never that close to a point halfway between floats: for x / 255 in [2^e, 2^(e+1)) the
// halfway points are odd multiples of 2^(e-24), x is a multiple of 2^(e-24) too, so their
// distance is a nonzero multiple of 2^(e-24) / 255, above 2^-33 relative (nonzero: x / 255 is
// not a dyadic with 25 significant bits). So the addition rounds to the quotient; two
// products and a sum cost less than a division (about 3.5 cycles per vector on Zen 4,
// alone in its unit). Checked for every x by ImageColor.DivisionsWithoutDividingAreExact.
template <class DF, class V = hn::Vec<DF>>
HWY_INLINE V div255(DF df, V x) {
  return hn::Add(hn::Mul(x, hn::Set(df, 257.0f / 65536.0f)), hn::Mul(x, hn::Set(df, (1.0f / 255.0f) / 65536.0f)));
}

// Brightness (grey 0) and contrast (grey = the mean L): every value blended with the grey.
void blend_with_grey(const Planes& p, int64_t n, float grey, float alpha) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto g = hn::Set(df, grey);
  for (float* plane : p.c) {
    if (alpha <= 1.0f)
      for (int64_t i = 0; i < n; i += N) hn::Store(blend_within(df, g, hn::Load(df, plane + i), alpha), df, plane + i);
    else
      for (int64_t i = 0; i < n; i += N) hn::Store(blend(df, g, hn::Load(df, plane + i), alpha), df, plane + i);
  }
}

// Saturation (ImageEnhance.Color): every channel blended with the pixel's own L.
void blend_with_luma(const Planes& p, int64_t n, float alpha) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto run = [&](auto blend_fn) {
    for (int64_t i = 0; i < n; i += N) {
      const auto r = hn::Load(df, p.c[0] + i), g = hn::Load(df, p.c[1] + i), b = hn::Load(df, p.c[2] + i);
      const auto l = luma(df, r, g, b);
      hn::Store(blend_fn(df, l, r, alpha), df, p.c[0] + i);
      hn::Store(blend_fn(df, l, g, alpha), df, p.c[1] + i);
      hn::Store(blend_fn(df, l, b, alpha), df, p.c[2] + i);
    }
  };
  if (alpha <= 1.0f)
    run([](auto d, auto x, auto y, float a) { return blend_within(d, x, y, a); });
  else
    run([](auto d, auto x, auto y, float a) { return blend(d, x, y, a); });
}

// Hue (torchvision F_pil.adjust_hue): Convert.c rgb2hsv_row, h + shift (uint8, wrapping),
// hsv2rgb, in float. PIL computes some steps in double; the float forms used here give PIL's
// bytes on every input, for the reasons given with each and checked by enumerating the inputs
// (test ImageColor.HueInFloatEqualsPilOnEveryInput). Two loops, rgb2hsv then hsv2rgb,
// with H and S in between: in one loop, rgb2hsv's three divisions and hsv2rgb's long chain
// of dependent operations stall it (measured slower).
void shift_hue(const Planes& p, int64_t n, float shift) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto zero = hn::Zero(df), one = hn::Set(df, 1.0f), three = hn::Set(df, 3.0f), c255 = hn::Set(df, 255.0f);
  HWY_ALIGN float hue[kChunk], sat[kChunk], val[kChunk];
  for (int64_t i = 0; i < n; i += N) {
    const auto r = hn::Load(df, p.c[0] + i), g = hn::Load(df, p.c[1] + i), b = hn::Load(df, p.c[2] + i);
    const auto maxc = hn::Max(r, hn::Max(g, b)), minc = hn::Min(r, hn::Min(g, b));
    const auto cr = hn::Sub(maxc, minc);
    // rgb2hsv_row. (max - c) / cr is 0 for the max channel, exactly 1 for the min and
    // q = (max - mid) / cr for the middle one, so PIL's h (testing r, then g, for the max) is
    // r max: bc - gc = 1 - q (b min) or q - 1; g max: 2.0 + rc - bc = 1 + q (b min) or 3 - q;
    // b max: 4.0 + gc - rc = 3 + q (r min) or 5 - q. The double sums are exact (q has 24
    // significant bits and is 0 or >= 1/255), so storing them to the float h rounds once, as
    // the float operation does. Grey pixels (cr = 0) get S = 0; max(cr, 1) keeps their lanes finite.
    const auto r_max = hn::Eq(r, maxc), g_max = hn::Eq(g, maxc), b_min = hn::Eq(b, minc), r_min = hn::Eq(r, minc);
    const auto mid = hn::Sub(hn::Sub(hn::Add(hn::Add(r, g), b), maxc), minc);  // exact: integers
    const auto q = hn::Div(hn::Sub(maxc, mid), hn::Max(cr, one));
    const auto base = hn::IfThenElse(
        r_max, hn::IfThenElse(b_min, one, hn::Neg(one)),
        hn::IfThenElse(g_max, hn::IfThenElse(b_min, one, three), hn::IfThenElse(r_min, three, hn::Set(df, 5.0f))));
    const auto minus_if_g_max = hn::Or(hn::AndNot(b_min, g_max), hn::AndNot(g_max, hn::Not(r_min)));  // else b max
    const auto minus = hn::Or(hn::And(r_max, b_min), hn::AndNot(r_max, minus_if_g_max));
    const auto h = hn::Add(base, hn::IfThenElse(minus, hn::Neg(q), q));
    // h = fmod(h / 6.0 + 1.0, 1.0) stored to float, then (int)(h * 255.0): as floats, h / 6,
    // plus 1 when negative. s = cr / (float)max, then (int)(s * 255.0): as a float product.
    auto h6 = hn::Div(h, hn::Set(df, 6.0f));
    h6 = hn::IfThenElse(hn::Lt(h6, zero), hn::Add(h6, one), h6);
    hn::Store(hn::Floor(hn::Mul(h6, c255)), df, hue + i);
    hn::Store(hn::Floor(hn::Mul(hn::Div(cr, hn::Max(maxc, one)), c255)), df, sat + i);
    hn::Store(maxc, df, val + i);
  }
  for (int64_t i = 0; i < n; i += N) {
    const auto v = hn::Load(df, val + i), s = hn::Load(df, sat + i);
    auto h = hn::Add(hn::Load(df, hue + i), hn::Set(df, shift));  // uint8 addition
    h = hn::IfThenElse(hn::Ge(h, hn::Set(df, 256.0f)), hn::Sub(h, hn::Set(df, 256.0f)), h);
    // hsv2rgb: i = floor(h * 6.0 / 255.0) as floor(h * (6 / 255.f)); f = h * 6.0 / 255.0 - i
    // (stored to float) as (6 h - 255 i) / 255.f, an exact integer over 255; fs = s / 255.f.
    // p = round(v * (1.0 - fs)), q = round(v * (1.0 - fs * f)), t = round(v * (1.0 - fs * (1.0 - f)))
    // as floor(x + 0.5f) of float expressions. h = 255 gives i = 6, f = 0 and, as i % 6 = 0,
    // (v, t, p) = (v, p, p) (t = round(v * (1.0 - fs)) = p); here i is taken as 5 and f as
    // 255 / 255 = 1: (v, p, q) with q = floor(v * (1 - fs * 1) + 0.5f) = p, the same bytes.
    const auto sector = hn::Min(hn::Floor(hn::Mul(h, hn::Set(df, 6.0f / 255.0f))), hn::Set(df, 5.0f));
    const auto f = div255(df, hn::Sub(hn::Mul(h, hn::Set(df, 6.0f)), hn::Mul(sector, c255)));
    const auto fs = div255(df, s);
    const auto half = hn::Set(df, 0.5f);
    const auto pv = hn::Floor(hn::Add(hn::Mul(v, hn::Sub(one, fs)), half));
    // The switch on the sector: 0 (v, t, p), 1 (q, v, p), 2 (p, v, t), 3 (p, q, v), 4 (t, p, v),
    // 5 (v, p, q): each pixel needs q (odd sectors) or t (even), its "x".
    const auto is = [&](float k) { return hn::Eq(sector, hn::Set(df, k)); };
    const auto s0 = is(0), s1 = is(1), s2 = is(2), s3 = is(3), s4 = is(4), s5 = is(5);
    const auto odd = hn::Or(s1, hn::Or(s3, s5));
    const auto fs_f = hn::Mul(fs, hn::IfThenElse(odd, f, hn::Sub(one, f)));
    const auto xv = hn::Floor(hn::Add(hn::Mul(v, hn::Sub(one, fs_f)), half));
    // S = 0 (grey pixels included) makes PIL return (v, v, v); here fs = 0 gives p = q = t = v.
    const auto channel = [&](auto v_sectors, auto x_sectors) {
      return hn::IfThenElse(v_sectors, v, hn::IfThenElse(x_sectors, xv, pv));
    };
    hn::Store(channel(hn::Or(s0, s5), hn::Or(s1, s4)), df, p.c[0] + i);
    hn::Store(channel(hn::Or(s1, s2), hn::Or(s0, s3)), df, p.c[1] + i);
    hn::Store(channel(hn::Or(s3, s4), hn::Or(s2, s5)), df, p.c[2] + i);
  }
}

// Sum of L over the first n pixels (exactly n: padding lanes are not counted).
int64_t luma_sum(const Planes& p, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  auto acc = hn::Zero(di);  // at most kChunk / N * 255 per lane
  int64_t i = 0;
  for (; i + N <= n; i += N)
    acc = hn::Add(
        acc, hn::ConvertTo(di, luma(df, hn::Load(df, p.c[0] + i), hn::Load(df, p.c[1] + i), hn::Load(df, p.c[2] + i))));
  int64_t sum = hn::GetLane(hn::SumOfLanes(di, acc));
  for (; i < n; ++i)
    sum += pil_luma(static_cast<uint8_t>(p.c[0][i]), static_cast<uint8_t>(p.c[1][i]), static_cast<uint8_t>(p.c[2][i]));
  return sum;
}

// Plane c of n pixels to o[x], x < n (o[-x] when flip: o is then the piece's last pixel in
// the output row): normalize_pixel, (x / 255 - mean) / std, one IEEE operation at a time
// (x / 255 as div255, the same float).
void write_normalized_piece(const float* HWY_RESTRICT plane, int64_t n, float mean, float std, bool flip,
                            float* HWY_RESTRICT o) {
  const hn::ScalableTag<float> df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  const auto m = hn::Set(df, mean), s = hn::Set(df, std);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    const auto y = hn::Div(hn::Sub(div255(df, hn::Load(df, plane + i)), m), s);
    if (flip)
      hn::StoreU(hn::Reverse(df, y), df, o - i - (N - 1));
    else
      hn::StoreU(y, df, o + i);
  }
  for (; i < n; ++i) (flip ? o[-i] : o[i]) = normalize_pixel(plane[i], mean, std);
}

// One sweep over an interleaved RGB image (src, height x width): pass.count steps on every
// pixel, then the sums, the normalised write or the bytes back, as pass asks (image_kernels.h).
void ColourRows(const uint8_t* src, int64_t height, int64_t width, const ColourPass& pass) {
  const hn::ScalableTag<uint8_t> d8;
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::Rebind<uint8_t, decltype(df)> d8f;  // the bytes of one float vector
  const int64_t N8 = static_cast<int64_t>(hn::Lanes(d8)), NF = static_cast<int64_t>(hn::Lanes(df));
  HWY_ALIGN uint8_t bytes[3][kChunk];
  HWY_ALIGN float values[3][kChunk];
  const Planes planes{{values[0], values[1], values[2]}};
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x0 = 0; x0 < width; x0 += kChunk) {
      const int64_t n = std::min(kChunk, width - x0);
      // Split the piece into planes of bytes, then of floats.
      const uint8_t* in = src + (y * width + x0) * 3;
      int64_t i = 0;
      for (; i + N8 <= n; i += N8) {
        hn::Vec<decltype(d8)> r, g, b;
        hn::LoadInterleaved3(d8, in + 3 * i, r, g, b);
        hn::Store(r, d8, bytes[0] + i);
        hn::Store(g, d8, bytes[1] + i);
        hn::Store(b, d8, bytes[2] + i);
      }
      for (; i < n; ++i)
        for (int c = 0; c < 3; ++c) bytes[c][i] = in[3 * i + c];
      for (int c = 0; c < 3; ++c) {
        std::memset(bytes[c] + n, 0, kChunk - n);
        for (i = 0; i < n; i += NF)
          hn::Store(hn::ConvertTo(df, hn::PromoteTo(di, hn::Load(d8f, bytes[c] + i))), df, values[c] + i);
      }

      for (int64_t k = 0; k < pass.count; ++k) {
        const ColourStep& step = pass.steps[k];
        if (step.op == ColourStep::kBrightness || step.op == ColourStep::kContrast)
          blend_with_grey(planes, n, static_cast<float>(step.grey), step.alpha);
        else if (step.op == ColourStep::kSaturation)
          blend_with_luma(planes, n, step.alpha);
        else
          shift_hue(planes, n, static_cast<float>(step.hue_shift));
      }
      if (pass.luma_sum) *pass.luma_sum += luma_sum(planes, n);

      if (pass.norm) {
        for (int c = 0; c < 3; ++c) {
          float* row = pass.out + (c * height + y) * width;
          write_normalized_piece(values[c], n, pass.norm->mean[c], pass.norm->std[c], pass.flip,
                                 pass.flip ? row + width - 1 - x0 : row + x0);
        }
      } else if (pass.dst) {
        // An integer 0 <= x < 2^23 plus 2^23 is a float whose low mantissa bits are x.
        const auto magic = hn::Set(df, 8388608.0f);
        for (int c = 0; c < 3; ++c)
          for (i = 0; i < n; i += NF)
            hn::Store(hn::TruncateTo(d8f, hn::BitCast(du, hn::Add(hn::Load(df, values[c] + i), magic))), d8f,
                      bytes[c] + i);
        uint8_t* out = pass.dst + (y * width + x0) * 3;
        for (i = 0; i + N8 <= n; i += N8)
          hn::StoreInterleaved3(hn::Load(d8, bytes[0] + i), hn::Load(d8, bytes[1] + i), hn::Load(d8, bytes[2] + i), d8,
                                out + 3 * i);
        for (; i < n; ++i)
          for (int c = 0; c < 3; ++c) out[3 * i + c] = bytes[c][i];
      }
    }
}

}  // namespace lowbit::data::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <array>

namespace lowbit::data {

HWY_EXPORT(ColourRows);

namespace detail {
namespace {

// The enabled adjustments of `draw`, in its order.
struct Chain {
  std::array<ColourStep, 4> steps;
  int64_t count = 0;
  int64_t contrast_at = -1;  // the index of contrast in steps, if enabled
};

Chain chain_of(const ColorJitterDraw& draw) {
  Chain chain;
  for (const int op : draw.order) {
    if (!draw.factor[op]) continue;
    const double factor = *draw.factor[op];
    ColourStep& step = chain.steps[chain.count];
    step.op = static_cast<ColourStep::Op>(op);
    step.alpha = static_cast<float>(factor);  // Image.blend passes alpha as a C float
    // np.uint8(hue_factor * 255): truncation toward zero, then mod 256.
    if (op == ColourStep::kHue) step.hue_shift = static_cast<int32_t>(static_cast<int64_t>(factor * 255.0) & 255);
    if (op == ColourStep::kContrast) chain.contrast_at = chain.count;
    ++chain.count;
  }
  return chain;
}

// Runs the chain on image: the steps before contrast in place, adding up L, which gives
// contrast's grey level (ImageEnhance.Contrast: int(mean + 0.5), the mean in double as
// ImageStat's Python floats); then `last`, completed with the remaining steps.
void run_chain(Image& image, const ColorJitterDraw& draw, ColourPass last) {
  Chain chain = chain_of(draw);
  int64_t first = 0;  // the first step of the last sweep
  if (chain.contrast_at >= 0) {
    int64_t sum = 0;
    ColourPass before;
    before.steps = chain.steps.data();
    before.count = chain.contrast_at;
    before.luma_sum = &sum;
    before.dst = before.count > 0 ? image.pixels.data() : nullptr;  // no steps: the pixels stay
    HWY_DYNAMIC_DISPATCH(ColourRows)(image.pixels.data(), image.height, image.width, before);
    const double n = static_cast<double>(image.height * image.width);
    chain.steps[chain.contrast_at].grey = static_cast<int32_t>(static_cast<double>(sum) / n + 0.5);
    first = chain.contrast_at;
  }
  last.steps = chain.steps.data() + first;
  last.count = chain.count - first;
  if (last.count == 0 && !last.norm) return;  // nothing left to do to the pixels in place
  HWY_DYNAMIC_DISPATCH(ColourRows)(image.pixels.data(), image.height, image.width, last);
}

}  // namespace

void color_jitter_in_place(Image& image, const ColorJitterDraw& draw) {
  ColourPass last;
  last.dst = image.pixels.data();
  run_chain(image, draw, last);
}

void color_jitter_normalized(Image& image, const ColorJitterDraw& draw, const ChannelNormalize& norm, bool flip,
                             float* out) {
  ColourPass last;
  last.norm = &norm;
  last.flip = flip;
  last.out = out;
  run_chain(image, draw, last);
}

void write_normalized(const Image& image, const ChannelNormalize& norm, bool flip, float* out) {
  ColourPass pass;
  pass.norm = &norm;
  pass.flip = flip;
  pass.out = out;
  HWY_DYNAMIC_DISPATCH(ColourRows)(image.pixels.data(), image.height, image.width, pass);
}

}  // namespace detail
}  // namespace lowbit::data
#endif  // HWY_ONCE
