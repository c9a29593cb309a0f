// Printing: values with elision (first and last 3 along each dim once a tensor has more
// than 1000 elements), right-aligned to one width, then shape, dtype and device, e.g.
//   tensor([[  0.5, -1.25,     3],
//           [    2,     0,    -7]], shape=[2,3], dtype=f32, device=cpu)
#include <cmath>
#include <cstdio>
#include <ostream>

#include "tensor/tensor.h"

namespace lowbit {

namespace {

constexpr int64_t kElideAbove = 1000;
constexpr int64_t kEdgeItems = 3;

std::string format_float(double v) {
  char buf[64];
  if (std::isnan(v)) {
    return "nan";
  } else if (std::isinf(v)) {
    return v > 0 ? "inf" : "-inf";
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
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

  std::string value(int64_t i) const { return floats ? format_float(floats[i]) : std::to_string(ints[i]); }

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
    bool first = true;
    for (int64_t i = 0; i < n; ++i) {
      if (!shown(i, n)) {
        if (i == kEdgeItems) {
          out += d + 1 == static_cast<int64_t>(sizes.size()) ? ", ..." : ",\n" + std::string(indent + 1, ' ') + "...";
        }
        continue;
      }
      if (!first) out += d + 1 == static_cast<int64_t>(sizes.size()) ? ", " : ",\n" + std::string(indent + 1, ' ');
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
    p.measure(0, 0);
    p.print(0, 0, 7);  // 7 = strlen("tensor(")
    body = p.out;
  }
  return str_cat("tensor(", body, ", shape=", shape_str(sizes()), ", dtype=", dtype_name(dtype()),
                 ", device=", device().str(), ")");
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace lowbit
