// Tensor: a view (sizes, strides, offset, dtype) onto shared Storage.
//
// Copying a Tensor copies a handle: both refer to the same TensorImpl, so metadata the
// autograd layer attaches (grad, graph node) is shared too. View ops (reshape, permute,
// narrow, expand, ...) make a new TensorImpl over the same Storage without copying data.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/error.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace lowbit {

struct AutogradMeta;  // defined by autograd/ (grad, graph node, hooks)

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;    // in elements
  int64_t offset = 0;  // in elements, from storage->data()
  DType dtype = DType::f32;
  std::shared_ptr<AutogradMeta> autograd;  // null until autograd needs it
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() is false)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& sizes() const { return impl().sizes; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return static_cast<int64_t>(impl().sizes.size()); }
  int64_t size(int64_t dim) const;    // negative dims count from the end
  int64_t stride(int64_t dim) const;
  int64_t numel() const;
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const;
  size_t itemsize() const { return dtype_size(dtype()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  TensorImpl& impl() const;
  bool same_impl(const Tensor& other) const { return impl_ == other.impl_; }
  // A handle that does not keep the tensor alive: Tensor(weak.lock()) is the same tensor
  // while some Tensor still holds it, an undefined one after (caches keyed by identity).
  std::weak_ptr<TensorImpl> weak_impl() const { return impl_; }

  // Pointer to element [0,...,0]. data<T>() checks that T matches the dtype.
  void* data_ptr() const;
  template <typename T> T* data() const {
    LOWBIT_CHECK(dtype_of<T>() == dtype() || (dtype() == DType::b8 && dtype_of<T>() == DType::u8),
                 "Tensor::data: requested ", dtype_name(dtype_of<T>()), " but the tensor is ",
                 dtype_name(dtype()), " ", shape_str(sizes()));
    return static_cast<T*>(data_ptr());
  }

  // ---- views (no copy) ----
  Tensor view(const Shape& sizes) const;     // one dim may be -1; throws if strides forbid it
  Tensor reshape(const Shape& sizes) const;  // a view when possible, else a contiguous copy
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // 2-D transpose
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& sizes) const;  // -1 keeps a dim; new leading dims allowed
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor as_strided(const Shape& sizes, const Shape& strides, int64_t offset) const;

  // ---- copies ----
  Tensor contiguous() const;  // *this if already contiguous
  Tensor clone() const;       // always a new contiguous tensor
  Tensor to(DType dtype) const;    // cast (see copy.h for the conversion rules)
  Tensor to(Device device) const;  // host <-> device copy
  Tensor cpu() const { return to(Device::cpu()); }
  void copy_(const Tensor& src);  // src broadcast to this shape, cast to this dtype
  void fill_(double value);

  // ---- values ----
  double item() const;  // the single element, as double
  template <typename T> std::vector<T> to_vector() const;  // row-major values, on the host
  std::string str() const;  // the printing used by operator<<

  // Bumps the storage version counter (autograd's in-place check).
  void bump_version() const { impl().storage->bump_version(); }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Checks that writing `target` elementwise from `source` (already broadcast to target's
// shape) is well defined: target has no broadcast (stride-0) dims, and source either
// does not share memory with target or is exactly the same view of it. Throws naming op.
void check_inplace(const char* op, const Tensor& target, const Tensor& source);
std::string describe(const Tensor& t);  // "[8,3,32,32] f32 cpu" for error messages

// ---- factories ----
Tensor empty(const Shape& sizes, DType dtype = DType::f32, Device device = Device::cpu());
// A CPU tensor in pinned (page-locked) memory, for fast copies to a GPU; throws when no
// CUDA device is visible (device_memory.h). is_pinned(t) tells them apart.
Tensor empty_pinned(const Shape& sizes, DType dtype = DType::f32);
bool is_pinned(const Tensor& t);
Tensor zeros(const Shape& sizes, DType dtype = DType::f32, Device device = Device::cpu());
Tensor ones(const Shape& sizes, DType dtype = DType::f32, Device device = Device::cpu());
Tensor full(const Shape& sizes, double value, DType dtype = DType::f32, Device device = Device::cpu());
Tensor scalar_tensor(double value, DType dtype = DType::f32, Device device = Device::cpu());
// [start, end) in steps of `step` (count = ceil((end - start) / step)).
Tensor arange(double start, double end, double step = 1, DType dtype = DType::i64,
              Device device = Device::cpu());
Tensor arange(int64_t end, DType dtype = DType::i64, Device device = Device::cpu());
// Copies `nbytes = numel * dtype_size` bytes of host data into a new tensor.
Tensor from_host(const void* data, const Shape& sizes, DType dtype, Device device = Device::cpu());

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& sizes, Device device = Device::cpu()) {
  LOWBIT_CHECK(static_cast<int64_t>(values.size()) == shape_numel(sizes), "from_vector: ",
               values.size(), " values do not fill shape ", shape_str(sizes));
  return from_host(values.data(), sizes, dtype_of<T>(), device);
}
template <typename T>
Tensor from_vector(const std::vector<T>& values, Device device = Device::cpu()) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())}, device);
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = contiguous().to(Device::cpu());
  if (host.dtype() != dtype_of<T>() && !(host.dtype() == DType::b8 && dtype_of<T>() == DType::u8))
    host = host.to(dtype_of<T>());
  const T* p = static_cast<const T*>(host.data_ptr());
  return std::vector<T>(p, p + host.numel());
}

}  // namespace lowbit
