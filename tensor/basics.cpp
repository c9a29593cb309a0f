// Small definitions for error.h, dtype.h, device.h, shape.h, config.h and backend.h.
#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "tensor/config.h"
#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/kernels/backend.h"
#include "tensor/kernels/blas.h"
#include "tensor/shape.h"

namespace lowbit {

void throw_error(const std::string& message) { throw Error(message); }

void throw_no_cuda(const char* op) {
  throw_error(str_cat(op, ": this build of lowbit has no CUDA backend (configure with LOWBIT_CUDA=ON)"));
}

void throw_no_cuda_kernel(const char* op) {
  throw_error(str_cat(op, ": there is no CUDA kernel for this op yet; run it on CPU tensors (.to(Device::cpu()))"));
}

// ---- dtype ----
const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i8: return "i8";
    case DType::u8: return "u8";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::b8: return "bool";
  }
  return "?";
}

DType dtype_from_name(const std::string& name) {
  for (DType t : {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8})
    if (name == dtype_name(t)) return t;
  throw_error(str_cat("unknown dtype '", name, "' (expected f32, f64, i8, u8, i32, i64 or bool)"));
}

// ---- device ----
std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string n = text.substr(5);
    const bool digits = !n.empty() && n.size() <= 4 && n.find_first_not_of("0123456789") == std::string::npos;
    if (digits) return Device::cuda(std::stoi(n));
  }
  throw_error(str_cat("unknown device '", text, "' (expected cpu, cuda or cuda:N)"));
}

// ---- shape ----
int64_t shape_numel(const Shape& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& sizes) {
  Shape strides(sizes.size());
  int64_t s = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = s;
    s *= sizes[i] > 0 ? sizes[i] : 1;
  }
  return strides;
}

std::string shape_str(const Shape& sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(sizes[i]);
  }
  return out + "]";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
    LOWBIT_CHECK(sa == sb || sa == 1 || sb == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
                 " cannot be broadcast (dim ", static_cast<int64_t>(i) - static_cast<int64_t>(n), ": ", sa,
                 " vs ", sb, ")");
    out[i] = sa == 1 ? sb : sa;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  LOWBIT_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " is out of range for a tensor with ", ndim,
               " dims (expected ", lo, "..", hi, ")");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

// ---- config ----
static bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return false;
  return !std::strcmp(v, "1") || !std::strcmp(v, "true") || !std::strcmp(v, "on") || !std::strcmp(v, "ON");
}

static bool g_reference_mode = env_flag("LOWBIT_REFERENCE");

static int initial_threads() {
  if (const char* v = std::getenv("LOWBIT_NUM_THREADS")) {
    const int n = std::atoi(v);
    if (n > 0) {
      omp_set_num_threads(n);
      blas::set_num_threads(n);
      return n;
    }
  }
  return omp_get_max_threads();
}
static int g_num_threads = initial_threads();

void set_num_threads(int n) {
  LOWBIT_CHECK(n >= 1, "set_num_threads: expected a positive count, got ", n);
  g_num_threads = n;
  omp_set_num_threads(n);
  blas::set_num_threads(n);
}
int num_threads() { return g_num_threads; }

void set_reference_mode(bool on) { g_reference_mode = on; }
bool reference_mode() { return g_reference_mode; }

ReferenceModeGuard::ReferenceModeGuard(bool on) : previous_(g_reference_mode) { g_reference_mode = on; }
ReferenceModeGuard::~ReferenceModeGuard() { g_reference_mode = previous_; }

static bool g_winograd = !(std::getenv("LOWBIT_WINOGRAD") && !env_flag("LOWBIT_WINOGRAD"));
void set_winograd_enabled(bool on) { g_winograd = on; }
bool winograd_enabled() { return g_winograd; }

}  // namespace lowbit
