// Fast image transforms (see image_transforms.h for the formulas and the random stream).
// Each function here has a plain twin in image_transforms_ref.cpp; the tests require equal
// bytes (and equal f32 bits after normalisation).
//
// Where the speed comes from: resampling coefficients computed once per axis and call;
// the crop box read in place and only the kept window computed (EvalTransform's centre
// crop); a vertical pass over whole rows (vectorised); brightness and contrast as byte
// tables applied by the next step that reads the pixels; HSV through exact tables; one
// normalising write (a 3 x 256 table) with the flip folded in. A 500x375 JPEG, 2-core AMD EPYC,
// -O3 (-O2, where GCC 12 does not vectorise): stb decode 2.8 ms; TrainTransform 0.70 (0.89) ms,
// with ColorJitter(0.4, 0.4, 0.4) 1.03 (1.39), and hue 0.1 1.78 (2.11); EvalTransform 0.79 (1.05).
#include "data/image_transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "tensor/error.h"

namespace lowbit::data {

namespace {

constexpr int kPrecisionBits = 22;  // PIL Resample.c PRECISION_BITS = 32 - 8 - 2
constexpr int64_t kC = Image::channels;

void check_image(const char* op, const Image& image) {
  LOWBIT_CHECK(image.height > 0 && image.width > 0, op, ": the image is empty (", image.height, "x", image.width, ")");
  LOWBIT_CHECK(static_cast<int64_t>(image.pixels.size()) == image.height * image.width * kC, op, ": a ", image.height,
               "x", image.width, " RGB image needs ", image.height * image.width * kC, " bytes, it has ",
               image.pixels.size());
}

void check_box(const char* op, const Image& image, const CropBox& b) {
  LOWBIT_CHECK(b.height > 0 && b.width > 0 && b.top >= 0 && b.left >= 0 && b.top + b.height <= image.height &&
                   b.left + b.width <= image.width,
               op, ": box (top ", b.top, ", left ", b.left, ", height ", b.height, ", width ", b.width,
               ") is empty or not inside the ", image.height, "x", image.width, " image");
}

// A ColorJitterDraw: the order a permutation of 0..3, brightness / contrast / saturation
// factors finite and >= 0, a hue factor in [-0.5, 0.5] (torchvision's checks).
void check_draw(const char* op, const ColorJitterDraw& d) {
  std::array<int, 4> order = d.order;
  std::sort(order.begin(), order.end());
  LOWBIT_CHECK(order == (std::array<int, 4>{0, 1, 2, 3}), op, ": order must be a permutation of 0, 1, 2, 3");
  for (int k = 0; k < 3; ++k)
    LOWBIT_CHECK(!d.factor[k] || (std::isfinite(*d.factor[k]) && *d.factor[k] >= 0), op,
                 ": factor must be a finite number >= 0, got ", *d.factor[k]);
  LOWBIT_CHECK(!d.factor[3] || (*d.factor[3] >= -0.5 && *d.factor[3] <= 0.5), op,
               ": hue_factor must be in [-0.5, 0.5], got ", *d.factor[3]);
}

void check_jitter(const char* op, const ColorJitter& j) {
  for (const double v : {j.brightness, j.contrast, j.saturation})
    LOWBIT_CHECK(std::isfinite(v) && v >= 0, op, ": ColorJitter factors must be finite and >= 0, got brightness ",
                 j.brightness, ", contrast ", j.contrast, ", saturation ", j.saturation);
  LOWBIT_CHECK(j.hue >= 0 && j.hue <= 0.5, op, ": ColorJitter hue must be in [0, 0.5], got ", j.hue);
}

// ---- resampling (PIL libImaging/Resample.c, BILINEAR) ----------------------------------

// One axis of the separable resize: output i = sum over t < count[i] of weight[i * taps + t]
// * input[first[i] + t], weights in Q22 (precompute_coeffs, normalize_coeffs_8bpc). Zero-padding
// to a fixed `taps` per output measured slower: 0.71 vs 0.66 ms per RandomResizedCrop(224).
struct Axis {
  bool identity = false;  // same size: PIL skips the pass
  int64_t taps = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weight;
};

Axis make_axis(int64_t in_size, int64_t out_size) {
  Axis axis;
  axis.identity = in_size == out_size;
  if (axis.identity) return axis;
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filterscale = std::max(scale, 1.0);  // widen the triangle when downscaling
  const double support = 1.0 * filterscale;         // bilinear_filter's support is 1
  const double ss = 1.0 / filterscale;
  axis.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out_size);
  axis.count.resize(out_size);
  axis.weight.assign(out_size * axis.taps, 0);
  std::vector<double> w(axis.taps);
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (static_cast<double>(i) + 0.5) * scale;
    // (int) truncates toward zero, as PIL's cast; a negative start clips to 0 either way.
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    double sum = 0;
    for (int64_t t = 0; t < hi - lo; ++t) {
      const double x = (static_cast<double>(t + lo) - center + 0.5) * ss;
      w[t] = std::fabs(x) < 1.0 ? 1.0 - std::fabs(x) : 0.0;  // the triangle filter
      sum += w[t];
    }
    for (int64_t t = 0; t < hi - lo; ++t) {
      const double v = sum != 0.0 ? w[t] / sum : w[t];
      const double q = v * (1 << kPrecisionBits);
      axis.weight[i * axis.taps + t] = static_cast<int32_t>(v < 0 ? -0.5 + q : 0.5 + q);
    }
    axis.first[i] = lo;
    axis.count[i] = hi - lo;
  }
  return axis;
}

// PIL's clip8: the accumulator >> 22 (arithmetic), clipped to 0..255.
inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Rows [window.top, +height) x columns [window.left, +width) of resize(crop(image, box),
// out_h, out_w). Every output pixel depends only on its own coefficients, so computing a
// window gives the same bytes as computing everything and cropping.
Image resample_window(const Image& image, const CropBox& box, int64_t out_h, int64_t out_w, const CropBox& window) {
  const Axis cols = make_axis(box.width, out_w), rows = make_axis(box.height, out_h);
  const int64_t ww = window.width, wh = window.height;
  // The rows of the box the vertical pass reads: [row_lo, row_hi).
  int64_t row_lo = window.top, row_hi = window.top + wh;
  if (!rows.identity) {
    const int64_t last = window.top + wh - 1;
    row_lo = rows.first[window.top];
    row_hi = rows.first[last] + rows.count[last];
  }
  // Horizontal pass into tmp (or, when the width does not change, read the image in place).
  const uint8_t* base = image.row(box.top + row_lo) + (box.left + window.left) * kC;
  int64_t stride = image.width * kC;
  Image tmp;
  if (!cols.identity) {
    tmp = Image(row_hi - row_lo, ww);
    const int32_t half = 1 << (kPrecisionBits - 1);
    for (int64_t r = row_lo; r < row_hi; ++r) {
      const uint8_t* in = image.row(box.top + r) + box.left * kC;
      uint8_t* out = tmp.row(r - row_lo);
      for (int64_t x = 0; x < ww; ++x) {
        const int64_t ox = window.left + x;
        const int32_t* k = &cols.weight[ox * cols.taps];
        const uint8_t* p = in + cols.first[ox] * kC;
        int32_t s0 = half, s1 = half, s2 = half;
        for (int64_t t = 0; t < cols.count[ox]; ++t) {
          s0 += p[t * kC + 0] * k[t];
          s1 += p[t * kC + 1] * k[t];
          s2 += p[t * kC + 2] * k[t];
        }
        out[x * kC + 0] = clip8(s0);
        out[x * kC + 1] = clip8(s1);
        out[x * kC + 2] = clip8(s2);
      }
    }
    if (rows.identity) return tmp;
    base = tmp.pixels.data();
    stride = ww * kC;
  }
  // Vertical pass: whole rows at once, int32 accumulators (a loop the compiler vectorises).
  Image out(wh, ww);
  const int64_t n = ww * kC;
  std::vector<int32_t> acc(n);
  for (int64_t y = 0; y < wh; ++y) {
    const int64_t oy = window.top + y;
    uint8_t* dst = out.row(y);
    if (rows.identity) {
      std::memcpy(dst, base + (oy - row_lo) * stride, n);
      continue;
    }
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int64_t t = 0; t < rows.count[oy]; ++t) {
      const int32_t k = rows.weight[oy * rows.taps + t];
      const uint8_t* src = base + (rows.first[oy] + t - row_lo) * stride;
      for (int64_t i = 0; i < n; ++i) acc[i] += src[i] * k;
    }
    for (int64_t i = 0; i < n; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

// torchvision Resize(int)'s output size (height, width).
std::pair<int64_t, int64_t> shorter_side_size(int64_t height, int64_t width, int64_t size) {
  const int64_t short_side = std::min(height, width), long_side = std::max(height, width);
  if (short_side == size) return {height, width};
  const int64_t new_long =
      static_cast<int64_t>(static_cast<double>(size * long_side) / static_cast<double>(short_side));
  return width <= height ? std::pair{new_long, size} : std::pair{size, new_long};
}

// torchvision CenterCrop per axis: output index i reads image index i + offset (outside the
// image: the zero padding). Python's round((n - c) / 2.0) is half to even.
int64_t center_offset(int64_t n, int64_t c) {
  if (c > n) return -((c - n) / 2);
  const int64_t d = n - c, half = d / 2;
  return (d % 2 == 1 && half % 2 == 1) ? half + 1 : half;
}

// ---- colour, in place ---------------------------------------------------------------
//
// Brightness and contrast send every byte through a 256-entry table (a blend with a
// constant). Rather than a pass over the image each, their tables are composed into a
// pending byte map that the next step reading the pixels applies as it reads them
// (saturation, hue, contrast's mean), or that the caller applies at the end (the pipelines
// fold it into the normalisation table). The bytes are those of running each step in turn.

struct ByteMap {
  uint8_t map[256];
  ByteMap() {
    for (int v = 0; v < 256; ++v) map[v] = static_cast<uint8_t>(v);
  }
  void then(const uint8_t (&table)[256]) {  // map := table after map
    for (uint8_t& v : map) v = table[v];
  }
};

void apply_map(Image& image, const ByteMap& m) {
  for (uint8_t& v : image.pixels) v = m.map[v];
}

void brightness_step(ByteMap& pending, double factor) {
  uint8_t table[256];
  const float alpha = static_cast<float>(factor);  // Image.blend passes alpha as a C float
  for (int v = 0; v < 256; ++v) table[v] = pil_blend(0, v, alpha);
  pending.then(table);
}

void contrast_step(const Image& image, ByteMap& pending, double factor) {
  int64_t sum = 0;
  const uint8_t* p = image.pixels.data();
  const int64_t n = image.height * image.width;
  for (int64_t i = 0; i < n; ++i)
    sum += pil_luma(pending.map[p[i * kC]], pending.map[p[i * kC + 1]], pending.map[p[i * kC + 2]]);
  const int mean = static_cast<int>(static_cast<double>(sum) / static_cast<double>(n) + 0.5);
  uint8_t table[256];
  const float alpha = static_cast<float>(factor);
  for (int v = 0; v < 256; ++v) table[v] = pil_blend(mean, v, alpha);
  pending.then(table);
}

void saturation_step(Image& image, ByteMap& pending, double factor) {
  const float alpha = static_cast<float>(factor);
  const int64_t n = image.width * kC;
  std::vector<uint8_t> grey(n);  // each pixel's L, once per byte, so the blend loop is contiguous
  for (int64_t y = 0; y < image.height; ++y) {
    uint8_t* row = image.row(y);
    for (int64_t i = 0; i < n; i += kC) {
      const uint8_t r = pending.map[row[i]], g = pending.map[row[i + 1]], b = pending.map[row[i + 2]];
      row[i] = r;
      row[i + 1] = g;
      row[i + 2] = b;
      grey[i] = grey[i + 1] = grey[i + 2] = pil_luma(r, g, b);
    }
    for (int64_t i = 0; i < n; ++i) row[i] = pil_blend(grey[i], row[i], alpha);  // vectorised
  }
  pending = ByteMap{};
}

inline int clip8_int(int v) { return v <= 0 ? 0 : (v < 256 ? v : 255); }  // PIL's CLIP8

// C round() (half away from zero) of x >= 0 without a libm call: x - trunc(x) is exact.
inline int round_non_negative(double x) {
  const int t = static_cast<int>(x);
  return t + (x - t >= 0.5 ? 1 : 0);
}

// PIL Convert.c rgb2hsv_row's H and S bytes for a pixel with max != min, with its float /
// double types. Only used to fill HsvTables.
void pil_rgb_to_hs(int r, int g, int b, uint8_t* hue, uint8_t* sat) {
  const int maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  const float cr = static_cast<float>(maxc - minc);
  const float s = cr / static_cast<float>(maxc);
  const float rc = static_cast<float>(maxc - r) / cr, gc = static_cast<float>(maxc - g) / cr,
              bc = static_cast<float>(maxc - b) / cr;
  float h;
  if (r == maxc)
    h = bc - gc;
  else if (g == maxc)
    h = static_cast<float>(2.0 + rc - bc);
  else
    h = static_cast<float>(4.0 + gc - rc);
  h = static_cast<float>(std::fmod(h / 6.0 + 1.0, 1.0));
  *hue = static_cast<uint8_t>(clip8_int(static_cast<int>(h * 255.0)));
  *sat = static_cast<uint8_t>(clip8_int(static_cast<int>(s * 255.0)));
}

// PIL's HSV conversions as tables, so that a pixel costs no division and no libm call.
//   rgb2hsv: S depends only on (max, cr = max - min). H depends only on which channel is the
//   maximum (PIL tests r, then g, then b), which other one is the minimum (its rc/gc/bc is
//   exactly cr / cr = 1), cr, and d = max - the middle channel: 6 cases x (cr, d <= cr).
//   Each entry is pil_rgb_to_hs of a pixel of that class (max 255), so it holds PIL's value.
//   hsv2rgb: i = floor(h * 6.0 / 255.0) (taken % 6), f = (float)(h * 6.0 / 255.0 - i) and
//   fs = (float)(s / 255.0) depend on h alone or s alone.
// The colour-cube test checks all 2^24 colours against PIL.
struct HsvTables {
  static constexpr int kTri = 256 * 257 / 2;  // pairs (a, b <= a) at a * (a + 1) / 2 + b
  uint8_t hue[6][kTri];
  uint8_t sat[kTri];  // [max * (max + 1) / 2 + cr]
  uint8_t sector[256];
  float frac[256], fs[256];
  HsvTables() {
    uint8_t unused;
    for (int cr = 1; cr < 256; ++cr)
      for (int d = 0; d <= cr; ++d) {
        const int at = cr * (cr + 1) / 2 + d, mid = 255 - d, lo = 255 - cr;
        const int pixels[6][3] = {{255, mid, lo}, {255, lo, mid}, {mid, 255, lo},
                                  {lo, 255, mid}, {lo, mid, 255}, {mid, lo, 255}};
        for (int k = 0; k < 6; ++k) pil_rgb_to_hs(pixels[k][0], pixels[k][1], pixels[k][2], &hue[k][at], &unused);
      }
    for (int maxc = 1; maxc < 256; ++maxc)
      for (int cr = 1; cr <= maxc; ++cr)
        pil_rgb_to_hs(maxc, maxc - cr, maxc - cr, &unused, &sat[maxc * (maxc + 1) / 2 + cr]);
    for (int v = 0; v < 256; ++v) {
      const int i = static_cast<int>(std::floor(static_cast<float>(v) * 6.0 / 255.0));  // h = 255: i = 6
      sector[v] = static_cast<uint8_t>(i % 6);
      frac[v] = static_cast<float>(static_cast<float>(v) * 6.0 / 255.0 - static_cast<float>(i));
      fs[v] = static_cast<float>(static_cast<float>(v) / 255.0);
    }
  }
};

void hue_step(Image& image, ByteMap& pending, double hue_factor) {
  static const HsvTables tables;  // 230 KB, built once (thread-safe static initialisation)
  // np.uint8(hue_factor * 255): truncation toward zero, then mod 256.
  const uint8_t shift = static_cast<uint8_t>(static_cast<int64_t>(hue_factor * 255.0) & 255);
  // hsv2rgb's switch (i % 6): which of (v, p, q, t) goes to R, G, B in each sector.
  static constexpr uint8_t kPick[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0}, {0, 1, 2}};
  uint8_t* p = image.pixels.data();
  const int64_t n = image.height * image.width;
  for (int64_t i = 0; i < n; ++i) {
    uint8_t* px = p + i * kC;
    const int r = pending.map[px[0]], g = pending.map[px[1]], b = pending.map[px[2]];
    const int maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b)), cr = maxc - minc;
    if (cr == 0) {  // grey: H = S = 0 and hsv2rgb returns (v, v, v), the pixel itself
      px[0] = px[1] = px[2] = static_cast<uint8_t>(maxc);
      continue;
    }
    // rgb2hsv through the tables: the case (PIL's branch order), then d.
    int k, d;
    if (r == maxc) {
      k = b == minc ? 0 : 1;
      d = maxc - (b == minc ? g : b);
    } else if (g == maxc) {
      k = b == minc ? 2 : 3;
      d = maxc - (b == minc ? r : b);
    } else {
      k = r == minc ? 4 : 5;
      d = maxc - (r == minc ? g : r);
    }
    const uint8_t hh = static_cast<uint8_t>(tables.hue[k][cr * (cr + 1) / 2 + d] + shift);
    const uint8_t us = tables.sat[maxc * (maxc + 1) / 2 + cr];
    const uint8_t v = static_cast<uint8_t>(maxc);
    if (us == 0) {  // a saturation that truncates to 0 comes back grey
      px[0] = px[1] = px[2] = v;
      continue;
    }
    // hsv2rgb; fs, f in [0, 1] so the products are >= 0. fs * f is a float product, as in PIL.
    const float f = tables.frac[hh], fs = tables.fs[us];
    const uint8_t vpqt[4] = {v, static_cast<uint8_t>(clip8_int(round_non_negative(v * (1.0 - fs)))),
                             static_cast<uint8_t>(clip8_int(round_non_negative(v * (1.0 - fs * f)))),
                             static_cast<uint8_t>(clip8_int(round_non_negative(v * (1.0 - fs * (1.0 - f)))))};
    const uint8_t* pick = kPick[tables.sector[hh]];
    px[0] = vpqt[pick[0]];
    px[1] = vpqt[pick[1]];
    px[2] = vpqt[pick[2]];
  }
  pending = ByteMap{};
}

// The enabled steps of `draw` in its order; returns the byte map still to apply.
ByteMap jitter_steps(Image& image, const ColorJitterDraw& draw) {
  ByteMap pending;
  for (const int op : draw.order) {
    const std::optional<double>& factor = draw.factor[op];
    if (!factor) continue;
    if (op == 0) brightness_step(pending, *factor);
    if (op == 1) contrast_step(image, pending, *factor);
    if (op == 2) saturation_step(image, pending, *factor);
    if (op == 3) hue_step(image, pending, *factor);
  }
  return pending;
}

// ---- normalisation ----------------------------------------------------------------

// normalize_pixel for every (channel, byte): the same expression, so the same bits. With a
// pending byte map (the jitter's last table steps), entry v is the normalised map[v].
struct NormalizeTable {
  float value[kC][256];
};

NormalizeTable make_normalize_table(const char* op, const std::vector<double>& mean, const std::vector<double>& std,
                                    const ByteMap& pending = ByteMap{}) {
  LOWBIT_CHECK(mean.size() == kC && std.size() == kC, op, ": mean and std need 3 values each (RGB), got ", mean.size(),
               " and ", std.size());
  NormalizeTable table;
  for (int64_t c = 0; c < kC; ++c) {
    const float m = static_cast<float>(mean[c]), s = static_cast<float>(std[c]);
    LOWBIT_CHECK(std::isfinite(m) && std::isfinite(s) && s > 0, op, ": channel ", c,
                 " needs a finite mean and a finite std > 0 (in f32), got mean ", mean[c], " std ", std[c]);
    for (int v = 0; v < 256; ++v) table.value[c][v] = normalize_pixel(static_cast<float>(pending.map[v]), m, s);
  }
  return table;
}

// out is f32 [3, H, W]; with flip, out[c, y, x] comes from pixel (y, W - 1 - x).
void write_normalized(const Image& image, const NormalizeTable& table, bool flip, float* out) {
  const int64_t H = image.height, W = image.width;
  for (int64_t y = 0; y < H; ++y) {
    const uint8_t* row = image.row(y);
    for (int64_t c = 0; c < kC; ++c) {
      const float* t = table.value[c];
      float* o = out + (c * H + y) * W;
      if (flip)
        for (int64_t x = 0; x < W; ++x) o[x] = t[row[(W - 1 - x) * kC + c]];
      else
        for (int64_t x = 0; x < W; ++x) o[x] = t[row[x * kC + c]];
    }
  }
}

}  // namespace

// ---- geometry ---------------------------------------------------------------------

Image resize(const Image& image, int64_t out_h, int64_t out_w) {
  check_image("resize", image);
  LOWBIT_CHECK(out_h > 0 && out_w > 0, "resize: output size must be positive, got ", out_h, "x", out_w, " (image ",
               image.height, "x", image.width, ")");
  return resample_window(image, {0, 0, image.height, image.width}, out_h, out_w, {0, 0, out_h, out_w});
}

Image resize_shorter(const Image& image, int64_t size) {
  check_image("resize_shorter", image);
  LOWBIT_CHECK(size > 0, "resize_shorter: size must be > 0, got ", size, " (image ", image.height, "x", image.width,
               ")");
  const auto [h, w] = shorter_side_size(image.height, image.width, size);
  if (h == image.height && w == image.width) return image;
  return resize(image, h, w);
}

Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  check_image("crop", image);
  check_box("crop", image, {top, left, height, width});
  Image out(height, width);
  for (int64_t y = 0; y < height; ++y) std::memcpy(out.row(y), image.row(top + y) + left * kC, width * kC);
  return out;
}

Image resized_crop(const Image& image, const CropBox& box, int64_t out_h, int64_t out_w) {
  check_image("resized_crop", image);
  check_box("resized_crop", image, box);
  LOWBIT_CHECK(out_h > 0 && out_w > 0, "resized_crop: output size must be positive, got ", out_h, "x", out_w);
  return resample_window(image, box, out_h, out_w, {0, 0, out_h, out_w});
}

Image center_crop(const Image& image, int64_t height, int64_t width) {
  check_image("center_crop", image);
  LOWBIT_CHECK(height > 0 && width > 0, "center_crop: crop size must be positive, got ", height, "x", width);
  const int64_t oy = center_offset(image.height, height), ox = center_offset(image.width, width);
  Image out(height, width);  // zero: the padding
  const int64_t x0 = std::max<int64_t>(0, -ox), x1 = std::min(width, image.width - ox);
  for (int64_t y = std::max<int64_t>(0, -oy); y < std::min(height, image.height - oy); ++y)
    std::memcpy(out.row(y) + x0 * kC, image.row(y + oy) + (x0 + ox) * kC, (x1 - x0) * kC);
  return out;
}

Image horizontal_flip(const Image& image) {
  check_image("horizontal_flip", image);
  Image out(image.height, image.width);
  const int64_t W = image.width;
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* in = image.row(y);
    uint8_t* o = out.row(y);
    for (int64_t x = 0; x < W; ++x) std::memcpy(o + x * kC, in + (W - 1 - x) * kC, kC);
  }
  return out;
}

CropBox random_resized_crop_box(int64_t height, int64_t width, double scale_min, double scale_max, double ratio_min,
                                double ratio_max, Draws& draws) {
  LOWBIT_CHECK(height > 0 && width > 0, "random_resized_crop_box: image size must be positive, got ", height, "x",
               width);
  LOWBIT_CHECK(std::isfinite(scale_min) && std::isfinite(scale_max) && scale_min >= 0 && scale_min <= scale_max,
               "random_resized_crop_box: scale must satisfy 0 <= scale_min <= scale_max, got (", scale_min, ", ",
               scale_max, ")");
  LOWBIT_CHECK(std::isfinite(ratio_min) && std::isfinite(ratio_max) && ratio_min > 0 && ratio_min <= ratio_max,
               "random_resized_crop_box: ratio must satisfy 0 < ratio_min <= ratio_max, got (", ratio_min, ", ",
               ratio_max, ")");
  const double area = static_cast<double>(height) * static_cast<double>(width);
  const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * draws.uniform(scale_min, scale_max);
    const double aspect = std::exp(draws.uniform(log_lo, log_hi));
    const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));  // round half to even
    const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = draws.integer(height - h + 1);
      const int64_t left = draws.integer(width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the central crop, its aspect ratio clamped to [ratio_min, ratio_max].
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio_min)
    h = static_cast<int64_t>(std::nearbyint(static_cast<double>(width) / ratio_min));
  else if (in_ratio > ratio_max)
    w = static_cast<int64_t>(std::nearbyint(static_cast<double>(height) * ratio_max));
  h = std::clamp<int64_t>(h, 1, height);
  w = std::clamp<int64_t>(w, 1, width);
  return {(height - h) / 2, (width - w) / 2, h, w};
}

// ---- colour -------------------------------------------------------------------------

// One adjustment (op as in ColorJitterDraw) on a copy, through the jitter's own steps.
Image adjust(const char* name, const Image& image, int op, double factor) {
  check_image(name, image);
  ColorJitterDraw draw;
  draw.factor[op] = factor;
  check_draw(name, draw);
  Image out = image;
  apply_map(out, jitter_steps(out, draw));
  return out;
}

Image adjust_brightness(const Image& image, double factor) { return adjust("adjust_brightness", image, 0, factor); }
Image adjust_contrast(const Image& image, double factor) { return adjust("adjust_contrast", image, 1, factor); }
Image adjust_saturation(const Image& image, double factor) { return adjust("adjust_saturation", image, 2, factor); }
Image adjust_hue(const Image& image, double hue_factor) { return adjust("adjust_hue", image, 3, hue_factor); }

ColorJitterDraw draw_color_jitter(const ColorJitter& jitter, Draws& draws) {
  check_jitter("draw_color_jitter", jitter);
  ColorJitterDraw draw;
  for (int i = 3; i >= 1; --i) std::swap(draw.order[i], draw.order[draws.integer(i + 1)]);  // Fisher-Yates
  const double spread[3] = {jitter.brightness, jitter.contrast, jitter.saturation};
  for (int op = 0; op < 3; ++op)
    if (spread[op] > 0) draw.factor[op] = draws.uniform(std::max(0.0, 1.0 - spread[op]), 1.0 + spread[op]);
  if (jitter.hue > 0) draw.factor[3] = draws.uniform(-jitter.hue, jitter.hue);
  return draw;
}

Image color_jitter(const Image& image, const ColorJitterDraw& draw) {
  check_image("color_jitter", image);
  check_draw("color_jitter", draw);
  Image out = image;
  apply_map(out, jitter_steps(out, draw));
  return out;
}

// ---- to tensor and pipelines ----------------------------------------------------------

void to_chw_normalized(const Image& image, const std::vector<double>& mean, const std::vector<double>& std,
                       float* out) {
  check_image("to_chw_normalized", image);
  LOWBIT_CHECK(out != nullptr, "to_chw_normalized: out is null");
  write_normalized(image, make_normalize_table("to_chw_normalized", mean, std), false, out);
}

TrainDraw TrainTransform::draw(int64_t height, int64_t width, const SampleKey& key) const {
  LOWBIT_CHECK(size > 0, "TrainTransform: size must be > 0, got ", size);
  check_jitter("TrainTransform", jitter);
  Draws draws(key);
  TrainDraw d;
  d.box = random_resized_crop_box(height, width, scale_min, scale_max, ratio_min, ratio_max, draws);
  if (flip) d.flip = draws.uniform() < 0.5;  // RandomHorizontalFlip: torch.rand(1) < p
  if (jitter.active()) d.jitter = draw_color_jitter(jitter, draws);
  return d;
}

void TrainTransform::operator()(const Image& image, const SampleKey& key, float* out) const {
  check_image("TrainTransform", image);
  make_normalize_table("TrainTransform", normalize.mean, normalize.std);  // bad mean/std fail before any work
  const TrainDraw d = draw(image.height, image.width, key);
  Image x = resample_window(image, d.box, size, size, {0, 0, size, size});
  // The jitter is per pixel (contrast: through a global mean), so it commutes with the flip.
  const ByteMap pending = jitter_steps(x, d.jitter);
  write_normalized(x, make_normalize_table("TrainTransform", normalize.mean, normalize.std, pending), d.flip, out);
}

void EvalTransform::operator()(const Image& image, const SampleKey& /*key*/, float* out) const {
  check_image("EvalTransform", image);
  LOWBIT_CHECK(resize > 0 && crop > 0, "EvalTransform: resize and crop must be > 0, got resize ", resize, ", crop ",
               crop);
  const NormalizeTable table = make_normalize_table("EvalTransform", normalize.mean, normalize.std);
  const auto [rh, rw] = shorter_side_size(image.height, image.width, resize);
  const int64_t oy = center_offset(rh, crop), ox = center_offset(rw, crop);
  // The part of the resized image inside the crop (all of it but any padding).
  const int64_t top = std::max<int64_t>(0, oy), left = std::max<int64_t>(0, ox);
  const CropBox window{top, left, std::min(rh, oy + crop) - top, std::min(rw, ox + crop) - left};
  Image part = resample_window(image, {0, 0, image.height, image.width}, rh, rw, window);
  if (window.height != crop || window.width != crop) {  // torchvision's zero padding: black pixels
    Image padded(crop, crop);
    for (int64_t y = 0; y < window.height; ++y)
      std::memcpy(padded.row(window.top - oy + y) + (window.left - ox) * kC, part.row(y), window.width * kC);
    part = std::move(padded);
  }
  write_normalized(part, table, false, out);
}

}  // namespace lowbit::data
