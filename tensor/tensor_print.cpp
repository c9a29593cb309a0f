// Printing: values with elision (first and last 3 along each dim once a tensor has more
// than 1000 elements), right-aligned to one width, then shape, dtype and device, e.g.
//   tensor([[ 0.5000, -1.2500,  3.0000],
//           [ 2.0000,  0.0000, -7.0000]], shape=[2,3], dtype=f32, device=cpu)
#include <cmath>
#include <cstdio>
#include <ostream>

#include "tensor/tensor.h"

namespace lowbit {

namespace {

constexpr int64_t kElideAbove = 1000;
constexpr int64_t kEdgeItems = 3;

constexpr size_t kLineWidth = 100;

// How floats are written, chosen once per tensor from the values that are shown (as
// PyTorch does): whole numbers as "3.", moderate magnitudes with 4 decimals, the rest in
// scientific notation.
enum class FloatMode { whole, fixed, scientific };

std::string format_float(double v, FloatMode mode) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  switch (mode) {
    case FloatMode::whole: std::snprintf(buf, sizeof buf, "%.0f.", v); break;
    case FloatMode::fixed: std::snprintf(buf, sizeof buf, "%.4f", v); break;
    case FloatMode::scientific: std::snprintf(buf, sizeof buf, "%.4e", v); break;
  }
  return buf;
}

// Integers are printed from an i64 copy: through double, values beyond 2^53 would lose
// digits and INT64_MAX (2^63 after rounding) would overflow the conversion back.
struct Printer {
  const double* floats;   // the f64 host copy of a float tensor, else null
  const int64_t* ints;    // the i64 host copy of an integer or bool tensor, else null
  const Shape& sizes;
  Shape strides;  // contiguous strides of the host copy
  bool elide;
  size_t width = 1;
  std::string out;
  FloatMode mode = FloatMode::fixed;
  double max_abs = 0, min_abs_nonzero = INFINITY;
  bool all_whole = true;

  std::string value(int64_t i) const { return floats ? format_float(floats[i], mode) : std::to_string(ints[i]); }

  // First pass over the shown floats: picks the mode.
  void scan(int64_t d, int64_t base) {
    if (d == static_cast<int64_t>(sizes.size())) {
      const double v = floats[base];
      if (!std::isfinite(v)) return;
      max_abs = std::max(max_abs, std::fabs(v));
      if (v != 0) min_abs_nonzero = std::min(min_abs_nonzero, std::fabs(v));
      all_whole = all_whole && v == std::nearbyint(v);
      return;
    }
    for (int64_t i = 0; i < sizes[d]; ++i)
      if (shown(i, sizes[d])) scan(d + 1, base + i * strides[d]);
  }
  void choose_mode() {
    if (!floats) return;
    scan(0, 0);
    if (max_abs >= 1e8 || (min_abs_nonzero < 1e-4 && min_abs_nonzero != INFINITY) ||
        (max_abs > 0 && max_abs / min_abs_nonzero >= 1e6))
      mode = FloatMode::scientific;
    else
      mode = all_whole ? FloatMode::whole : FloatMode::fixed;
  }

  bool shown(int64_t i, int64_t n) const { return !elide || n <= 2 * kEdgeItems || i < kEdgeItems || i >= n - kEdgeItems; }

  void measure(int64_t d, int64_t base) {
    if (d == static_cast<int64_t>(sizes.size())) {
      width = std::max(width, value(base).size());
      return;
    }
    for (int64_t i = 0; i < sizes[d]; ++i)
      if (shown(i, sizes[d])) measure(d + 1, base + i * strides[d]);
  }

  void print(int64_t d, int64_t base, size_t indent) {
    if (d == static_cast<int64_t>(sizes.size())) {
      const std::string s = value(base);
      out += std::string(width - s.size(), ' ') + s;
      return;
    }
    out += "[";
    const int64_t n = sizes[d];
    const bool last_dim = d + 1 == static_cast<int64_t>(sizes.size());
    // Long rows wrap so that a line holds at most kLineWidth characters.
    const size_t per_line = std::max<size_t>(1, (kLineWidth - std::min(kLineWidth - 1, indent + 1)) / (width + 2));
    bool first = true;
    size_t on_line = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!shown(i, n)) {
        if (i == kEdgeItems) {
          out += last_dim ? ", ..." : ",\n" + std::string(indent + 1, ' ') + "...";
        }
        continue;
      }
      if (!first) {
        if (!last_dim) {
          out += ",\n" + std::string(indent + 1, ' ');
        } else if (on_line == per_line) {
          out += ",\n" + std::string(indent + 1, ' ');
          on_line = 0;
        } else {
          out += ", ";
        }
      }
      ++on_line;
      first = false;
      print(d + 1, base + i * strides[d], indent + 1);
    }
    out += "]";
  }
};

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  const bool floating = is_floating(dtype());
  const Tensor host = to(Device::cpu()).to(floating ? DType::f64 : DType::i64).contiguous();
  Printer p{floating ? host.data<double>() : nullptr, floating ? nullptr : host.data<int64_t>(), sizes(),
            contiguous_strides(sizes()), numel() > kElideAbove, 1, {}};
  std::string body;
  if (numel() == 0) {
    body = "[]";
  } else {
    p.choose_mode();
    p.measure(0, 0);
    p.print(0, 0, 7);  // 7 = strlen("tensor(")
    body = p.out;
  }
  return str_cat("tensor(", body, ", shape=", shape_str(sizes()), ", dtype=", dtype_name(dtype()),
                 ", device=", device().str(), ")");
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace lowbit
