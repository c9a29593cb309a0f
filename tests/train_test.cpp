// tools/train.h on real Fashion-MNIST (skipped with a message when Debian's
// dataset-fashion-mnist is not installed): a tiny ResNet learns (the loss falls, test
// accuracy far above chance), a run stopped and resumed gives the bits of a straight run,
// the log is valid JSON lines, and eval reads back what train wrote. The full-size run
// (ResNet-20, >= 93%) is scripts/train_fashion_mnist.sh, not part of this suite.
#include "tools/train.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "data/idx.h"
#include "tests/fashion_mnist_test_util.h"
#include "nn/safetensors.h"
#include "tests/test_util.h"

namespace lowbit {
namespace {

bool have_data() { return test::have_fashion_mnist(); }

std::string no_data_message() { return test::no_fashion_mnist_message(); }

std::string temp_dir(const std::string& name) { return test::fresh_temp_dir("lowbit_train_test_", name); }

tools::TrainConfig tiny_config(const std::string& out) {
  tools::TrainConfig c;
  c.model = "tiny";
  c.out_dir = out;
  c.epochs = 2;
  c.batch_size = 32;
  c.lr = 0.2;
  c.warmup_epochs = 0.2;
  c.limit_train = 4800;  // 150 steps per epoch
  c.limit_test = 1000;
  c.log_every = 25;
  c.seed = 5;
  return c;
}

TEST(Train, TinyResNetLearnsFashionMnist) {
  if (!have_data()) GTEST_SKIP() << no_data_message();
  const std::string out = temp_dir("learns");
  const tools::TrainResult r = tools::train(tiny_config(out));
  EXPECT_EQ(r.steps, 300);
  EXPECT_LT(r.last_loss, 0.6 * r.first_loss) << "first loss " << r.first_loss << ", last " << r.last_loss;
  EXPECT_GT(r.test_top1, 65.0);  // chance is 10%
  EXPECT_GT(r.test_top5, 95.0);

  // The log: JSON lines, a start, 300 / 25 step lines (+ epoch ends), two epochs, a summary.
  std::ifstream log(out + "/log.jsonl");
  std::string line;
  int starts = 0, epochs = 0, summaries = 0, steps = 0;
  while (std::getline(log, line)) {
    const auto j = nlohmann::json::parse(line);
    const std::string event = j.at("event");
    starts += event == "start";
    epochs += event == "epoch";
    summaries += event == "summary";
    steps += event == "step";
    if (event == "step") {
      EXPECT_GT(j.at("lr").get<double>(), 0.0);
    }
  }
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(epochs, 2);
  EXPECT_EQ(summaries, 1);
  EXPECT_EQ(steps, 12);

  // eval reads the saved weights back and reproduces the last evaluation.
  auto model = tools::make_model("tiny", 1, 10, 0);
  model->load_state_dict(nn::load_safetensors(out + "/last.safetensors"), "last.safetensors");
  const tools::EvalResult ev = tools::evaluate(*model, "", 100, 1000);
  EXPECT_DOUBLE_EQ(ev.top1, r.test_top1);
  EXPECT_NEAR(ev.loss, r.test_loss, 1e-6 * r.test_loss);  // batches of 100 here, 256 in train(): another order
  std::filesystem::remove_all(out);
}

// N steps, save, resume, M more steps == N + M steps straight, bit for bit (weights,
// BN buffers, optimizer buffers), with the stop in the middle of an epoch.
TEST(Train, ResumeIsBitIdentical) {
  if (!have_data()) GTEST_SKIP() << no_data_message();
  tools::TrainConfig straight = tiny_config(temp_dir("straight"));
  straight.limit_train = 1600;  // 50 steps per epoch
  straight.max_steps = 80;
  tools::train(straight);

  tools::TrainConfig first = straight;
  first.out_dir = temp_dir("resumed");
  first.max_steps = 37;
  EXPECT_EQ(tools::train(first).steps, 37);
  tools::TrainConfig second = first;
  second.resume = true;
  second.max_steps = 80;
  EXPECT_EQ(tools::train(second).steps, 43);

  for (const char* file : {"/last.safetensors", "/last.train.safetensors"}) {
    const nn::NamedTensors a = nn::load_safetensors(straight.out_dir + file);
    const nn::NamedTensors b = nn::load_safetensors(first.out_dir + file);
    ASSERT_EQ(a.size(), b.size()) << file;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_TRUE(test::bit_equal(a[i].second, b[i].second, std::string(file) + " " + a[i].first));
    }
  }

  // Resuming with other settings is refused with the difference spelled out.
  tools::TrainConfig other = second;
  other.lr = 0.1;
  try {
    tools::train(other);
    ADD_FAILURE() << "resume with another lr was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other settings"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(straight.out_dir);
  std::filesystem::remove_all(first.out_dir);
}

}  // namespace
}  // namespace lowbit
