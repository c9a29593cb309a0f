// reduce reference: the specification of every reduction in reduce.h, one output at a
// time, plain loops over the input viewed as [outer, reduce, inner].
//
// For output (o, j) the reduced values are x[o, r, j], r = 0 .. reduce-1, read one after
// the other in that order:
//   sum   s = 0 + x0 + x1 + ...      f32 and f64 in double, integers and bool in i64
//   mean  s / reduce                 rounded once to the input dtype
//   var   m = s / reduce; q = sum((x - m)^2); q / max(reduce - correction, 0)
//   max   IEEE 754-2019 maximum: the first NaN wins; otherwise the largest, +0 > -0
//   min   the same with the smallest, -0 < +0
//   argmax  index of the first NaN if there is one, else of the first maximum (+0 > -0)
// so that max(x) == x[argmax(x)] bit for bit.
#include <cmath>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/kernels/dtype_switch.h"
#include "tensor/kernels/reduce.h"

namespace lowbit {

const char* reduce_op_name(ReduceOp op) {
  static const char* names[] = {"sum", "mean", "var", "max", "min", "argmax", "aminmax"};
  return names[static_cast<int>(op)];
}

DType reduce_out_dtype(ReduceOp op, DType in) {
  if (op == ReduceOp::argmax) return DType::i64;
  if (op == ReduceOp::sum && !is_floating(in)) return DType::i64;
  return in;
}

namespace ref {
namespace {

// Integers and bool have no NaN.
template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  return false;
}

// a > b in the order of max/min: the usual one, with +0 above -0 (never called on NaN).
template <typename T>
bool greater(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a == 0 && b == 0) return !std::signbit(a) && std::signbit(b);
  }
  return a > b;
}

// The reduced values of one output: col[r * stride] for r in [0, n).
template <typename T>
struct Column {
  const T* col;
  int64_t n;
  int64_t stride;
  T operator[](int64_t r) const { return col[r * stride]; }
};

// Sum in the accumulator type: double for floats, i64 for integers and bool.
// Integer sums wrap around (two's complement), computed in uint64 to avoid UB.
template <typename T>
auto sum_of(const Column<T>& x) {
  if constexpr (std::is_floating_point_v<T>) {
    double s = 0;
    for (int64_t r = 0; r < x.n; ++r) s += static_cast<double>(x[r]);
    return s;
  } else {
    uint64_t s = 0;
    for (int64_t r = 0; r < x.n; ++r) s += static_cast<uint64_t>(static_cast<int64_t>(x[r]));
    return static_cast<int64_t>(s);
  }
}

// Two-pass variance: the mean first, then the squared deviations from it.
// reduce == 0 gives 0/0 = NaN (m is NaN), correction >= reduce divides by 0.
template <typename T>
double var_of(const Column<T>& x, int64_t correction) {
  const double m = sum_of(x) / static_cast<double>(x.n);
  double q = 0;
  for (int64_t r = 0; r < x.n; ++r) {
    const double d = static_cast<double>(x[r]) - m;
    q += d * d;
  }
  const int64_t dof = x.n - correction > 0 ? x.n - correction : 0;
  return q / static_cast<double>(dof);
}

// Index of the first NaN, else of the first element no other element is greater than
// (kMax) or less than (!kMax). max, min and argmax all use it, so they always agree.
// Needs x.n >= 1.
template <typename T, bool kMax>
int64_t extreme_index(const Column<T>& x) {
  int64_t best = 0;
  // Once the best is a NaN nothing can replace it; a later equal value never does.
  for (int64_t r = 1; r < x.n && !is_nan(x[best]); ++r) {
    const bool better = kMax ? greater(x[r], x[best]) : greater(x[best], x[r]);
    if (is_nan(x[r]) || better) best = r;
  }
  return best;
}

// in is [outer, reduce, inner]; out (and out2, aminmax's max) are [outer, inner].
template <typename T>
void reduce_typed(const ReduceParams& p, const T* in, void* out, void* out2) {
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t j = 0; j < p.inner; ++j) {
      // The values reduced into output (o, j): in[o, r, j] for r < reduce. (With
      // reduce == 0 there are none, and no pointer arithmetic on a maybe-null `in`.)
      const Column<T> x{p.reduce == 0 ? in : in + (o * p.reduce * p.inner + j), p.reduce, p.inner};
      const int64_t i = o * p.inner + j;  // output index
      switch (p.op) {
        case ReduceOp::sum:
          if constexpr (std::is_floating_point_v<T>) {
            static_cast<T*>(out)[i] = static_cast<T>(sum_of(x));
          } else {
            static_cast<int64_t*>(out)[i] = sum_of(x);
          }
          break;
        case ReduceOp::mean:
        case ReduceOp::var:
          if constexpr (std::is_floating_point_v<T>) {
            const double v = p.op == ReduceOp::mean ? sum_of(x) / static_cast<double>(x.n) : var_of(x, p.correction);
            static_cast<T*>(out)[i] = static_cast<T>(v);
          } else {
            throw_error(str_cat("reduce: ", reduce_op_name(p.op), " needs f32 or f64, got ", dtype_name(p.dtype)));
          }
          break;
        case ReduceOp::max: static_cast<T*>(out)[i] = x[extreme_index<T, true>(x)]; break;
        case ReduceOp::min: static_cast<T*>(out)[i] = x[extreme_index<T, false>(x)]; break;
        case ReduceOp::argmax: static_cast<int64_t*>(out)[i] = extreme_index<T, true>(x); break;
        case ReduceOp::aminmax:
          static_cast<T*>(out)[i] = x[extreme_index<T, false>(x)];
          static_cast<T*>(out2)[i] = x[extreme_index<T, true>(x)];
          break;
      }
    }
  }
}

}  // namespace

void reduce(const ReduceParams& p, const void* in, void* out, void* out2) {
  // The op layer reports this with the tensor's shape; the check here guards direct calls.
  const bool needs_elements = p.op == ReduceOp::max || p.op == ReduceOp::min || p.op == ReduceOp::argmax ||
                              p.op == ReduceOp::aminmax;
  LOWBIT_CHECK(p.reduce > 0 || !needs_elements || p.outer * p.inner == 0, "reduce: ", reduce_op_name(p.op),
               " over zero elements has no result");
  switch_dtype(p.dtype, [&](auto zero) {
    using T = decltype(zero);
    reduce_typed(p, static_cast<const T*>(in), out, out2);
  });
}

}  // namespace ref
}  // namespace lowbit
