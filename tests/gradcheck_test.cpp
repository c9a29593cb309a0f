// gradcheck (f64 finite differences against backward) for every differentiable op of
// autograd/ops.h, with broadcasting in either operand, non-contiguous inputs, every
// keepdim/dims combination of the reductions and every matmul case; and gradcheck
// itself: a wrong backward is caught and its worst Jacobian entry reported.
//
// Inputs stay away from the points where an op is not differentiable: |x| >= 0.2 for
// abs/relu/sign, positive inputs for log/sqrt/rsqrt/fractional pow, random continuous
// values (ties and clamp bounds have probability ~0 at eps = 1e-6).
#include <functional>
#include <string>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/ops.h"
#include "tests/grad_test_util.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::random_strided;
using test::random_tensor;
using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

using test::grad_ok;

Tensor r64(const Shape& sizes, uint64_t seed, double lo = -2, double hi = 2) {
  return random_tensor(sizes, DType::f64, seed, lo, hi);
}
// Values with 0.2 <= |x| <= 2 and random signs.
Tensor away_from_zero(const Shape& sizes, uint64_t seed) {
  return raw::mul(r64(sizes, seed, 0.2, 2), raw::sign(r64(sizes, seed + 1000)));
}
Tensor positive(const Shape& sizes, uint64_t seed) { return r64(sizes, seed, 0.5, 2); }

// Operand shape pairs: same shape, broadcasting in a, in b, in both, a scalar, 1-D.
const std::vector<std::pair<Shape, Shape>> kBroadcastPairs = {
    {{2, 3}, {2, 3}},       {{2, 3, 2, 2}, {1, 3, 1, 1}}, {{1, 3, 1, 1}, {2, 3, 2, 2}},
    {{2, 1, 3}, {4, 1}},    {{}, {2, 3}},                 {{2, 3}, {}},
    {{3}, {2, 3}},
};

// ---- binary ----

TEST(Gradcheck, BinaryOpsWithBroadcasting) {
  const std::vector<std::pair<std::string, Fn>> ops = {
      {"add", [](const std::vector<Tensor>& in) { return add(in[0], in[1]); }},
      {"sub", [](const std::vector<Tensor>& in) { return sub(in[0], in[1]); }},
      {"mul", [](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }},
      {"div", [](const std::vector<Tensor>& in) { return div(in[0], in[1]); }},
      {"minimum", [](const std::vector<Tensor>& in) { return minimum(in[0], in[1]); }},
      {"maximum", [](const std::vector<Tensor>& in) { return maximum(in[0], in[1]); }},
  };
  uint64_t seed = 1;
  for (const auto& [name, f] : ops)
    for (const auto& [sa, sb] : kBroadcastPairs) {
      const Tensor a = r64(sa, seed++), b = name == "div" ? away_from_zero(sb, seed++) : r64(sb, seed++);
      EXPECT_TRUE(grad_ok(f, {a, b}, name));
    }
}

TEST(Gradcheck, BinaryOpsNonContiguousAndOneConstantOperand) {
  const Tensor a = random_strided({3, 4}, DType::f64, 11), b = raw::add(random_strided({3, 4}, DType::f64, 12), 3.0);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return in[0] * in[1] + in[0] / in[1] - in[1]; }, {a, b},
                      "a*b + a/b - b"));
  // Only one operand is differentiated; the other is a constant of the graph.
  const Tensor c = r64({3, 4}, 13);
  EXPECT_TRUE(grad_ok([c](const std::vector<Tensor>& in) { return in[0] * c + c / (in[0] + 3.0); }, {a}, "x*c + c/(x+3)"));
  EXPECT_TRUE(grad_ok([c](const std::vector<Tensor>& in) { return maximum(c, in[0]) - minimum(in[0], c); }, {a},
                      "maximum/minimum with a constant"));
}

TEST(Gradcheck, ScalarOperandsAndOperators) {
  const Tensor x = away_from_zero({2, 3}, 21);
  const std::vector<std::pair<std::string, Fn>> ops = {
      {"x + 1.5", [](const std::vector<Tensor>& in) { return in[0] + 1.5; }},
      {"x - 1.5", [](const std::vector<Tensor>& in) { return in[0] - 1.5; }},
      {"x * 1.5", [](const std::vector<Tensor>& in) { return in[0] * 1.5; }},
      {"x / 1.5", [](const std::vector<Tensor>& in) { return in[0] / 1.5; }},
      {"1.5 + x", [](const std::vector<Tensor>& in) { return 1.5 + in[0]; }},
      {"1.5 - x", [](const std::vector<Tensor>& in) { return 1.5 - in[0]; }},
      {"1.5 * x", [](const std::vector<Tensor>& in) { return 1.5 * in[0]; }},
      {"1.5 / x", [](const std::vector<Tensor>& in) { return 1.5 / in[0]; }},
      {"-x", [](const std::vector<Tensor>& in) { return -in[0]; }},
      {"add(x, s)", [](const std::vector<Tensor>& in) { return add(in[0], -0.25); }},
      {"div(x, s)", [](const std::vector<Tensor>& in) { return div(in[0], -4.0); }},
  };
  for (const auto& [name, f] : ops) EXPECT_TRUE(grad_ok(f, {x}, name));
}

// ---- unary ----

TEST(Gradcheck, UnaryOps) {
  struct Case {
    std::string name;
    Fn f;
    Tensor x;
  };
  const Shape s = {3, 4};
  const std::vector<Case> cases = {
      {"neg", [](const std::vector<Tensor>& in) { return neg(in[0]); }, r64(s, 31)},
      {"abs", [](const std::vector<Tensor>& in) { return abs(in[0]); }, away_from_zero(s, 32)},
      {"relu", [](const std::vector<Tensor>& in) { return relu(in[0]); }, away_from_zero(s, 33)},
      {"exp", [](const std::vector<Tensor>& in) { return exp(in[0]); }, r64(s, 34)},
      {"log", [](const std::vector<Tensor>& in) { return log(in[0]); }, positive(s, 35)},
      {"sqrt", [](const std::vector<Tensor>& in) { return sqrt(in[0]); }, positive(s, 36)},
      {"rsqrt", [](const std::vector<Tensor>& in) { return rsqrt(in[0]); }, positive(s, 37)},
      {"tanh", [](const std::vector<Tensor>& in) { return tanh(in[0]); }, r64(s, 38)},
      {"sigmoid", [](const std::vector<Tensor>& in) { return sigmoid(in[0]); }, r64(s, 39)},
      {"pow 3", [](const std::vector<Tensor>& in) { return pow(in[0], 3); }, r64(s, 40)},
      {"pow 2", [](const std::vector<Tensor>& in) { return pow(in[0], 2); }, r64(s, 41)},
      {"pow 0.5", [](const std::vector<Tensor>& in) { return pow(in[0], 0.5); }, positive(s, 42)},
      {"pow -1.5", [](const std::vector<Tensor>& in) { return pow(in[0], -1.5); }, positive(s, 43)},
      {"pow 0", [](const std::vector<Tensor>& in) { return pow(in[0], 0); }, r64(s, 44)},
      {"clamp", [](const std::vector<Tensor>& in) { return clamp(in[0], -0.5, 0.8); }, r64(s, 45)},
      {"sign", [](const std::vector<Tensor>& in) { return sign(in[0]); }, away_from_zero(s, 46)},
      {"floor", [](const std::vector<Tensor>& in) { return floor(in[0]); }, r64(s, 47)},
      {"ceil", [](const std::vector<Tensor>& in) { return ceil(in[0]); }, r64(s, 48)},
      {"round", [](const std::vector<Tensor>& in) { return round(in[0]); }, r64(s, 49)},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(grad_ok(c.f, {c.x}, c.name));
    // The same op on a non-contiguous view of the same values.
    Tensor strided = random_strided(s, DType::f64, 0);
    strided.copy_(c.x);
    EXPECT_TRUE(grad_ok(c.f, {strided}, c.name + " (strided)"));
  }
}

TEST(Gradcheck, ClampPassesInsideTheBoundsInclusive) {
  // At the bounds the gradient passes (PyTorch's choice), outside it is 0.
  Tensor x = from_vector<double>({-1, -0.5, 0, 0.8, 2});
  set_requires_grad(x);
  backward(sum(clamp(x, -0.5, 0.8)));
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{0, 1, 1, 1, 0}));
  // relu and abs use the subgradient 0 at 0.
  Tensor z = from_vector<double>({0});
  set_requires_grad(z);
  backward(sum(relu(z) + abs(z)));
  EXPECT_EQ(grad(z).item(), 0);
}

// ---- where ----

TEST(Gradcheck, WhereToBothBranches) {
  const Tensor cond = random_tensor({2, 1, 3}, DType::b8, 51);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return where(in[0], in[1], in[2]); },
                      {cond, r64({2, 4, 3}, 52), r64({3}, 53)}, "where, b broadcast"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return where(in[0], in[1], in[2]); },
                      {cond, r64({}, 54), random_strided({4, 3}, DType::f64, 55)}, "where, scalar a, strided b"));
}

// ---- reductions ----

TEST(Gradcheck, ReductionsOverDimsWithAndWithoutKeepdim) {
  const std::vector<std::vector<int64_t>> dim_lists = {{}, {0}, {1}, {-1}, {0, 2}, {2, 0, 1}};
  const Tensor contiguous = r64({2, 3, 4}, 61);
  const Tensor strided = random_strided({2, 3, 4}, DType::f64, 62);
  for (const Tensor& x : {contiguous, strided})
    for (const auto& dims : dim_lists)
      for (bool keepdim : {false, true}) {
        const std::string what = str_cat(" dims ", shape_str(dims), keepdim ? " keepdim" : "");
        EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return sum(in[0], dims, keepdim); }, {x}, "sum" + what));
        EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return mean(in[0], dims, keepdim); }, {x}, "mean" + what));
        EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return var(in[0], dims, 1, keepdim); }, {x}, "var" + what));
        EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return var(in[0], dims, 0, keepdim); }, {x},
                            "var (correction 0)" + what));
        EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return max(in[0], dims, keepdim); }, {x}, "max" + what));
        EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return min(in[0], dims, keepdim); }, {x}, "min" + what));
      }
}

TEST(Gradcheck, ReductionsOfScalarsAndAminmax) {
  const Tensor s = r64({}, 63);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return sum(in[0]); }, {s}, "sum of a 0-d tensor"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return max(in[0], {0}); }, {s}, "max of a 0-d tensor"));
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) {
        auto [lo, hi] = aminmax(in[0], {1});
        return lo + hi * 2.0;
      },
      {r64({3, 5}, 64)}, "aminmax"));
}

TEST(Gradcheck, MaxSplitsTheGradientEvenlyAmongTies) {
  Tensor x = from_vector<double>({1, 3, 3, 2, 3, 0}, {2, 3});
  set_requires_grad(x);
  backward(sum(max(x)));  // three elements equal 3
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{0, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3, 0}));
  zero_grad(x);
  backward(sum(min(x, {1})));  // row minima 1 and 0, no ties
  EXPECT_EQ(grad(x).to_vector<double>(), (std::vector<double>{1, 0, 0, 0, 0, 1}));
  Tensor a = from_vector<double>({1, 2}), b = from_vector<double>({1, 3});
  set_requires_grad(a);
  set_requires_grad(b);
  backward(sum(maximum(a, b)));  // a tie in element 0: half each
  EXPECT_EQ(grad(a).to_vector<double>(), (std::vector<double>{0.5, 0}));
  EXPECT_EQ(grad(b).to_vector<double>(), (std::vector<double>{0.5, 1}));
}

// ---- matmul ----

TEST(Gradcheck, MatmulEveryCase) {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{3}, {3}},                // dot
      {{3}, {3, 4}},             // vector @ matrix
      {{2, 3}, {3}},             // matrix @ vector
      {{2, 3}, {3, 4}},          // matrix @ matrix
      {{2, 2, 3}, {3, 4}},       // batch @ matrix
      {{2, 3}, {2, 3, 4}},       // matrix @ batch
      {{3}, {2, 3, 4}},          // vector @ batch
      {{2, 2, 3}, {3}},          // batch @ vector
      {{2, 1, 2, 3}, {3, 3, 2}}, // broadcast batch dims on both sides
  };
  const Fn f = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  uint64_t seed = 71;
  for (const auto& [sa, sb] : cases) {
    EXPECT_TRUE(grad_ok(f, {r64(sa, seed), r64(sb, seed + 1)}, "matmul"));
    seed += 2;
  }
  // Non-contiguous operands (a transposed view and a padded one).
  const Tensor at = r64({3, 2}, 81).transpose(0, 1);
  EXPECT_TRUE(grad_ok(f, {at, random_strided({3, 4}, DType::f64, 82)}, "matmul, strided"));
  // One constant operand.
  const Tensor w = r64({3, 4}, 83);
  EXPECT_TRUE(grad_ok([w](const std::vector<Tensor>& in) { return matmul(in[0], w); }, {r64({2, 3}, 84)},
                      "matmul, constant b"));
  EXPECT_TRUE(grad_ok([w](const std::vector<Tensor>& in) { return matmul(in[0], transpose(w, 0, 1)); },
                      {r64({5, 2, 4}, 85)}, "matmul, constant transposed b"));
}

TEST(Gradcheck, Linear) {
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                      {r64({2, 3, 4}, 91), r64({5, 4}, 92), r64({5}, 93)}, "linear with bias"));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); },
                      {r64({4}, 94), r64({2, 4}, 95)}, "linear without bias, 1-D input"));
  // A two-layer network, end to end.
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) {
        const Tensor h = tanh(linear(in[0], in[1], in[2]));
        return mean(pow(linear(h, in[3]) - 0.5, 2));
      },
      {r64({3, 4}, 96), r64({5, 4}, 97), r64({5}, 98), r64({2, 5}, 99)}, "two-layer MLP"));
}

// ---- views ----

TEST(Gradcheck, Views) {
  struct Case {
    std::string name;
    Fn f;
  };
  const std::vector<Case> cases = {
      {"reshape", [](const std::vector<Tensor>& in) { return reshape(in[0], {4, -1}); }},
      {"view", [](const std::vector<Tensor>& in) { return view(contiguous(in[0]), {6, 4}); }},
      {"flatten", [](const std::vector<Tensor>& in) { return flatten(in[0], 1); }},
      {"permute", [](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 1}); }},
      {"transpose", [](const std::vector<Tensor>& in) { return transpose(in[0], 0, -1); }},
      {"narrow", [](const std::vector<Tensor>& in) { return narrow(in[0], 1, 1, 2); }},
      {"slice", [](const std::vector<Tensor>& in) { return slice(in[0], 2, 0, 4, 2); }},
      {"select", [](const std::vector<Tensor>& in) { return select(in[0], 1, -1); }},
      {"unsqueeze", [](const std::vector<Tensor>& in) { return unsqueeze(in[0], 1); }},
      {"squeeze", [](const std::vector<Tensor>& in) { return squeeze(narrow(in[0], 1, 0, 1)); }},
      {"squeeze dim", [](const std::vector<Tensor>& in) { return squeeze(narrow(in[0], 1, 2, 1), 1); }},
      {"squeeze no-op", [](const std::vector<Tensor>& in) { return squeeze(in[0], 0); }},
      {"expand", [](const std::vector<Tensor>& in) { return expand(narrow(in[0], 1, 0, 1), {3, 2, 3, 4}); }},
      {"clone", [](const std::vector<Tensor>& in) { return clone(in[0]); }},
      {"contiguous", [](const std::vector<Tensor>& in) { return contiguous(in[0]); }},
      // A view used twice: the two gradients land on overlapping places.
      {"overlapping parts",
       [](const std::vector<Tensor>& in) { return narrow(in[0], 1, 0, 2) * narrow(in[0], 1, 1, 2); }},
  };
  const Tensor contiguous_x = r64({2, 3, 4}, 101);
  const Tensor strided_x = random_strided({2, 3, 4}, DType::f64, 102);
  for (const Case& c : cases) {
    EXPECT_TRUE(grad_ok(c.f, {contiguous_x}, c.name));
    EXPECT_TRUE(grad_ok(c.f, {strided_x}, c.name + " (strided)"));
  }
}

// ---- gradcheck itself ----

TEST(Gradcheck, AWrongBackwardFailsAndNamesTheWorstElement) {
  // y = x^2 with the wrong derivative x (instead of 2x): the error on the diagonal is x,
  // largest at the largest element.
  const Fn square_wrong = [](const std::vector<Tensor>& in) {
    return apply_function(
        "square_wrong", {in[0]},
        [](FunctionCtx& ctx, const std::vector<Tensor>& x) {
          ctx.save_for_backward({x[0]});
          return raw::mul(x[0], x[0]);
        },
        [](FunctionCtx& ctx, const Tensor& gy) -> Grads { return {raw::mul(gy, ctx.saved_tensors()[0])}; });
  };
  const Tensor x = from_vector<double>({1, 3, 2}, {1, 3});
  const GradcheckResult r = gradcheck(square_wrong, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failures, 3);  // the three diagonal entries
  EXPECT_EQ(r.input, 0);
  EXPECT_EQ(r.input_index, (Shape{0, 1}));
  EXPECT_EQ(r.output_index, (Shape{0, 1}));
  EXPECT_NEAR(r.analytic, 3, 1e-12);
  EXPECT_NEAR(r.numeric, 6, 1e-6);
  EXPECT_NE(r.message.find("differ in 3 of 9 entries"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("worst: d output[0,1] / d input 0[0,1]: analytic 3, numeric 6"), std::string::npos)
      << r.message;

  // The right derivative passes.
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {x}, "x*x"));
}

TEST(Gradcheck, LeavesTheInputsAloneAndRejectsBadOnes) {
  const Tensor x = random_strided({2, 3}, DType::f64, 111);
  const std::vector<double> before = x.to_vector<double>();
  const uint64_t version = x.storage()->version();
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return exp(in[0]); }, {x}, "exp"));
  EXPECT_EQ(x.to_vector<double>(), before);
  EXPECT_EQ(x.storage()->version(), version);
  EXPECT_FALSE(requires_grad(x));

  const Fn f = [](const std::vector<Tensor>& in) { return in[0] * 2.0; };
  EXPECT_LOWBIT_ERROR(gradcheck(f, {r64({2}, 1).to(DType::f32)}), "gradcheck: input 0 is [2] f32 cpu", "f64");
  EXPECT_LOWBIT_ERROR(gradcheck(f, {r64({1}, 1).expand({3})}), "gradcheck: input 0", "broadcast view");
  EXPECT_LOWBIT_ERROR(gradcheck(f, {from_vector<int64_t>({1, 2})}), "gradcheck: no f64 input");
  // An output that does not depend on the inputs has a zero Jacobian, which is right.
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return zeros(in[0].sizes(), DType::f64); }, {r64({2}, 2)},
                      "constant"));
}

}  // namespace
}  // namespace lowbit
