// Printing: values with elision (first and last 3 along each dim once a tensor has more
// than 1000 elements), then shape, dtype and device, e.g.
//   tensor([[ 0.5, -1.25,  3],
//           [ 2,    0,    -7]], shape=[2,3], dtype=f32, device=cpu)
#include <cmath>
#include <cstdio>
#include <ostream>

#include "tensor/tensor.h"

namespace lowbit {

namespace {

constexpr int64_t kElideAbove = 1000;
constexpr int64_t kEdgeItems = 3;

std::string format_value(double v, DType dtype) {
  char buf[64];
  if (!is_floating(dtype)) {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  } else if (std::isnan(v)) {
    return "nan";
  } else if (std::isinf(v)) {
    return v > 0 ? "inf" : "-inf";
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", v);
  }
  return buf;
}

struct Printer {
  const double* values;
  const Shape& sizes;
  Shape strides;  // contiguous strides of the host copy
  DType dtype;
  bool elide;
  size_t width = 1;
  std::string out;

  bool shown(int64_t i, int64_t n) const { return !elide || n <= 2 * kEdgeItems || i < kEdgeItems || i >= n - kEdgeItems; }

  void measure(int64_t d, int64_t base) {
    if (d == static_cast<int64_t>(sizes.size())) {
      width = std::max(width, format_value(values[base], dtype).size());
      return;
    }
    for (int64_t i = 0; i < sizes[d]; ++i)
      if (shown(i, sizes[d])) measure(d + 1, base + i * strides[d]);
  }

  void print(int64_t d, int64_t base, size_t indent) {
    if (d == static_cast<int64_t>(sizes.size())) {
      const std::string s = format_value(values[base], dtype);
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
  const Tensor host = to(Device::cpu()).to(DType::f64).contiguous();
  Printer p{host.data<double>(), sizes(), contiguous_strides(sizes()), dtype(), numel() > kElideAbove, 1, {}};
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
