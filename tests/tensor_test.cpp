// Tensor core: factories, views (sizes, strides, offset, shared storage), reshape/view
// rules, copies and casts, item(), printing, alignment, version counter, Device/DType
// parsing, and the errors of each (DESIGN.md contract 4: the message names the op).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/device_memory.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::random_strided;
using test::random_tensor;

const DType kAllDTypes[] = {DType::f32, DType::f64, DType::i8, DType::u8, DType::i32, DType::i64, DType::b8};

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
bool shares_storage(const Tensor& a, const Tensor& b) { return a.storage() == b.storage(); }

// ---- factories ----------------------------------------------------------------------

TEST(Factories, ShapesDTypesAndValues) {
  for (DType dt : kAllDTypes) {
    SCOPED_TRACE(dtype_name(dt));
    const Tensor z = zeros({2, 3}, dt), o = ones({2, 3}, dt), e = empty({4, 1, 5}, dt);
    EXPECT_EQ(z.sizes(), (Shape{2, 3}));
    EXPECT_EQ(z.strides(), (Shape{3, 1}));
    EXPECT_EQ(e.strides(), (Shape{5, 5, 1}));
    EXPECT_EQ(z.dtype(), dt);
    EXPECT_EQ(z.itemsize(), dtype_size(dt));
    EXPECT_TRUE(z.device().is_cpu());
    EXPECT_EQ(z.offset(), 0);
    EXPECT_EQ(values(z), std::vector<double>(6, 0.0));
    EXPECT_EQ(values(o), std::vector<double>(6, 1.0));
  }
  // full converts the value with the copy.h rules: truncation, saturation, bool.
  EXPECT_EQ(values(full({2}, 2.75, DType::i32)), (std::vector<double>{2, 2}));
  EXPECT_EQ(values(full({2}, -2.75, DType::i32)), (std::vector<double>{-2, -2}));
  EXPECT_EQ(values(full({1}, -1, DType::u8)), (std::vector<double>{0}));
  EXPECT_EQ(values(full({1}, 1000, DType::i8)), (std::vector<double>{127}));
  EXPECT_EQ(values(full({1}, 0.25, DType::b8)), (std::vector<double>{1}));
  EXPECT_EQ(values(full({3}, 2.5, DType::f64)), (std::vector<double>{2.5, 2.5, 2.5}));
  EXPECT_EQ(from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2}).sizes(), (Shape{3, 2}));
  EXPECT_EQ(values(from_vector<int8_t>({-128, 127})), (std::vector<double>{-128, 127}));
  EXPECT_LOWBIT_ERROR(empty({2, -1}), "empty", "negative size", "[2,-1]");
  EXPECT_LOWBIT_ERROR(from_vector<float>({1, 2, 3}, {2, 2}), "from_vector", "3 values", "[2,2]");
}

TEST(Factories, ZeroSizeAndScalar) {
  const Tensor z = zeros({0, 3});
  EXPECT_EQ(z.numel(), 0);
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_TRUE(z.to_vector<float>().empty());
  EXPECT_EQ(z.clone().sizes(), (Shape{0, 3}));
  EXPECT_EQ(z.to(DType::i8).sizes(), (Shape{0, 3}));
  EXPECT_EQ(z.t().contiguous().sizes(), (Shape{3, 0}));
  EXPECT_EQ(z.reshape({3, 0, 5}).sizes(), (Shape{3, 0, 5}));
  EXPECT_EQ(z.view({-1}).sizes(), (Shape{0}));

  const Tensor s = scalar_tensor(3.5, DType::f64);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_TRUE(s.sizes().empty() && s.strides().empty());
  EXPECT_EQ(s.item(), 3.5);
  EXPECT_EQ(s.unsqueeze(0).sizes(), (Shape{1}));
  EXPECT_EQ(s.flatten().sizes(), (Shape{1}));
  EXPECT_EQ(s.squeeze(0).dim(), 0);
  EXPECT_EQ(s.transpose(0, -1).dim(), 0);
  EXPECT_EQ(s.expand({2, 3}).strides(), (Shape{0, 0}));
  EXPECT_EQ(values(s.expand({2, 3})), std::vector<double>(6, 3.5));
  // A 0-d tensor has no dim to index.
  EXPECT_LOWBIT_ERROR(s.size(0), "Tensor::size", "0-d");
  EXPECT_LOWBIT_ERROR(s.select(0, 0), "select", "0-d");
  EXPECT_LOWBIT_ERROR(s.narrow(0, 0, 1), "narrow", "0-d");
  EXPECT_LOWBIT_ERROR(s.slice(0, 0, 1), "slice", "0-d");
}

TEST(Factories, Arange) {
  EXPECT_EQ(arange(5).dtype(), DType::i64);
  EXPECT_EQ(values(arange(5)), (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(values(arange(0, 10, 3)), (std::vector<double>{0, 3, 6, 9}));  // ceil(10/3) = 4
  EXPECT_EQ(values(arange(5, 0, -1)), (std::vector<double>{5, 4, 3, 2, 1}));
  EXPECT_EQ(values(arange(-1.5, 1.5, 1, DType::f32)), (std::vector<double>{-1.5, -0.5, 0.5}));
  EXPECT_EQ(values(arange(0, 1, 0.25, DType::f64)), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(arange(0, 1, 0.1, DType::f64).numel(), 10);
  EXPECT_EQ(arange(0, 1.05, 0.1, DType::f64).numel(), 11);
  EXPECT_EQ(arange(0).numel(), 0);
  EXPECT_EQ(arange(3, 3).numel(), 0);
  EXPECT_EQ(arange(1, 0).numel(), 0);       // wrong direction: empty, like PyTorch's empty range
  EXPECT_EQ(arange(0, 5, -1).numel(), 0);
  EXPECT_EQ(arange(4, DType::u8).dtype(), DType::u8);
  EXPECT_LOWBIT_ERROR(arange(0, 1, 0), "arange", "step must be nonzero");
  EXPECT_LOWBIT_ERROR(arange(0, std::numeric_limits<double>::infinity()), "arange", "finite");
  EXPECT_LOWBIT_ERROR(arange(std::nan(""), 3), "arange", "finite");
}

TEST(Factories, FreshTensorsAre64ByteAligned) {
  for (DType dt : kAllDTypes)
    for (int64_t n : {0, 1, 3, 17, 1001}) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(empty({n}, dt).data_ptr()) % 64, 0u) << dtype_name(dt) << " " << n;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(zeros({n, 3}, dt).data_ptr()) % 64, 0u);
    }
  const Tensor x = random_tensor({7, 5}, DType::f32, 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.t().contiguous().data_ptr()) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.clone().data_ptr()) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(x.to(DType::f64).data_ptr()) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(from_vector<int8_t>({1, 2, 3}).data_ptr()) % 64, 0u);
}

// ---- views --------------------------------------------------------------------------

TEST(Views, ShareStorageAndWritesAreVisible) {
  Tensor base = arange(24, DType::f32).view({2, 3, 4});
  Tensor row = base.select(1, 2);  // [2,4], base[:, 2, :]
  EXPECT_TRUE(shares_storage(base, row));
  EXPECT_EQ(row.sizes(), (Shape{2, 4}));
  EXPECT_EQ(row.strides(), (Shape{12, 1}));
  EXPECT_EQ(row.offset(), 8);
  row.fill_(-1);
  EXPECT_EQ(base.select(0, 0).select(0, 2).to_vector<float>(), (std::vector<float>{-1, -1, -1, -1}));
  EXPECT_EQ(base.select(0, 1).select(0, 2).to_vector<float>(), (std::vector<float>{-1, -1, -1, -1}));
  EXPECT_EQ(base.select(0, 1).select(0, 1).to_vector<float>(), (std::vector<float>{16, 17, 18, 19}));

  Tensor tr = base.transpose(0, 2);  // [4,3,2]
  EXPECT_EQ(tr.sizes(), (Shape{4, 3, 2}));
  EXPECT_EQ(tr.strides(), (Shape{1, 4, 12}));
  EXPECT_FALSE(tr.is_contiguous());
  tr.select(0, 3).select(0, 0).select(0, 1).fill_(100);  // base[1, 0, 3]
  EXPECT_EQ(base.select(0, 1).select(0, 0).select(0, 3).item(), 100);

  Tensor col = base.narrow(2, 1, 2);  // [2,3,2]
  EXPECT_EQ(col.offset(), 1);
  EXPECT_EQ(col.strides(), (Shape{12, 4, 1}));
  col.copy_(zeros({2}));  // broadcast source
  EXPECT_EQ(base.select(0, 0).select(0, 0).to_vector<float>(), (std::vector<float>{0, 0, 0, 3}));

  Tensor flat = base.view({-1});
  EXPECT_TRUE(shares_storage(base, flat));
  flat.narrow(0, 0, 1).fill_(7);
  EXPECT_EQ(base.select(0, 0).select(0, 0).select(0, 0).item(), 7);
}

TEST(Views, ViewAndReshapeRules) {
  const Tensor x = arange(12, DType::f32).view({3, 4});
  EXPECT_EQ(x.view({-1, 6}).sizes(), (Shape{2, 6}));
  EXPECT_EQ(x.view({2, 1, -1}).sizes(), (Shape{2, 1, 6}));
  EXPECT_LOWBIT_ERROR(x.view({-1, -1}), "view", "only one dim can be -1");
  EXPECT_LOWBIT_ERROR(x.view({5}), "view", "[5]", "invalid for input of shape [3,4]", "12 elements");
  EXPECT_LOWBIT_ERROR(x.view({-1, 5}), "view", "[-1,5]", "invalid");
  EXPECT_LOWBIT_ERROR(x.reshape({7, 2}), "reshape", "[7,2]");

  // A transposed tensor cannot be flattened without a copy: view fails, reshape copies.
  const Tensor t = x.t();
  EXPECT_LOWBIT_ERROR(t.view({12}), "view", "[12]", "not compatible with the strides", "[4,3] f32 cpu",
                      "strides [1,4]", "reshape()");
  const Tensor r = t.reshape({12});
  EXPECT_FALSE(shares_storage(r, x));
  EXPECT_EQ(values(r), (std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  // ...but splitting a dim of a transposed tensor is still a view.
  const Tensor split = t.view({2, 2, 3});
  EXPECT_TRUE(shares_storage(split, x));
  EXPECT_EQ(split.strides(), (Shape{2, 1, 4}));
  EXPECT_TRUE(shares_storage(x.reshape({2, 6}), x));  // contiguous: reshape is a view

  // A narrowed row-major tensor: rows keep their stride, so merging them needs a copy.
  const Tensor n = zeros({4, 6}).narrow(1, 0, 4);
  EXPECT_EQ(n.view({4, 2, 2}).strides(), (Shape{6, 2, 1}));
  EXPECT_LOWBIT_ERROR(n.view({16}), "view");
  const Tensor p = arange(24, DType::f32).view({2, 3, 4}).permute({1, 0, 2});
  EXPECT_EQ(p.view({3, 2, 2, 2}).strides(), (Shape{4, 12, 2, 1}));
  EXPECT_LOWBIT_ERROR(p.view({3, 8}), "view");
  EXPECT_EQ(values(p.reshape({3, 8})), values(p.contiguous().view({3, 8})));
}

TEST(Views, Flatten) {
  const Tensor x = zeros({2, 3, 4, 5});
  EXPECT_EQ(x.flatten().sizes(), (Shape{120}));
  EXPECT_EQ(x.flatten(1).sizes(), (Shape{2, 60}));
  EXPECT_EQ(x.flatten(1, 2).sizes(), (Shape{2, 12, 5}));
  EXPECT_EQ(x.flatten(-2).sizes(), (Shape{2, 3, 20}));
  EXPECT_EQ(x.flatten(2, 2).sizes(), (Shape{2, 3, 4, 5}));
  EXPECT_LOWBIT_ERROR(x.flatten(2, 1), "flatten", "start_dim 2 comes after end_dim 1");
  EXPECT_LOWBIT_ERROR(x.flatten(4), "flatten", "dim 4 is out of range");
  const Tensor t = arange(6, DType::f32).view({2, 3}).t();
  EXPECT_EQ(values(t.flatten()), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Views, PermuteTransposeT) {
  const Tensor x = zeros({2, 3, 4});
  const Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.sizes(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_EQ(x.permute({-1, 0, 1}).sizes(), (Shape{4, 2, 3}));
  EXPECT_LOWBIT_ERROR(x.permute({0, 0, 1}), "permute", "dim 0 repeated", "[0,0,1]");
  EXPECT_LOWBIT_ERROR(x.permute({0, -3, 1}), "permute", "repeated");
  EXPECT_LOWBIT_ERROR(x.permute({0, 1}), "permute", "got 2 dims", "3 dims");
  EXPECT_LOWBIT_ERROR(x.permute({0, 1, 3}), "permute", "dim 3 is out of range");
  EXPECT_EQ(x.transpose(-1, 0).sizes(), (Shape{4, 3, 2}));
  EXPECT_LOWBIT_ERROR(x.t(), "t:", "2-D", "[2,3,4]");
  EXPECT_LOWBIT_ERROR(x.transpose(0, 3), "transpose", "out of range");
  const Tensor m = arange(6, DType::f32).view({2, 3});
  EXPECT_EQ(values(m.t()), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(values(m.t().t()), values(m));
}

TEST(Views, NarrowSliceSelect) {
  const Tensor x = arange(10, DType::f32);
  EXPECT_EQ(values(x.narrow(0, 2, 3)), (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(values(x.narrow(0, -2, 2)), (std::vector<double>{8, 9}));
  EXPECT_EQ(x.narrow(0, 10, 0).numel(), 0);
  EXPECT_LOWBIT_ERROR(x.narrow(0, 8, 3), "narrow", "[8, 11)", "out of bounds", "size 10");
  EXPECT_LOWBIT_ERROR(x.narrow(0, 0, -1), "narrow");
  EXPECT_LOWBIT_ERROR(x.narrow(1, 0, 1), "narrow", "dim 1 is out of range");

  EXPECT_EQ(values(x.slice(0, 1, 8, 3)), (std::vector<double>{1, 4, 7}));
  EXPECT_EQ(x.slice(0, 1, 8, 3).strides(), (Shape{3}));
  EXPECT_EQ(values(x.slice(0, -3, 100)), (std::vector<double>{7, 8, 9}));  // negative start, end clamps
  EXPECT_EQ(values(x.slice(0, -100, 2)), (std::vector<double>{0, 1}));     // start clamps to 0
  EXPECT_EQ(values(x.slice(0, 0, -7)), (std::vector<double>{0, 1, 2}));    // negative end
  EXPECT_EQ(x.slice(0, 5, 2).numel(), 0);                                   // end before start: empty
  EXPECT_EQ(x.slice(0, 20, 30).numel(), 0);
  EXPECT_EQ(values(x.slice(0, 0, 10, 4)), (std::vector<double>{0, 4, 8}));
  EXPECT_EQ(x.slice(0, 0, 10, 20).numel(), 1);
  EXPECT_LOWBIT_ERROR(x.slice(0, 0, 5, 0), "slice", "step must be positive, got 0");
  EXPECT_LOWBIT_ERROR(x.slice(0, 0, 5, -1), "slice", "step must be positive, got -1");

  const Tensor m = arange(12, DType::f32).view({3, 4});
  EXPECT_EQ(values(m.select(1, -1)), (std::vector<double>{3, 7, 11}));
  EXPECT_EQ(values(m.select(0, 2)), (std::vector<double>{8, 9, 10, 11}));
  EXPECT_EQ(m.select(0, 2).offset(), 8);
  EXPECT_EQ(values(m.slice(1, 1, 4, 2)), (std::vector<double>{1, 3, 5, 7, 9, 11}));
  EXPECT_LOWBIT_ERROR(m.select(0, 3), "select: index 3 is out of range for dim 0 of size 3", "[3,4] f32 cpu");
  EXPECT_LOWBIT_ERROR(m.select(1, -5), "select: index -5 is out of range for dim 1 of size 4");
  EXPECT_LOWBIT_ERROR(m.select(2, 0), "select", "dim 2 is out of range");
}

TEST(Views, Expand) {
  const Tensor x = from_vector<float>({1, 2, 3}, {3, 1});
  const Tensor e = x.expand({2, 3, 4});
  EXPECT_EQ(e.sizes(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_TRUE(shares_storage(e, x));
  EXPECT_FALSE(e.is_contiguous());
  EXPECT_EQ(values(e.select(0, 1).select(0, 2)), (std::vector<double>{3, 3, 3, 3}));
  EXPECT_EQ(x.expand({-1, 5}).sizes(), (Shape{3, 5}));
  EXPECT_EQ(x.expand({3, 0}).numel(), 0);
  EXPECT_LOWBIT_ERROR(x.expand({4, 4}), "expand: cannot expand [3,1] f32 cpu to [4,4]", "dim 0: 3 vs 4");
  EXPECT_LOWBIT_ERROR(zeros({3, 2}).expand({3, 4}), "expand", "dim 1: 2 vs 4");
  EXPECT_LOWBIT_ERROR(x.expand({3}), "expand", "fewer dims");
  EXPECT_LOWBIT_ERROR(x.expand({-1, 3, 1}), "expand", "leading dim 0");
}

TEST(Views, SqueezeUnsqueezeContiguity) {
  const Tensor x = zeros({1, 3, 1, 2});
  EXPECT_EQ(x.squeeze().sizes(), (Shape{3, 2}));
  EXPECT_EQ(x.squeeze(0).sizes(), (Shape{3, 1, 2}));
  EXPECT_EQ(x.squeeze(-2).sizes(), (Shape{1, 3, 2}));
  EXPECT_EQ(x.squeeze(1).sizes(), (Shape{1, 3, 1, 2}));  // not size 1: unchanged
  EXPECT_EQ(x.unsqueeze(0).sizes(), (Shape{1, 1, 3, 1, 2}));
  EXPECT_EQ(x.unsqueeze(-1).sizes(), (Shape{1, 3, 1, 2, 1}));
  EXPECT_EQ(zeros({3, 4}).unsqueeze(1).strides(), (Shape{4, 4, 1}));
  EXPECT_LOWBIT_ERROR(x.unsqueeze(6), "unsqueeze", "out of range");
  EXPECT_LOWBIT_ERROR(x.squeeze(4), "squeeze", "out of range");
  EXPECT_TRUE(zeros({1, 1}).squeeze().dim() == 0);

  const Tensor m = zeros({4, 5});
  EXPECT_TRUE(m.is_contiguous());
  EXPECT_TRUE(m.narrow(0, 1, 2).is_contiguous());
  EXPECT_FALSE(m.narrow(1, 1, 2).is_contiguous());
  EXPECT_FALSE(m.t().is_contiguous());
  EXPECT_FALSE(m.select(1, 0).unsqueeze(1).t().is_contiguous());  // [1,4] with strides [1,5]
  EXPECT_TRUE(m.select(0, 2).is_contiguous());
  EXPECT_TRUE(m.as_strided({1, 5}, {1000, 1}, 5).is_contiguous());  // size-1 dims: any stride
  EXPECT_FALSE(zeros({1, 3}).expand({4, 3}).is_contiguous());
  EXPECT_TRUE(m.t().contiguous().is_contiguous());
  EXPECT_TRUE(m.contiguous().same_impl(m));
  EXPECT_LOWBIT_ERROR(m.as_strided({2}, {1, 1}, 0), "as_strided", "1 sizes but 2 strides");
}

// ---- copies and casts -------------------------------------------------------------

TEST(Copies, CloneIsIndependent) {
  Tensor x = random_tensor({3, 4}, DType::f32, 7);
  const std::vector<float> before = x.to_vector<float>();
  Tensor c = x.clone();
  EXPECT_FALSE(shares_storage(c, x));
  c.fill_(0);
  EXPECT_EQ(x.to_vector<float>(), before);
  Tensor ct = x.t().clone();
  EXPECT_TRUE(ct.is_contiguous());
  EXPECT_EQ(ct.to_vector<float>(), x.t().to_vector<float>());
  x.fill_(5);
  EXPECT_NE(ct.to_vector<float>(), x.t().to_vector<float>());
}

TEST(Copies, ToDTypeRoundTrips) {
  std::vector<int8_t> all_i8;
  for (int v = -128; v <= 127; ++v) all_i8.push_back(static_cast<int8_t>(v));
  const Tensor i8 = from_vector(all_i8);
  for (DType wide : {DType::f32, DType::f64, DType::i32, DType::i64})
    EXPECT_EQ(i8.to(wide).to(DType::i8).to_vector<int8_t>(), all_i8) << dtype_name(wide);
  const Tensor u8 = arange(256, DType::u8);
  for (DType wide : {DType::f32, DType::f64, DType::i32, DType::i64})
    EXPECT_EQ(u8.to(wide).to(DType::u8).to_vector<uint8_t>(), u8.to_vector<uint8_t>()) << dtype_name(wide);
  const Tensor f = random_tensor({1001}, DType::f32, 3, -1e6, 1e6);
  EXPECT_EQ(f.to(DType::f64).to(DType::f32).to_vector<float>(), f.to_vector<float>());
  const Tensor big = from_vector<int64_t>({std::numeric_limits<int64_t>::min(), -1, 0, std::numeric_limits<int64_t>::max()});
  EXPECT_EQ(big.to(DType::i64).to_vector<int64_t>(), big.to_vector<int64_t>());
  const Tensor i32 = from_vector<int32_t>({std::numeric_limits<int32_t>::min(), -7, 0, 7, std::numeric_limits<int32_t>::max()});
  EXPECT_EQ(i32.to(DType::f64).to(DType::i32).to_vector<int32_t>(), i32.to_vector<int32_t>());
  EXPECT_EQ(i32.to(DType::i64).to(DType::i32).to_vector<int32_t>(), i32.to_vector<int32_t>());
  const Tensor b = from_vector<uint8_t>({0, 1, 1, 0}).to(DType::b8);
  EXPECT_EQ(b.to(DType::f32).to(DType::b8).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 0}));
  // Casting to the same dtype is a no-op that returns the tensor itself.
  EXPECT_TRUE(f.to(DType::f32).same_impl(f));
  EXPECT_TRUE(f.to(Device::cpu()).same_impl(f));
  // Casting a non-contiguous view gives a contiguous tensor with the view's values.
  const Tensor v = random_tensor({5, 6}, DType::f64, 4).t();
  const Tensor cast = v.to(DType::f32);
  EXPECT_TRUE(cast.is_contiguous());
  EXPECT_EQ(cast.sizes(), (Shape{6, 5}));
  std::vector<float> expected;
  for (double d : v.to_vector<double>()) expected.push_back(static_cast<float>(d));
  EXPECT_EQ(cast.to_vector<float>(), expected);
}

TEST(Copies, CopyAndFillErrors) {
  Tensor x = zeros({2, 3});
  EXPECT_LOWBIT_ERROR(x.copy_(zeros({4})), "expand", "[4]", "[2,3]");
  EXPECT_LOWBIT_ERROR(x.copy_(Tensor()), "copy_", "undefined");
}

TEST(Values, Item) {
  EXPECT_EQ(scalar_tensor(-2.5).item(), -2.5);
  EXPECT_EQ(from_vector<int64_t>({42}, {1, 1}).item(), 42);
  EXPECT_EQ(full({1}, 1, DType::b8).item(), 1);
  EXPECT_EQ(arange(12, DType::i32).view({3, 4}).t().select(0, 2).select(0, 1).item(), 6);
  EXPECT_LOWBIT_ERROR(zeros({2}).item(), "item: expected a tensor with one element", "[2] f32 cpu");
  EXPECT_LOWBIT_ERROR(zeros({0}).item(), "item", "[0]");
}

// ---- printing ---------------------------------------------------------------------

TEST(Printing, ExactSmallTensors) {
  EXPECT_EQ(from_vector<float>({0.5f, -1.25f, 3, 2, 0, -7}, {2, 3}).str(),
            "tensor([[ 0.5000, -1.2500,  3.0000],\n"
            "        [ 2.0000,  0.0000, -7.0000]], shape=[2,3], dtype=f32, device=cpu)");
  // Whole numbers print as "3.", tiny or huge magnitudes in scientific notation.
  EXPECT_EQ(from_vector<float>({1, -2, 30}).str(), "tensor([ 1., -2., 30.], shape=[3], dtype=f32, device=cpu)");
  EXPECT_EQ(from_vector<double>({1e-6, 2}).str(), "tensor([1.0000e-06, 2.0000e+00], shape=[2], dtype=f64, device=cpu)");
  // A long row wraps at 100 characters.
  const std::string wrapped = arange(0, 40, 1, DType::f32).str();
  EXPECT_NE(wrapped.find(",\n        "), std::string::npos) << wrapped;
  EXPECT_EQ(arange(4).str(), "tensor([0, 1, 2, 3], shape=[4], dtype=i64, device=cpu)");
  EXPECT_EQ(from_vector<int64_t>({-12, 5}).str(), "tensor([-12,   5], shape=[2], dtype=i64, device=cpu)");
  EXPECT_EQ(scalar_tensor(1.5).str(), "tensor(1.5000, shape=[], dtype=f32, device=cpu)");
  EXPECT_EQ(zeros({0, 3}).str(), "tensor([], shape=[0,3], dtype=f32, device=cpu)");
  EXPECT_EQ(from_vector<double>({std::nan(""), -INFINITY, INFINITY}).str(),
            "tensor([ nan, -inf,  inf], shape=[3], dtype=f64, device=cpu)");
  EXPECT_EQ(from_vector<uint8_t>({0, 1}).to(DType::b8).str(), "tensor([0, 1], shape=[2], dtype=bool, device=cpu)");
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
  std::ostringstream os;
  os << arange(2, DType::u8);
  EXPECT_EQ(os.str(), "tensor([0, 1], shape=[2], dtype=u8, device=cpu)");
}

TEST(Printing, IntegersPrintExactly) {
  // Through a double, INT64_MAX would overflow and 2^53 + 1 would lose its last digit.
  const Tensor x = from_vector<int64_t>({std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                                         (int64_t{1} << 53) + 1});
  const std::string s = x.str();
  EXPECT_NE(s.find("9223372036854775807"), std::string::npos) << s;
  EXPECT_NE(s.find("-9223372036854775808"), std::string::npos) << s;
  EXPECT_NE(s.find("9007199254740993"), std::string::npos) << s;
}

TEST(Printing, MetadataAndElision) {
  const Tensor x = random_strided({3, 5}, DType::f64, 2);
  const std::string s = x.str();
  EXPECT_NE(s.find("shape=[3,5]"), std::string::npos) << s;
  EXPECT_NE(s.find("dtype=f64"), std::string::npos) << s;
  EXPECT_NE(s.find("device=cpu"), std::string::npos) << s;
  EXPECT_EQ(s.find("..."), std::string::npos) << s;

  EXPECT_EQ(arange(2000).str(),
            "tensor([   0,    1,    2, ..., 1997, 1998, 1999], shape=[2000], dtype=i64, device=cpu)");
  EXPECT_EQ(arange(1000).str().find("..."), std::string::npos);  // elision starts above 1000 elements
  const std::string big = arange(10000, DType::i32).view({100, 100}).str();
  EXPECT_LT(big.size(), 600u) << big;
  EXPECT_EQ(std::count(big.begin(), big.end(), '\n'), 6) << big;  // 3 rows, "...", 3 rows
  EXPECT_NE(big.find("[   0,    1,    2, ...,   97,   98,   99]"), std::string::npos) << big;
  EXPECT_NE(big.find("[9900, 9901, 9902, ..., 9997, 9998, 9999]]"), std::string::npos) << big;
  EXPECT_NE(big.find("\n        ...,\n"), std::string::npos) << big;
}

// ---- version counter, devices, dtypes ---------------------------------------------

TEST(Metadata, VersionCounterBumpsOnInPlaceWrites) {
  Tensor x = zeros({4, 4});
  Tensor v = x.narrow(0, 1, 2);
  const uint64_t v0 = x.storage()->version();
  v.fill_(1);
  EXPECT_GT(x.storage()->version(), v0);  // shared by every view of the storage
  const uint64_t v1 = x.storage()->version();
  x.copy_(ones({4}));
  EXPECT_GT(x.storage()->version(), v1);
  const uint64_t v2 = x.storage()->version();
  raw::add_(v, ones({1}));
  EXPECT_GT(x.storage()->version(), v2);
  const uint64_t v3 = x.storage()->version();
  (void)raw::add(x, x);  // out of place: no bump
  (void)x.clone();
  (void)x.t().contiguous();
  EXPECT_EQ(x.storage()->version(), v3);
}

TEST(Metadata, DeviceParsing) {
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
  EXPECT_EQ(parse_device("cuda"), Device::cuda(0));
  EXPECT_EQ(parse_device("cuda:1"), Device::cuda(1));
  EXPECT_EQ(parse_device("cuda:1").str(), "cuda:1");
  EXPECT_EQ(Device::cpu().str(), "cpu");
  EXPECT_TRUE(parse_device("cuda:3").is_cuda());
  for (const char* bad : {"gpu", "CUDA", "cuda:", "cuda:-1", "cuda:1x", "cuda:x", "", "cpu:0"})
    EXPECT_LOWBIT_ERROR(parse_device(bad), std::string("unknown device '") + bad + "'", "cpu, cuda or cuda:N");
}

TEST(Metadata, DTypeNames) {
  for (DType dt : kAllDTypes) EXPECT_EQ(dtype_from_name(dtype_name(dt)), dt);
  EXPECT_STREQ(dtype_name(DType::b8), "bool");
  EXPECT_LOWBIT_ERROR(dtype_from_name("f16"), "unknown dtype 'f16'", "f32, f64, i8, u8, i32, i64 or bool");
  EXPECT_LOWBIT_ERROR(dtype_from_name("F32"), "unknown dtype 'F32'");
  EXPECT_LOWBIT_ERROR(dtype_from_name(""), "unknown dtype ''");
}

TEST(Metadata, CudaWithoutGpuIsAnError) {
  const Tensor x = arange(6, DType::f32).view({2, 3});
  if (cuda_device_count() == 0) {
    EXPECT_LOWBIT_ERROR(x.to(Device::cuda()), "cuda:0", "not available");
    EXPECT_LOWBIT_ERROR(zeros({2}, DType::f32, Device::cuda(0)), "empty", "cuda:0", "not available");
  } else {
    const Tensor back = x.to(Device::cuda()).cpu();
    EXPECT_TRUE(test::bit_equal(x, back, "cpu -> cuda -> cpu"));
  }
  const int n = cuda_device_count();
  EXPECT_LOWBIT_ERROR(x.to(Device::cuda(n + 7)), "not available");
}

TEST(Metadata, UndefinedTensor) {
  const Tensor u;
  EXPECT_FALSE(u.defined());
  EXPECT_EQ(describe(u), "undefined");
  EXPECT_LOWBIT_ERROR(u.sizes(), "undefined tensor");
  EXPECT_LOWBIT_ERROR(u.clone(), "undefined tensor");
}


TEST(InPlace, OverlappingWritesAreRejected) {
  Tensor x = arange(12, DType::f32).reshape({3, 4});
  // Writing into a broadcast view would race: several elements share one location.
  Tensor row = zeros({4}).expand({3, 4});
  EXPECT_LOWBIT_ERROR(row.copy_(x), "copy_", "broadcast view", "stride 0 in dim 0");
  EXPECT_LOWBIT_ERROR(raw::add_(row, x), "add", "broadcast view");
  // A source that overlaps the target in another layout would be read after being written.
  Tensor sq = arange(16, DType::f32).reshape({4, 4});
  EXPECT_LOWBIT_ERROR(raw::add_(sq, sq.t()), "add", "overlaps the memory of the target", "clone()");
  Tensor head = sq.narrow(0, 0, 2), tail = sq.narrow(0, 1, 2);
  EXPECT_LOWBIT_ERROR(head.copy_(tail), "copy_", "overlaps");
  // The same view, or disjoint parts of one storage, are fine.
  raw::add_(sq, sq);
  EXPECT_EQ(sq.select(0, 1).to_vector<float>(), (std::vector<float>{8, 10, 12, 14}));
  sq.narrow(0, 0, 1).copy_(sq.narrow(0, 3, 1));
  EXPECT_EQ(sq.select(0, 0).to_vector<float>(), (std::vector<float>{24, 26, 28, 30}));
}

TEST(Metadata, StrictDeviceStrings) {
  EXPECT_LOWBIT_ERROR(parse_device("cuda: 1"), "unknown device 'cuda: 1'");
  EXPECT_LOWBIT_ERROR(parse_device("cuda:+1"), "unknown device");
  EXPECT_LOWBIT_ERROR(parse_device("cuda:"), "unknown device");
  EXPECT_EQ(parse_device("cuda:12").index, 12);
}

TEST(Factories, BoolBytesAreNormalised) {
  const std::vector<uint8_t> bytes = {0, 1, 2, 255};
  const Tensor b = from_host(bytes.data(), {4}, DType::b8);
  EXPECT_EQ(b.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1, 1}));
  EXPECT_EQ(b.to(DType::f32).to_vector<float>(), (std::vector<float>{0, 1, 1, 1}));
}

}  // namespace
}  // namespace lowbit
