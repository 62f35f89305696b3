// Two workers under steady load, one killed with SIGKILL mid-run: no
// accepted sample is lost. Unary calls either succeed or fail with a
// retryable code the load tool counts; every streamed sample is answered.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/load_command.h"
#include "gtest/gtest.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"

namespace v2p {
namespace {

class ScaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("scale");
    const auto train = testing::TrainDigit69Ridge(dir_, "m");
    ASSERT_EQ(train.exit_code, 0) << train.output;
    auto s = testing::ServerProcess::Start(dir_, {"--workers=spawn:2", "--worker_device=cpu"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    ASSERT_EQ(server_->Children().size(), 2u);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  client::LoadReport LoadWhileKillingAWorker(bool stream) {
    client::LoadOptions o;
    o.server = server_->address();
    o.model = "m";
    o.clients = stream ? 4 : 8;
    o.duration_s = 5;
    o.stream = stream;
    std::atomic<int64_t> received{0};
    o.received_so_far = &received;
    absl::StatusOr<client::LoadReport> report;
    std::thread load([&] { report = client::RunLoad(o); });
    // The load is under way (results coming back) before a worker dies.
    const absl::Time until = absl::Now() + absl::Seconds(o.duration_s / 2);
    while (received < 200 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(5));
    EXPECT_GE(received, 200) << "results before the kill";
    const auto workers = server_->Children();
    EXPECT_EQ(workers.size(), 2u);
    if (!workers.empty()) kill(workers[0], SIGKILL);
    load.join();
    EXPECT_TRUE(report.ok()) << report.status();
    std::printf("%s", client::FormatLoadReport(o, *report).c_str());
    return report.ok() ? *report : client::LoadReport{};
  }

  std::string dir_;
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(ScaleTest, UnaryLoadLosesNoAcceptedSampleWhenAWorkerDies) {
  const client::LoadReport r = LoadWhileKillingAWorker(/*stream=*/false);
  int64_t errors = 0;
  for (const auto& [code, n] : r.errors) {
    EXPECT_EQ(code, "UNAVAILABLE") << "only a retryable code is acceptable";
    errors += n;
  }
  EXPECT_GT(r.received, 100);
  EXPECT_EQ(r.sent, r.received + errors) << "a request neither answered nor failed";
}

TEST_F(ScaleTest, StreamsReceiveEverySampleWhenAWorkerDies) {
  const client::LoadReport r = LoadWhileKillingAWorker(/*stream=*/true);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_GT(r.received, 100);
  EXPECT_EQ(r.sent, r.received);
}

}  // namespace
}  // namespace v2p
