// autograd engine: requires_grad propagation, accumulation into leaves, the reverse
// topological walk (shared subexpressions), grad mode, detach, hooks, custom functions,
// the in-place check on saved tensors, freeing the graph, and the error messages.
// The per-op gradients are checked numerically in gradcheck_test.cpp.
#include <pthread.h>

#include <cmath>
#include <vector>

#include "autograd/autograd.h"
#include "tensor/ops.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

using test::all_close;
using test::random_tensor;

Tensor leaf(const std::vector<float>& values, const Shape& sizes) {
  Tensor t = from_vector(values, sizes);
  set_requires_grad(t);
  return t;
}

TEST(AutogradEngine, RequiresGradPropagates) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor c = from_vector<float>({4, 5, 6});
  EXPECT_TRUE(requires_grad(x));
  EXPECT_TRUE(is_leaf(x));
  EXPECT_FALSE(requires_grad(c));

  Tensor y = x * c;
  EXPECT_TRUE(requires_grad(y));
  EXPECT_FALSE(is_leaf(y));
  ASSERT_NE(grad_fn(y), nullptr);
  EXPECT_EQ(grad_fn(y)->name, "mul");
  EXPECT_FALSE(requires_grad(c * c));      // no input requires grad: nothing recorded
  EXPECT_EQ(grad_fn(c + 1.0), nullptr);
  EXPECT_FALSE(requires_grad(gt(x, c)));   // comparisons are never recorded

  // A copy of the handle shares the autograd state; a raw member view does not.
  Tensor x2 = x;
  EXPECT_TRUE(requires_grad(x2));
  EXPECT_FALSE(requires_grad(x.reshape({3, 1})));
  EXPECT_TRUE(requires_grad(reshape(x, {3, 1})));
}

TEST(AutogradEngine, LeafGradAccumulatesOverBackwardCalls) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor c = from_vector<float>({4, 5, 6});
  EXPECT_FALSE(grad(x).defined());
  backward(sum(x * c));
  EXPECT_TRUE(all_close(c, grad(x), 0, 0, "first backward"));
  backward(sum(x * c));
  EXPECT_TRUE(all_close(from_vector<float>({8, 10, 12}), grad(x), 0, 0, "accumulated"));
  zero_grad(x);
  EXPECT_TRUE(all_close(zeros({3}), grad(x), 0, 0, "after zero_grad"));
  backward(sum(x));
  EXPECT_TRUE(all_close(ones({3}), grad(x), 0, 0, "after zero_grad and backward"));
}

TEST(AutogradEngine, DiamondGraphSumsBothPaths) {
  // y = a*a (shared), z = y*2 + exp(y) + y: dz/da = (2 + e^y + 1) * 2a.
  Tensor a = leaf({0.5f, -1.0f}, {2});
  Tensor y = a * a;
  Tensor z = sum(y * 2.0 + exp(y) + y);
  backward(z);
  std::vector<float> expected;
  for (float v : {0.5f, -1.0f}) expected.push_back((3 + std::exp(v * v)) * 2 * v);
  EXPECT_TRUE(all_close(from_vector(expected), grad(a), 1e-6, 1e-6, "diamond"));

  // The same leaf used twice by one node: d(x*x)/dx = 2x.
  Tensor x = leaf({3}, {1});
  backward(sum(x * x));
  EXPECT_FLOAT_EQ(grad(x).item(), 6);
}

TEST(AutogradEngine, NoGradGuardRecordsNothing) {
  Tensor x = leaf({1, 2}, {2});
  {
    NoGradGuard guard;
    EXPECT_FALSE(GradMode::is_enabled());
    Tensor y = exp(x) * x;
    EXPECT_FALSE(requires_grad(y));
    EXPECT_EQ(grad_fn(y), nullptr);
    {
      NoGradGuard nested;
    }
    EXPECT_FALSE(GradMode::is_enabled());  // the nested guard restores "off", not "on"
  }
  EXPECT_TRUE(GradMode::is_enabled());
  EXPECT_TRUE(requires_grad(exp(x)));
}

TEST(AutogradEngine, DetachSharesStorageWithoutGraph) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x * 3.0;
  Tensor d = detach(y);
  EXPECT_FALSE(requires_grad(d));
  EXPECT_TRUE(is_leaf(d));
  EXPECT_EQ(d.storage(), y.storage());
  // Used in a graph, the detached value is a constant: d(x * detach(y))/dx = y.
  backward(sum(x * d));
  EXPECT_TRUE(all_close(from_vector<float>({3, 6}), grad(x), 0, 0, "detach"));
}

TEST(AutogradEngine, HooksObserveAndReplace) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = x * 3.0;
  std::vector<Tensor> seen_y, seen_x;
  register_hook(y, [&](const Tensor& g) { seen_y.push_back(g); return Tensor(); });  // observe
  register_hook(y, [](const Tensor& g) { return raw::mul(g, 10.0); });               // replace
  register_hook(x, [&](const Tensor& g) { seen_x.push_back(g); return Tensor(); });
  backward(sum(y * y));  // dL/dy = 2y = [6, 12]; replaced by [60, 120]; dL/dx = 3 * that
  ASSERT_EQ(seen_y.size(), 1u);
  EXPECT_TRUE(all_close(from_vector<float>({6, 12}), seen_y[0], 0, 0, "hook on y"));
  ASSERT_EQ(seen_x.size(), 1u);
  EXPECT_TRUE(all_close(from_vector<float>({180, 360}), seen_x[0], 0, 0, "hook on x"));
  EXPECT_TRUE(all_close(from_vector<float>({180, 360}), grad(x), 0, 0, "grad x"));

  // A leaf hook sees the gradient summed over all uses, once; a replacement goes into grad.
  Tensor w = leaf({1}, {1});
  int calls = 0;
  register_hook(w, [&](const Tensor& g) {
    ++calls;
    EXPECT_FLOAT_EQ(g.item(), 5);
    return raw::mul(g, 0.0);
  });
  backward(sum(w * 2.0 + w * 3.0));
  EXPECT_EQ(calls, 1);
  EXPECT_FLOAT_EQ(grad(w).item(), 0);

  // A hook must keep the shape.
  Tensor v = leaf({1, 2}, {2});
  register_hook(v, [](const Tensor&) { return zeros({3}); });
  EXPECT_LOWBIT_ERROR(backward(sum(v)), "hook", "[3]");
  Tensor plain = from_vector<float>({1});
  EXPECT_LOWBIT_ERROR(register_hook(plain, [](const Tensor& g) { return g; }), "register_hook", "does not require grad");
}

// round in forward, identity in backward (the straight-through estimator).
Tensor round_ste(const Tensor& x) {
  return apply_function(
      "round_ste", {x}, [](FunctionCtx&, const std::vector<Tensor>& in) { return raw::round(in[0]); },
      [](FunctionCtx&, const Tensor& gy) -> Grads { return {gy}; });
}

TEST(AutogradEngine, CustomFunctionStraightThrough) {
  Tensor x = leaf({0.4f, 1.6f, -2.5f}, {3});
  Tensor y = round_ste(x);
  EXPECT_TRUE(all_close(from_vector<float>({0, 2, -2}), y, 0, 0, "round forward"));
  ASSERT_NE(grad_fn(y), nullptr);
  EXPECT_EQ(grad_fn(y)->name, "round_ste");
  backward(sum(y * from_vector<float>({1, 2, 3})));
  EXPECT_TRUE(all_close(from_vector<float>({1, 2, 3}), grad(x), 0, 0, "identity backward"));

  // The differentiable round has zero gradient instead.
  Tensor z = leaf({0.4f}, {1});
  backward(sum(round(z)));
  EXPECT_FLOAT_EQ(grad(z).item(), 0);
}

TEST(AutogradEngine, CustomFunctionSavesTensorsAndChecksGradients) {
  // y = x * s with s saved by the context; backward dx = gy * s, ds = sum(gy * x).
  auto scale = [](const Tensor& x, const Tensor& s) {
    return apply_function(
        "scale", {x, s},
        [](FunctionCtx& ctx, const std::vector<Tensor>& in) {
          ctx.save_for_backward({in[0], in[1]});
          return raw::mul(in[0], in[1]);
        },
        [](FunctionCtx& ctx, const Tensor& gy) -> Grads {
          const std::vector<Tensor> saved = ctx.saved_tensors();
          EXPECT_EQ(ctx.needs_input_grad, (std::vector<bool>{true, false}));
          return {raw::mul(gy, saved[1]), Tensor()};
        });
  };
  Tensor x = leaf({1, 2}, {2});
  Tensor s = from_vector<float>({3});
  Tensor y = scale(x, s);
  EXPECT_FALSE(requires_grad(scale(from_vector<float>({1}), s)));
  s.fill_(4);  // modifies a saved tensor in place
  EXPECT_LOWBIT_ERROR(backward(sum(y)), "scale: a tensor saved for backward was modified in place", "version 1",
                      "saved at version 0");

  // A backward that returns a gradient of the wrong shape is caught by the engine.
  Tensor bad = apply_function(
      "bad", {x}, [](FunctionCtx&, const std::vector<Tensor>& in) { return raw::mul(in[0], 2.0); },
      [](FunctionCtx&, const Tensor&) -> Grads { return {zeros({5})}; });
  EXPECT_LOWBIT_ERROR(backward(sum(bad)), "bad: backward returned a gradient [5] f32 cpu for input 0 of shape [2]");
  Tensor bad_count = apply_function(
      "bad_count", {x}, [](FunctionCtx&, const std::vector<Tensor>& in) { return raw::mul(in[0], 2.0); },
      [](FunctionCtx&, const Tensor& gy) -> Grads { return {gy, gy}; });
  EXPECT_LOWBIT_ERROR(backward(sum(bad_count)), "bad_count: backward returned 2 gradients for 1 inputs");
}

TEST(AutogradEngine, InPlaceModificationOfSavedTensorIsAnError) {
  Tensor a = leaf({1, 2}, {2});
  Tensor b = from_vector<float>({3, 4});
  Tensor y = a * b;  // saves b (for da) and not a (b needs no gradient)
  raw::add_(b, ones({2}));
  EXPECT_LOWBIT_ERROR(backward(sum(y)), "mul: a tensor saved for backward was modified in place (version 1, saved at version 0",
                      "clone it before modifying");

  // Through a view: the version counter lives in the shared storage.
  Tensor c = leaf({0.5f, 1.5f}, {2});
  Tensor t = tanh(c);  // saves its result
  Tensor view = t.narrow(0, 1, 1);
  view.fill_(0);
  EXPECT_LOWBIT_ERROR(backward(sum(t)), "tanh: a tensor saved for backward was modified in place");

  // Modifying a tensor that was not saved is fine.
  Tensor d = leaf({1, 2}, {2});
  Tensor e = from_vector<float>({1, 1});
  Tensor f = d + e;  // add saves nothing
  e.fill_(5);
  backward(sum(f));
  EXPECT_TRUE(all_close(ones({2}), grad(d), 0, 0, "add after in-place"));
}

TEST(AutogradEngine, BackwardTwiceThroughFreedGraphIsAnError) {
  Tensor x = leaf({1, 2}, {2});
  Tensor loss = sum(x * x);
  backward(loss);
  EXPECT_LOWBIT_ERROR(backward(loss), "backward: the graph through sum was already freed",
                      "retain_graph=true");
  Tensor y = exp(x);
  backward(sum(y));
  EXPECT_LOWBIT_ERROR(backward(sum(y)), "the graph through exp was already freed");
}

TEST(AutogradEngine, RetainGraphAllowsASecondBackward) {
  Tensor x = leaf({1, 2}, {2});
  Tensor loss = sum(x * x);
  backward(loss, Tensor(), /*retain_graph=*/true);
  backward(loss, Tensor(), /*retain_graph=*/true);
  EXPECT_TRUE(all_close(from_vector<float>({4, 8}), grad(x), 0, 0, "2 * 2x"));
  backward(loss);  // the last one may free it
  EXPECT_TRUE(all_close(from_vector<float>({6, 12}), grad(x), 0, 0, "3 * 2x"));
  EXPECT_LOWBIT_ERROR(backward(loss), "already freed");
}

TEST(AutogradEngine, BackwardWithAGradientAndItsErrors) {
  Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  Tensor y = x * 2.0;
  EXPECT_LOWBIT_ERROR(backward(y), "backward: a gradient can be created implicitly only for a tensor with one element",
                      "[2,2] f32 cpu");
  EXPECT_LOWBIT_ERROR(backward(y, ones({4})), "backward: the gradient [4] f32 cpu does not match the root [2,2] f32 cpu");
  EXPECT_LOWBIT_ERROR(backward(y, ones({2, 2}, DType::f64)), "does not match the root");
  backward(y, from_vector<float>({1, 0, 0, 1}, {2, 2}));
  EXPECT_TRUE(all_close(from_vector<float>({2, 0, 0, 2}, {2, 2}), grad(x), 0, 0, "given gradient"));

  // Backward on a leaf itself; and on something that does not require grad.
  Tensor w = leaf({5}, {1});
  backward(w);
  EXPECT_FLOAT_EQ(grad(w).item(), 1);
  EXPECT_LOWBIT_ERROR(backward(ones({1})), "backward:", "does not require grad");
}

TEST(AutogradEngine, OnlyFloatLeavesCanRequireGrad) {
  Tensor i = from_vector<int32_t>({1, 2});
  EXPECT_LOWBIT_ERROR(set_requires_grad(i), "set_requires_grad: only float tensors can require grad", "[2] i32 cpu");
  set_requires_grad(i, false);  // turning it off is always fine
  Tensor x = leaf({1}, {1});
  Tensor y = x * 2.0;
  EXPECT_LOWBIT_ERROR(set_requires_grad(y, false), "set_requires_grad:", "not a leaf", "mul");
  set_requires_grad(x, false);
  EXPECT_FALSE(requires_grad(x));
  EXPECT_FALSE(requires_grad(x * 2.0));
}

TEST(AutogradEngine, SavedTensorsAreFreedAfterBackward) {
  Tensor a = leaf({1, 2}, {2});
  Tensor b = leaf({3, 4}, {2});
  const long before = b.storage().use_count();
  Tensor y = a * b;  // saves a and b
  Tensor t = tanh(y);  // saves its own result: no cycle, one extra reference to t's storage
  EXPECT_GT(b.storage().use_count(), before);
  EXPECT_EQ(t.storage().use_count(), 2);
  backward(sum(t));
  EXPECT_EQ(b.storage().use_count(), before);
  EXPECT_EQ(t.storage().use_count(), 1);
  // retain_graph keeps them.
  Tensor z = a * b;
  backward(sum(z), Tensor(), /*retain_graph=*/true);
  EXPECT_GT(b.storage().use_count(), before);
  z = Tensor();  // dropping the result drops the graph with it
  EXPECT_EQ(b.storage().use_count(), before);
}

TEST(AutogradEngine, NodesWithoutIncomingGradientAreSkipped) {
  // where's condition gets no gradient; a custom function may return "no gradient".
  Tensor x = leaf({1, -1}, {2});
  Tensor y = apply_function(
      "stop", {exp(x)}, [](FunctionCtx&, const std::vector<Tensor>& in) { return raw::mul(in[0], 1.0); },
      [](FunctionCtx&, const Tensor&) -> Grads { return {Tensor()}; });
  backward(sum(y + x));
  EXPECT_TRUE(all_close(ones({2}), grad(x), 0, 0, "only the direct path"));
}

// Runs fn on a thread with a 1 MiB stack (a recursion once per node would overflow it).
void run_on_small_stack(void (*fn)()) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 1 << 20);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attr, [](void* f) -> void* { reinterpret_cast<void (*)()>(f)(); return nullptr; },
                           reinterpret_cast<void*>(fn)), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(AutogradEngine, LongChainDoesNotRecurse) {
  // Sorting, running and destroying a 100k-node chain are all loops, not recursions.
  run_on_small_stack([] {
    Tensor x = leaf({1}, {1});
    Tensor y = x;
    for (int i = 0; i < 100000; ++i) y = y + 0.0;
    backward(y, Tensor(), /*retain_graph=*/true);
    EXPECT_FLOAT_EQ(grad(x).item(), 1);
    y = Tensor();  // drops the whole chain
    Tensor z = x;
    for (int i = 0; i < 100000; ++i) z = z * 1.0;
    z = Tensor();  // a chain that never ran backward
  });
}

TEST(AutogradEngine, GradientsStayInTheInputDtype) {
  Tensor x = random_tensor({3}, DType::f64, 7);
  set_requires_grad(x);
  backward(sum(exp(x)));
  EXPECT_EQ(grad(x).dtype(), DType::f64);
  EXPECT_TRUE(grad(x).is_contiguous());
}

}  // namespace
}  // namespace lowbit
