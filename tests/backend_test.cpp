// Backend presets (quant/backend.h, QUANT_NUMERICS §8): each preset against the table of
// §8 written out here, the quantizer configs they give, overrides and their errors.
#include <gtest/gtest.h>

#include <string>

#include "quant/backend.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using quant::GraphPolicy;
using quant::IntKind;
using quant::QScheme;

struct Row {
  const char* name;
  bool w_per_channel;
  QScheme w_scheme;
  IntKind w_kind;
  QScheme a_scheme;
  IntKind a_kind;
  bool pow2;
  GraphPolicy graph;
  bool fold;
};

// §8's table, with the integer ranges backend.h chooses where the table is silent.
const Row kTable[] = {
    {"academic", false, QScheme::symmetric, IntKind::signed_full, QScheme::symmetric, IntKind::signed_full, false,
     GraphPolicy::academic, false},
    {"tensorrt", true, QScheme::symmetric, IntKind::signed_narrow, QScheme::symmetric, IntKind::signed_narrow, false,
     GraphPolicy::tensorrt, true},
    {"acl", true, QScheme::symmetric, IntKind::signed_full, QScheme::asymmetric, IntKind::unsigned_full, false,
     GraphPolicy::academic, true},
    {"tvm", false, QScheme::symmetric, IntKind::signed_full, QScheme::symmetric, IntKind::signed_full, true,
     GraphPolicy::full, true},
    {"snpe", false, QScheme::asymmetric, IntKind::unsigned_full, QScheme::asymmetric, IntKind::unsigned_full, false,
     GraphPolicy::full, true},
    {"fbgemm", true, QScheme::asymmetric, IntKind::signed_full, QScheme::asymmetric, IntKind::unsigned_full, false,
     GraphPolicy::full, true},
};

TEST(BackendPresets, MatchTheTableOfSection8) {
  ASSERT_EQ(quant::backend_names().size(), std::size(kTable));
  for (const Row& r : kTable) {
    SCOPED_TRACE(r.name);
    const quant::BackendConfig c = quant::backend_preset(r.name, 4, 4);
    EXPECT_EQ(c.name, r.name);
    EXPECT_EQ(c.weight_bits, 4);
    EXPECT_EQ(c.activation_bits, 4);
    EXPECT_EQ(c.weight_per_channel, r.w_per_channel);
    EXPECT_EQ(c.weight_scheme, r.w_scheme);
    EXPECT_EQ(c.weight_kind, r.w_kind);
    EXPECT_EQ(c.activation_scheme, r.a_scheme);
    EXPECT_EQ(c.activation_kind, r.a_kind);
    EXPECT_EQ(c.power_of_two, r.pow2);
    EXPECT_EQ(c.graph, r.graph);
    EXPECT_EQ(c.fold_bn, r.fold);
    EXPECT_TRUE(c.first_last_8bit);
    EXPECT_EQ(c.unsigned_when_non_negative, std::string(r.name) == "academic");
    EXPECT_TRUE(c.policy == quant::NumericPolicy::pytorch());
  }
}

TEST(BackendPresets, QuantizerConfigs) {
  const quant::BackendConfig trt = quant::backend_preset("tensorrt");
  const quant::QuantizerConfig w = trt.weight_config(64, 8);
  EXPECT_EQ(w.ch_axis, 0);
  EXPECT_EQ(w.channels, 64);
  EXPECT_EQ(w.range().qmin, -127);  // narrow
  EXPECT_EQ(w.range().qmax, 127);
  const quant::BackendConfig academic = quant::backend_preset("academic", 4, 4);
  EXPECT_EQ(academic.activation_config(true, 4).range().qmin, 0);  // unsigned after ReLU
  EXPECT_EQ(academic.activation_config(true, 4).range().qmax, 15);
  EXPECT_EQ(academic.activation_config(false, 4).range().qmin, -8);
  EXPECT_EQ(academic.weight_config(64, 8).channels, 1);  // per tensor
  EXPECT_EQ(academic.weight_config(64, 8).range().qmax, 127);  // a first / last layer at 8 bits
  EXPECT_TRUE(quant::backend_preset("tvm").weight_config(3, 8).power_of_two);
}

TEST(BackendPresets, OverridesAndThePrintout) {
  quant::BackendConfig c = quant::backend_preset("fbgemm");
  quant::apply_override(c, "weight_per_channel=false");
  quant::apply_override(c, "activation_scheme=symmetric");
  quant::apply_override(c, "activation_kind=signed");
  quant::apply_override(c, "graph=2");
  quant::apply_override(c, "weight_bits=4");
  quant::apply_override(c, "policy=tflite");
  quant::apply_override(c, "first_last_8bit=0");
  EXPECT_FALSE(c.weight_per_channel);
  EXPECT_EQ(c.activation_scheme, QScheme::symmetric);
  EXPECT_EQ(c.graph, GraphPolicy::tensorrt);
  EXPECT_EQ(c.weight_bits, 4);
  EXPECT_FALSE(c.first_last_8bit);
  EXPECT_TRUE(c.policy == quant::NumericPolicy::tflite());
  EXPECT_EQ(c.str(),
            "name=fbgemm weight_bits=4 activation_bits=8 weight_per_channel=false weight_scheme=asymmetric "
            "weight_kind=signed activation_scheme=symmetric activation_kind=signed unsigned_when_non_negative=false "
            "power_of_two=false graph=2 fold_bn=true first_last_8bit=false policy=(" +
                quant::to_string(quant::NumericPolicy::tflite()) + ")");
}

TEST(BackendPresets, Errors) {
  EXPECT_LOWBIT_ERROR(quant::backend_preset("onnx"), "unknown backend 'onnx'", "tensorrt");
  EXPECT_LOWBIT_ERROR(quant::backend_preset("academic", 9, 8), "9");
  quant::BackendConfig c = quant::backend_preset("academic");
  EXPECT_LOWBIT_ERROR(quant::apply_override(c, "fold"), "expected key=value");
  EXPECT_LOWBIT_ERROR(quant::apply_override(c, "fold_bn=maybe"), "fold_bn=maybe", "true or false");
  EXPECT_LOWBIT_ERROR(quant::apply_override(c, "graph=4"), "graph=4", "1, 2 or 3");
  EXPECT_LOWBIT_ERROR(quant::apply_override(c, "weight_bits=x"), "weight_bits=x");
  EXPECT_LOWBIT_ERROR(quant::apply_override(c, "colour=red"), "unknown key 'colour'", "fold_bn");
  EXPECT_LOWBIT_ERROR(quant::apply_override(c, "weight_kind=twos"), "signed, narrow or unsigned");
}

}  // namespace
}  // namespace lowbit
