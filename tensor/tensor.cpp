// Tensor metadata, views, copies and factories.
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "tensor/device_memory.h"
#include "tensor/kernels/copy.h"

namespace lowbit {

TensorImpl& Tensor::impl() const {
  LOWBIT_CHECK(impl_ != nullptr, "Tensor: operation on an undefined tensor");
  return *impl_;
}

// wrap_dim() accepts dim 0 / -1 for a 0-d tensor (so squeeze(0), unsqueeze(0) and
// flatten work on scalars); ops that index an existing dim must reject 0-d tensors.
static int64_t wrap_existing_dim(const Tensor& t, int64_t d, const char* op) {
  LOWBIT_CHECK(t.dim() > 0, op, ": dim ", d, " does not exist in a 0-d tensor (", describe(t), ")");
  return wrap_dim(d, t.dim(), op);
}

int64_t Tensor::size(int64_t d) const { return sizes()[wrap_existing_dim(*this, d, "Tensor::size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_existing_dim(*this, d, "Tensor::stride")]; }
int64_t Tensor::numel() const { return shape_numel(sizes()); }
Device Tensor::device() const { return impl().storage->device(); }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (sizes()[d] == 0) return true;
    if (sizes()[d] != 1 && strides()[d] != expected) return false;
    expected *= sizes()[d];
  }
  return true;
}

void* Tensor::data_ptr() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * static_cast<int64_t>(itemsize());
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined";
  return str_cat(shape_str(t.sizes()), " ", dtype_name(t.dtype()), " ", t.device().str());
}

// ---- views ----------------------------------------------------------------------

Tensor Tensor::as_strided(const Shape& sizes, const Shape& strides, int64_t offset) const {
  LOWBIT_CHECK(sizes.size() == strides.size(), "as_strided: ", sizes.size(), " sizes but ", strides.size(), " strides");
  auto v = std::make_shared<TensorImpl>();
  v->storage = impl().storage;
  v->sizes = sizes;
  v->strides = strides;
  v->offset = offset;
  v->dtype = impl().dtype;
  return Tensor(std::move(v));
}

// Replaces a single -1 by the size that keeps numel; checks the element count.
static Shape infer_size(const Shape& requested, int64_t numel, const Shape& from, const char* op) {
  Shape out = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      LOWBIT_CHECK(infer_at < 0, op, ": only one dim can be -1 (got ", shape_str(requested), ")");
      infer_at = static_cast<int64_t>(i);
    } else {
      LOWBIT_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in ", shape_str(requested));
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    LOWBIT_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(requested), " is invalid for input of shape ",
                 shape_str(from), " (", numel, " elements)");
    out[infer_at] = numel / known;
  }
  LOWBIT_CHECK(shape_numel(out) == numel, op, ": shape ", shape_str(requested), " is invalid for input of shape ",
               shape_str(from), " (", numel, " elements)");
  return out;
}

// Strides that let `new_sizes` view memory laid out as (sizes, strides), or an empty
// optional-like result (ok=false) when a copy is needed. Each maximal run of old dims
// that is contiguous in memory ("chunk") must be split exactly by the new dims.
static bool view_strides(const Shape& sizes, const Shape& strides, const Shape& new_sizes, Shape& out) {
  out.assign(new_sizes.size(), 0);
  if (sizes.empty() || shape_numel(sizes) == 0) {
    out = contiguous_strides(new_sizes);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(new_sizes.size()) - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= sizes[d];
    if (d == 0 || (sizes[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Tensor Tensor::view(const Shape& requested) const {
  const Shape sizes_new = infer_size(requested, numel(), sizes(), "view");
  Shape strides_new;
  LOWBIT_CHECK(view_strides(sizes(), strides(), sizes_new, strides_new), "view: shape ", shape_str(requested),
               " is not compatible with the strides of ", describe(*this), " strides ", shape_str(strides()),
               "; use reshape() (copies) or contiguous() first");
  return as_strided(sizes_new, strides_new, offset());
}

Tensor Tensor::reshape(const Shape& requested) const {
  const Shape sizes_new = infer_size(requested, numel(), sizes(), "reshape");
  Shape strides_new;
  if (view_strides(sizes(), strides(), sizes_new, strides_new)) return as_strided(sizes_new, strides_new, offset());
  return clone().view(sizes_new);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  LOWBIT_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim, " for ", describe(*this));
  Shape out(sizes().begin(), sizes().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= sizes()[d];
  out.push_back(n);
  out.insert(out.end(), sizes().begin() + e + 1, sizes().end());
  return reshape(out);
}

Tensor Tensor::permute(const Shape& dims) const {
  LOWBIT_CHECK(static_cast<int64_t>(dims.size()) == dim(), "permute: got ", dims.size(), " dims ", shape_str(dims),
               " for a tensor with ", dim(), " dims ", describe(*this));
  Shape s(dims.size()), st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim(), "permute");
    LOWBIT_CHECK(!seen[d], "permute: dim ", dims[i], " repeated in ", shape_str(dims));
    seen[d] = true;
    s[i] = sizes()[d];
    st[i] = strides()[d];
  }
  return as_strided(s, st, offset());
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  const int64_t a = wrap_dim(dim0, dim(), "transpose"), b = wrap_dim(dim1, dim(), "transpose");
  if (dim() == 0) return *this;  // transpose(0, -1) of a scalar is the scalar (as in PyTorch)
  Shape s = sizes(), st = strides();
  std::swap(s[a], s[b]);
  std::swap(st[a], st[b]);
  return as_strided(s, st, offset());
}

Tensor Tensor::t() const {
  LOWBIT_CHECK(dim() == 2, "t: expected a 2-D tensor, got ", describe(*this));
  return transpose(0, 1);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  const int64_t w = wrap_existing_dim(*this, d, "narrow");
  const int64_t n = sizes()[w];
  if (start < 0) start += n;
  LOWBIT_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: range [", start, ", ", start + length,
               ") is out of bounds for dim ", d, " of size ", n, " (", describe(*this), ")");
  Shape s = sizes();
  s[w] = length;
  return as_strided(s, strides(), offset() + start * strides()[w]);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  const int64_t w = wrap_existing_dim(*this, d, "slice");
  LOWBIT_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = sizes()[w];
  // Python slicing: negative indices count from the end, out-of-range bounds clamp.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = sizes(), st = strides();
  s[w] = (end - start + step - 1) / step;
  st[w] = strides()[w] * step;
  return as_strided(s, st, offset() + start * strides()[w]);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  const int64_t w = wrap_existing_dim(*this, d, "select");
  const int64_t n = sizes()[w];
  LOWBIT_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", d, " of size ", n,
               " (", describe(*this), ")");
  if (index < 0) index += n;
  Shape s = sizes(), st = strides();
  s.erase(s.begin() + w);
  st.erase(st.begin() + w);
  return as_strided(s, st, offset() + index * strides()[w]);
}

Tensor Tensor::expand(const Shape& target) const {
  LOWBIT_CHECK(static_cast<int64_t>(target.size()) >= dim(), "expand: target ", shape_str(target), " has fewer dims than ",
               describe(*this));
  const size_t lead = target.size() - sizes().size();
  Shape s(target.size()), st(target.size());
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      LOWBIT_CHECK(target[i] >= 0, "expand: new leading dim ", i, " cannot be ", target[i], " (target ", shape_str(target), ")");
      s[i] = target[i];
      st[i] = 0;
      continue;
    }
    const int64_t have = sizes()[i - lead];
    const int64_t want = target[i] == -1 ? have : target[i];
    LOWBIT_CHECK(have == want || have == 1, "expand: cannot expand ", describe(*this), " to ", shape_str(target),
                 " (dim ", i, ": ", have, " vs ", want, ")");
    s[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  return as_strided(s, st, offset());
}

Tensor Tensor::squeeze() const {
  Shape s, st;
  for (int64_t d = 0; d < dim(); ++d)
    if (sizes()[d] != 1) {
      s.push_back(sizes()[d]);
      st.push_back(strides()[d]);
    }
  return as_strided(s, st, offset());
}

Tensor Tensor::squeeze(int64_t d) const {
  const int64_t w = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || sizes()[w] != 1) return *this;
  Shape s = sizes(), st = strides();
  s.erase(s.begin() + w);
  st.erase(st.begin() + w);
  return as_strided(s, st, offset());
}

Tensor Tensor::unsqueeze(int64_t d) const {
  const int64_t w = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = sizes(), st = strides();
  const int64_t new_stride = w < dim() ? sizes()[w] * strides()[w] : 1;
  s.insert(s.begin() + w, 1);
  st.insert(st.begin() + w, new_stride);
  return as_strided(s, st, offset());
}

// ---- copies -----------------------------------------------------------------------

// [first, last] element offsets a view can touch (assumes non-negative strides).
static std::pair<int64_t, int64_t> element_span(const Tensor& t) {
  int64_t last = t.offset();
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.sizes()[d] - 1) * t.strides()[d];
  return {t.offset(), last};
}

void check_inplace(const char* op, const Tensor& target, const Tensor& source) {
  if (target.numel() == 0) return;
  for (int64_t d = 0; d < target.dim(); ++d)
    LOWBIT_CHECK(target.strides()[d] != 0 || target.sizes()[d] == 1, op, ": the target ", describe(target),
                 " is a broadcast view (stride 0 in dim ", d, "); several elements share one memory location");
  if (source.storage() != target.storage() || source.numel() == 0) return;
  if (source.offset() == target.offset() && source.strides() == target.strides() && source.sizes() == target.sizes())
    return;  // the same view: each element reads itself before writing itself
  const auto [t0, t1] = element_span(target);
  const auto [s0, s1] = element_span(source);
  LOWBIT_CHECK(t1 < s0 || s1 < t0, op, ": the source ", describe(source), " overlaps the memory of the target ",
               describe(target), " in a different layout; clone() the source first");
}

void Tensor::copy_(const Tensor& src_in) {
  LOWBIT_CHECK(src_in.defined(), "copy_: source is undefined");
  Tensor src = src_in;
  if (src.device() != device()) src = src.to(device());
  src = src.expand(sizes());
  check_inplace("copy_", *this, src);
  CopyParams p;
  p.dst_dtype = dtype();
  p.src_dtype = src.dtype();
  p.layout = make_layout(sizes(), {&strides(), &src.strides()});
  lowbit::copy(device(), p, data_ptr(), src.data_ptr());
  bump_version();
}

void Tensor::fill_(double value) {
  FillParams p;
  p.dtype = dtype();
  p.value = value;
  p.layout = make_layout(sizes(), {&strides()});
  lowbit::fill(device(), p, data_ptr());
  bump_version();
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor out = empty(sizes(), dtype(), device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(sizes(), target, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  const Tensor src = contiguous();
  Tensor out = empty(sizes(), dtype(), target);
  const size_t nbytes = static_cast<size_t>(numel()) * itemsize();
  if (nbytes == 0) return out;
  const CopyKind kind = target.is_cpu() ? CopyKind::device_to_host
                        : device().is_cpu() ? CopyKind::host_to_device
                                            : CopyKind::device_to_device;
  cuda_memcpy(out.data_ptr(), src.data_ptr(), nbytes, kind);
  return out;
}

double Tensor::item() const {
  LOWBIT_CHECK(numel() == 1, "item: expected a tensor with one element, got ", describe(*this));
  return to(Device::cpu()).to(DType::f64).data<double>()[0];
}

// ---- factories ---------------------------------------------------------------------

namespace {

Tensor allocate(const char* op, const Shape& sizes, DType dtype, Device device, bool pinned) {
  for (int64_t s : sizes) LOWBIT_CHECK(s >= 0, op, ": negative size in ", shape_str(sizes));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage =
      std::make_shared<Storage>(static_cast<size_t>(shape_numel(sizes)) * dtype_size(dtype), device, pinned);
  impl->sizes = sizes;
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace

Tensor empty(const Shape& sizes, DType dtype, Device device) {
  if (device.is_cuda()) {
    const int n = cuda_device_count();
    LOWBIT_CHECK(device.index < n, "empty: device ", device.str(), " is not available (", n, " CUDA devices visible",
                 built_with_cuda() ? "" : "; this build has no CUDA backend", ")");
  }
  return allocate("empty", sizes, dtype, device, false);
}

Tensor empty_pinned(const Shape& sizes, DType dtype) { return allocate("empty_pinned", sizes, dtype, Device::cpu(), true); }

bool is_pinned(const Tensor& t) { return t.defined() && t.storage()->pinned(); }

Tensor full(const Shape& sizes, double value, DType dtype, Device device) {
  Tensor t = empty(sizes, dtype, device);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& sizes, DType dtype, Device device) { return full(sizes, 0, dtype, device); }
Tensor ones(const Shape& sizes, DType dtype, Device device) { return full(sizes, 1, dtype, device); }
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor arange(double start, double end, double step, DType dtype, Device device) {
  LOWBIT_CHECK(step != 0, "arange: step must be nonzero");
  LOWBIT_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step), "arange: start ", start, ", end ",
               end, " and step ", step, " must be finite");
  const double span = (end - start) / step;
  const int64_t n = span > 0 ? static_cast<int64_t>(std::ceil(span)) : 0;
  Tensor host = empty({n}, DType::f64);
  double* p = host.data<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = start + static_cast<double>(i) * step;
  return host.to(dtype).to(device);
}

Tensor arange(int64_t end, DType dtype, Device device) { return arange(0, static_cast<double>(end), 1, dtype, device); }

Tensor from_host(const void* data, const Shape& sizes, DType dtype, Device device) {
  Tensor host = empty(sizes, dtype);
  const size_t nbytes = static_cast<size_t>(host.numel()) * dtype_size(dtype);
  if (nbytes) std::memcpy(host.data_ptr(), data, nbytes);
  if (dtype == DType::b8) {  // a bool byte is 0 or 1, whatever the caller's bytes were
    auto* p = static_cast<uint8_t*>(host.data_ptr());
    for (int64_t i = 0; i < host.numel(); ++i) p[i] = p[i] != 0;
  }
  return host.to(device);
}

}  // namespace lowbit
