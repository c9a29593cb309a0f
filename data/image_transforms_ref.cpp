// Scalar references of the image transforms: plain transcriptions of the PIL (libImaging)
// and torchvision code named in each comment, one step at a time, with full intermediate
// images. The tests check image_transforms.cpp against these (exact bytes / bits) and these
// against PIL itself (tests/golden/image_transforms). Speed does not matter here.
#include <algorithm>
#include <cmath>

#include "data/image_transforms.h"
#include "tensor/error.h"

namespace lowbit::data::ref {

namespace {

constexpr int kPrecisionBits = 22;  // Resample.c: PRECISION_BITS (32 - 8 - 2)

// Resample.c bilinear_filter.
double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

// Resample.c precompute_coeffs (box [0, in_size), support 1) + normalize_coeffs_8bpc:
// for output i, bounds[i] = {xmin, xmax (a count)} and ksize Q22 coefficients.
struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // 2 per output
  std::vector<int32_t> kk;  // ksize per output
};

Coeffs precompute_coeffs(int in_size, int out_size) {
  Coeffs c;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  std::vector<double> prekk(static_cast<size_t>(out_size) * c.ksize, 0.0);
  c.bounds.resize(static_cast<size_t>(out_size) * 2);
  for (int xx = 0; xx < out_size; xx++) {
    const double center = (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* k = &prekk[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; x++) {
      const double w = bilinear_filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; x++)
      if (ww != 0.0) k[x] /= ww;
    c.bounds[xx * 2 + 0] = xmin;
    c.bounds[xx * 2 + 1] = xmax;
  }
  c.kk.resize(prekk.size());
  for (size_t x = 0; x < prekk.size(); x++)  // normalize_coeffs_8bpc
    c.kk[x] = prekk[x] < 0 ? static_cast<int>(-0.5 + prekk[x] * (1 << kPrecisionBits))
                           : static_cast<int>(0.5 + prekk[x] * (1 << kPrecisionBits));
  return c;
}

uint8_t clip8(int in) {  // Resample.c clip8: in >> PRECISION_BITS through a 0..255 clamp
  const int v = in >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// ImagingResampleHorizontal_8bpc over every row.
Image resample_horizontal(const Image& in, int out_w) {
  const Coeffs c = precompute_coeffs(static_cast<int>(in.width), out_w);
  Image out(in.height, out_w);
  for (int64_t yy = 0; yy < in.height; yy++)
    for (int xx = 0; xx < out_w; xx++) {
      const int xmin = c.bounds[xx * 2 + 0], xmax = c.bounds[xx * 2 + 1];
      const int32_t* k = &c.kk[static_cast<size_t>(xx) * c.ksize];
      for (int ch = 0; ch < 3; ch++) {
        int ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < xmax; x++) ss += in.at(yy, x + xmin, ch) * k[x];
        out.at(yy, xx, ch) = clip8(ss);
      }
    }
  return out;
}

// ImagingResampleVertical_8bpc.
Image resample_vertical(const Image& in, int out_h) {
  const Coeffs c = precompute_coeffs(static_cast<int>(in.height), out_h);
  Image out(out_h, in.width);
  for (int yy = 0; yy < out_h; yy++) {
    const int ymin = c.bounds[yy * 2 + 0], ymax = c.bounds[yy * 2 + 1];
    const int32_t* k = &c.kk[static_cast<size_t>(yy) * c.ksize];
    for (int64_t xx = 0; xx < in.width; xx++)
      for (int ch = 0; ch < 3; ch++) {
        int ss = 1 << (kPrecisionBits - 1);
        for (int y = 0; y < ymax; y++) ss += in.at(y + ymin, xx, ch) * k[y];
        out.at(yy, xx, ch) = clip8(ss);
      }
  }
  return out;
}

// Blend.c ImagingBlend, both branches as written there (alpha is a C float).
Image blend(const Image& in1, const Image& in2, float alpha) {
  if (alpha == 0.0f) return in1;
  if (alpha == 1.0f) return in2;
  Image out(in1.height, in1.width);
  for (size_t x = 0; x < in1.pixels.size(); x++) {
    const int a = in1.pixels[x], b = in2.pixels[x];
    if (alpha >= 0 && alpha <= 1.0f) {
      out.pixels[x] = static_cast<uint8_t>(a + alpha * (b - a));  // interpolation
    } else {
      const float temp = a + alpha * (b - a);  // extrapolation, clipped
      out.pixels[x] = temp <= 0.0f ? 0 : (temp >= 255.0f ? 255 : static_cast<uint8_t>(temp));
    }
  }
  return out;
}

// Convert.c rgb2l (L24 >> 16) followed by l2rgb: the grey image as RGB.
Image grayscale_rgb(const Image& image) {
  Image out(image.height, image.width);
  for (int64_t y = 0; y < image.height; y++)
    for (int64_t x = 0; x < image.width; x++) {
      const int L = (image.at(y, x, 0) * 19595 + image.at(y, x, 1) * 38470 + image.at(y, x, 2) * 7471 + 0x8000) >> 16;
      for (int ch = 0; ch < 3; ch++) out.at(y, x, ch) = static_cast<uint8_t>(L);
    }
  return out;
}

int clip8_int(int v) { return v <= 0 ? 0 : (v < 256 ? v : 255); }  // ImagingUtils.h CLIP8

// Convert.c rgb2hsv_row, types as there.
void rgb2hsv(const uint8_t* in, uint8_t* out) {
  const uint8_t r = in[0], g = in[1], b = in[2];
  const uint8_t maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
  uint8_t uh, us;
  if (minc == maxc) {
    uh = 0;
    us = 0;
  } else {
    float h, s, rc, gc, bc, cr;
    cr = static_cast<float>(maxc - minc);
    s = cr / static_cast<float>(maxc);
    rc = static_cast<float>(maxc - r) / cr;
    gc = static_cast<float>(maxc - g) / cr;
    bc = static_cast<float>(maxc - b) / cr;
    if (r == maxc)
      h = bc - gc;
    else if (g == maxc)
      h = 2.0 + rc - bc;
    else
      h = 4.0 + gc - rc;
    h = std::fmod((h / 6.0 + 1.0), 1.0);
    uh = static_cast<uint8_t>(clip8_int(static_cast<int>(h * 255.0)));
    us = static_cast<uint8_t>(clip8_int(static_cast<int>(s * 255.0)));
  }
  out[0] = uh;
  out[1] = us;
  out[2] = maxc;
}

// Convert.c hsv2rgb, types as there.
void hsv2rgb(const uint8_t* in, uint8_t* out) {
  const uint8_t h = in[0], s = in[1], v = in[2];
  if (s == 0) {
    out[0] = out[1] = out[2] = v;
    return;
  }
  const int i = static_cast<int>(std::floor(static_cast<float>(h) * 6.0 / 255.0));
  const float f = static_cast<float>(h) * 6.0 / 255.0 - static_cast<float>(i);
  const float fs = static_cast<float>(s) / 255.0;
  const int p = static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs)));
  const int q = static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs * f)));
  const int t = static_cast<int>(std::round(static_cast<float>(v) * (1.0 - fs * (1.0 - f))));
  const uint8_t up = static_cast<uint8_t>(clip8_int(p)), uq = static_cast<uint8_t>(clip8_int(q)),
                ut = static_cast<uint8_t>(clip8_int(t));
  const uint8_t table[6][3] = {{v, ut, up}, {uq, v, up}, {up, v, ut}, {up, uq, v}, {ut, up, v}, {v, up, uq}};
  for (int ch = 0; ch < 3; ch++) out[ch] = table[i % 6][ch];
}

}  // namespace

// Image.resize: ImagingResampleInner, horizontal pass first (when the width changes), then
// vertical (when the height changes); a same-size resize is a copy.
Image resize(const Image& image, int64_t out_h, int64_t out_w) {
  LOWBIT_CHECK(out_h > 0 && out_w > 0 && image.height > 0 && image.width > 0, "ref::resize: bad sizes");
  Image x = image;
  if (out_w != x.width) x = resample_horizontal(x, static_cast<int>(out_w));
  if (out_h != x.height) x = resample_vertical(x, static_cast<int>(out_h));
  return x;
}

// Image.crop((left, top, left + width, top + height)).
Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  LOWBIT_CHECK(
      top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= image.height && left + width <= image.width,
      "ref::crop: box outside the image");
  Image out(height, width);
  for (int64_t y = 0; y < height; y++)
    for (int64_t x = 0; x < width; x++)
      for (int ch = 0; ch < 3; ch++) out.at(y, x, ch) = image.at(top + y, left + x, ch);
  return out;
}

// torchvision F.center_crop: pad (padding_ltrb, fill 0) when the crop is larger, then crop
// at int(round((size - crop) / 2.0)) (Python round: half to even, std::nearbyint here).
Image center_crop(const Image& image, int64_t height, int64_t width) {
  Image img = image;
  if (width > img.width || height > img.height) {
    const int64_t pad_left = width > img.width ? (width - img.width) / 2 : 0;
    const int64_t pad_top = height > img.height ? (height - img.height) / 2 : 0;
    const int64_t pad_right = width > img.width ? (width - img.width + 1) / 2 : 0;
    const int64_t pad_bottom = height > img.height ? (height - img.height + 1) / 2 : 0;
    Image padded(img.height + pad_top + pad_bottom, img.width + pad_left + pad_right);
    for (int64_t y = 0; y < img.height; y++)
      for (int64_t x = 0; x < img.width; x++)
        for (int ch = 0; ch < 3; ch++) padded.at(y + pad_top, x + pad_left, ch) = img.at(y, x, ch);
    img = padded;
    if (width == img.width && height == img.height) return img;
  }
  const int64_t top = static_cast<int64_t>(std::nearbyint((img.height - height) / 2.0));
  const int64_t left = static_cast<int64_t>(std::nearbyint((img.width - width) / 2.0));
  return ref::crop(img, top, left, height, width);
}

Image horizontal_flip(const Image& image) {
  Image out(image.height, image.width);
  for (int64_t y = 0; y < image.height; y++)
    for (int64_t x = 0; x < image.width; x++)
      for (int ch = 0; ch < 3; ch++) out.at(y, x, ch) = image.at(y, image.width - 1 - x, ch);
  return out;
}

// ImageEnhance.Brightness: degenerate = Image.new(mode, size, 0).
Image adjust_brightness(const Image& image, double factor) {
  return blend(Image(image.height, image.width), image, static_cast<float>(factor));
}

// ImageEnhance.Contrast: degenerate = the constant int(ImageStat.Stat(L).mean[0] + 0.5).
Image adjust_contrast(const Image& image, double factor) {
  const Image grey = grayscale_rgb(image);
  int64_t hist[256] = {};
  for (int64_t y = 0; y < grey.height; y++)
    for (int64_t x = 0; x < grey.width; x++) hist[grey.at(y, x, 0)]++;
  double layer_sum = 0.0;  // ImageStat._getsum: a Python float accumulating j * h[j]
  int64_t count = 0;
  for (int j = 0; j < 256; j++) {
    layer_sum += static_cast<double>(j * hist[j]);
    count += hist[j];
  }
  const int mean = static_cast<int>(layer_sum / static_cast<double>(count) + 0.5);
  Image degenerate(image.height, image.width);
  std::fill(degenerate.pixels.begin(), degenerate.pixels.end(), static_cast<uint8_t>(mean));
  return blend(degenerate, image, static_cast<float>(factor));
}

// ImageEnhance.Color: degenerate = image.convert("L").convert("RGB").
Image adjust_saturation(const Image& image, double factor) {
  return blend(grayscale_rgb(image), image, static_cast<float>(factor));
}

// torchvision F_pil.adjust_hue: HSV, h += np.uint8(hue_factor * 255) (uint8 wrap), RGB.
Image adjust_hue(const Image& image, double hue_factor) {
  LOWBIT_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "ref::adjust_hue: hue_factor out of range");
  const uint8_t shift = static_cast<uint8_t>(static_cast<int64_t>(hue_factor * 255.0));  // C cast: trunc, mod 256
  Image out(image.height, image.width);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    uint8_t hsv[3];
    rgb2hsv(&image.pixels[i], hsv);
    hsv[0] = static_cast<uint8_t>(hsv[0] + shift);
    hsv2rgb(hsv, &out.pixels[i]);
  }
  return out;
}

// torchvision ColorJitter.forward: for fn_id in fn_idx, apply the enabled adjustment.
Image color_jitter(const Image& image, const ColorJitterDraw& draw) {
  Image x = image;
  for (const int fn_id : draw.order) {
    if (!draw.factor[fn_id]) continue;
    const double f = *draw.factor[fn_id];
    if (fn_id == 0)
      x = ref::adjust_brightness(x, f);
    else if (fn_id == 1)
      x = ref::adjust_contrast(x, f);
    else if (fn_id == 2)
      x = ref::adjust_saturation(x, f);
    else
      x = ref::adjust_hue(x, f);
  }
  return x;
}

// ToTensor then Normalize: out[c, y, x] = normalize_pixel(pixel, mean[c], std[c]).
void to_chw_normalized(const Image& image, const std::vector<double>& mean, const std::vector<double>& std,
                       float* out) {
  LOWBIT_CHECK(mean.size() == 3 && std.size() == 3, "ref::to_chw_normalized: mean/std need 3 values");
  for (int64_t c = 0; c < 3; c++)
    for (int64_t y = 0; y < image.height; y++)
      for (int64_t x = 0; x < image.width; x++)
        out[(c * image.height + y) * image.width + x] = normalize_pixel(
            static_cast<float>(image.at(y, x, c)), static_cast<float>(mean[c]), static_cast<float>(std[c]));
}

}  // namespace lowbit::data::ref
