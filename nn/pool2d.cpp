#include "nn/pool2d.h"

#include "autograd/ops.h"
#include "tensor/error.h"

namespace lowbit::nn {

namespace {
Pair or_kernel(Pair stride, Pair kernel) { return stride == Pair{0, 0} ? kernel : stride; }
std::string pair_str(Pair p) { return str_cat("(", p[0], ", ", p[1], ")"); }
}  // namespace

MaxPool2d::MaxPool2d(Pair kernel_size_, Pair stride_, Pair padding_, Pair dilation_)
    : Module("MaxPool2d"),
      kernel_size(kernel_size_),
      stride(or_kernel(stride_, kernel_size_)),
      padding(padding_),
      dilation(dilation_) {}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel_size, stride, padding, dilation); }

std::string MaxPool2d::extra_repr() const {
  return str_cat("kernel_size=", pair_str(kernel_size), ", stride=", pair_str(stride), ", padding=", pair_str(padding),
                 ", dilation=", pair_str(dilation));
}

AvgPool2d::AvgPool2d(Pair kernel_size_, Pair stride_, Pair padding_, bool count_include_pad_)
    : Module("AvgPool2d"),
      kernel_size(kernel_size_),
      stride(or_kernel(stride_, kernel_size_)),
      padding(padding_),
      count_include_pad(count_include_pad_) {}

Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, kernel_size, stride, padding, count_include_pad); }

std::string AvgPool2d::extra_repr() const {
  return str_cat("kernel_size=", pair_str(kernel_size), ", stride=", pair_str(stride), ", padding=", pair_str(padding));
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Pair output_size_) : Module("AdaptiveAvgPool2d"), output_size(output_size_) {}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size); }

std::string AdaptiveAvgPool2d::extra_repr() const { return str_cat("output_size=", pair_str(output_size)); }

}  // namespace lowbit::nn
