// The fault matrix (README, "Faults"): what a client sees and what is lost
// when a worker hangs under load, the gateway restarts mid-stream, the
// repository's disk fills while a version is saved, and a client vanishes
// mid-stream. Real v2p-server and v2p-worker processes over loopback.
// (A worker killed under load: scale_test.cc; malformed uploads:
// hostile_requests_test.cc and training_test.cc.)
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/load_command.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/eventually.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p {
namespace {

namespace fs = std::filesystem;
namespace v1 = voxel2pixel::v1;
using ::testing::HasSubstr;

using testing::Eventually;

class Faults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ds = core::LoadDataset(testing::Digit69Options());
    ASSERT_TRUE(ds.ok()) << ds.status();
    dataset_ = new core::Dataset(*std::move(ds));
  }
  static void TearDownTestSuite() { delete dataset_; }
  void SetUp() override {
    dir_ = testing::MakeTempDir("faults");
    const auto train = testing::TrainDigit69Ridge(dir_, "m");
    ASSERT_EQ(train.exit_code, 0) << train.output;
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  void Start(int workers) {
    auto s = testing::ServerProcess::Start(
        dir_, {absl::StrCat("--workers=spawn:", workers), "--worker_device=cpu"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }
  // The 10 test trials reconstructed by the server now running.
  void ExpectServes(const std::string& when) {
    auto stub = v1::Reconstruction::NewStub(server_->channel());
    v1::ReconstructResponse response;
    const grpc::Status s =
        testing::ReconstructTestTrials(*stub, "m", *dataset_, false, 0, &response);
    EXPECT_TRUE(s.ok()) << when << ": " << s.error_message();
    EXPECT_EQ(response.results_size(), dataset_->test.betas.rows()) << when;
  }
  // A gauge of the server's /metrics (-1 when absent).
  double Metric(const std::string& name) {
    const auto scraped = testing::RunCommand(
        absl::StrCat("curl -sf http://127.0.0.1:", server_->metrics_port(), "/metrics"));
    for (absl::string_view line : absl::StrSplit(scraped.output, '\n')) {
      if (!absl::ConsumePrefix(&line, name + " ")) continue;
      double value;
      if (absl::SimpleAtod(line, &value)) return value;
    }
    return -1;
  }

  static core::Dataset* dataset_;
  std::string dir_;
  std::unique_ptr<testing::ServerProcess> server_;
};
core::Dataset* Faults::dataset_;

// A worker stopped (SIGSTOP) under unary load: the gateway misses its
// keepalive ping within about 4 s, fails the batch it holds over to the
// other worker and sends it nothing more; once it resumes it serves again.
// Nothing is dropped without an answer.
TEST_F(Faults, AHungWorkerUnderLoadCostsOnlyTheCallsItHolds) {
  Start(2);
  const auto workers = server_->Children();
  ASSERT_EQ(workers.size(), 2u);
  client::LoadOptions o;
  o.server = server_->address();
  o.model = "m";
  o.clients = 8;
  o.duration_s = 10;
  std::atomic<int64_t> received{0};
  o.received_so_far = &received;
  absl::StatusOr<client::LoadReport> report;
  std::thread load([&] { report = client::RunLoad(o); });
  ASSERT_TRUE(Eventually([&] { return received >= 200; }, absl::Seconds(20)));
  ASSERT_EQ(kill(workers[0], SIGSTOP), 0);
  const int64_t at_stop = received;
  load.join();
  ASSERT_EQ(kill(workers[0], SIGCONT), 0);
  ASSERT_TRUE(report.ok()) << report.status();
  std::printf("%s", client::FormatLoadReport(o, *report).c_str());
  int64_t errors = 0;
  for (const auto& [code, n] : report->errors) {
    EXPECT_THAT(code, ::testing::AnyOf("DEADLINE_EXCEEDED", "UNAVAILABLE"))
        << report->first_error.at(code);
    errors += n;
  }
  EXPECT_EQ(report->sent, report->received + errors) << "a request neither answered nor failed";
  // The stopped worker held at most one call per client; after the
  // failover the other worker served on.
  EXPECT_LE(errors, o.clients);
  EXPECT_GT(report->received - at_stop, 200) << "the other worker kept serving";
  ExpectServes("after the worker resumed");
}

// The gateway stopped (SIGTERM, as a rolling restart does) while a stream
// is sending: the stream ends with an error, so the client knows which
// samples were not answered (each answered id is one it sent, none twice);
// a new gateway on the same repository serves at once.
TEST_F(Faults, AGatewayRestartedMidStreamLeavesNoSampleSilentlyUnanswered) {
  Start(1);
  auto stub = v1::Reconstruction::NewStub(server_->channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->StreamReconstruct(&ctx);
  std::atomic<int> sent{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      v1::StreamReconstructRequest request;
      request.set_model("m");
      *request.mutable_sample() = testing::BetasSample(
          dataset_->test.betas, i % dataset_->test.betas.rows(), absl::StrCat("s", i));
      if (!stream->Write(request)) break;
      ++sent;
    }
    stream->WritesDone();
  });
  std::set<std::string> answered;
  v1::StreamReconstructResponse response;
  bool duplicate = false;
  const pid_t gateway = server_->pid();
  while (stream->Read(&response)) {
    duplicate |= !answered.insert(response.result().sample_id()).second;
    if (answered.size() == 50) kill(gateway, SIGTERM);
  }
  stop = true;
  writer.join();
  const grpc::Status status = stream->Finish();
  std::printf("sent %d, answered %zu, stream ended: %s %s\n", sent.load(), answered.size(),
              absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())).c_str(),
              status.error_message().c_str());
  EXPECT_FALSE(duplicate);
  EXPECT_GE(answered.size(), 50u);
  for (const std::string& id : answered) {
    int n;
    ASSERT_TRUE(absl::SimpleAtoi(absl::string_view(id).substr(1), &n)) << id;
    EXPECT_LT(n, sent.load()) << id << " was answered but never sent";
  }
  if (static_cast<int>(answered.size()) < sent.load()) {
    EXPECT_FALSE(status.ok()) << "samples went unanswered on a stream that ended OK";
  }
  server_.reset();  // waits for the old gateway to exit
  Start(1);
  ExpectServes("after the restart");
}

// The repository's file system refuses files past 4 MB (RLIMIT_FSIZE,
// inherited by the gateway and its worker): the job's checkpoints (about
// 1.2 MB each) are written, the version's 9.7 MB weights are not. The job
// saving version 2 fails with RESOURCE_EXHAUSTED and the reason,
// version 1 is intact and served, and the worker that ran the job is
// still the same process.
TEST_F(Faults, ADiskFullWhileAVersionIsSavedFailsTheJobAndKeepsThePrevious) {
  Start(1);
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string at = " --server " + server_->address();
  ASSERT_EQ(testing::RunCommand(cli + "datasets upload --name d --description " +
                                testing::SourceDir() + "/examples/digit69_dataset.pbtxt" + at)
                .exit_code,
            0);
  server_.reset();
  rlimit original;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &original), 0);
  rlimit small = original;
  small.rlim_cur = 4 << 20;
  signal(SIGXFSZ, SIG_IGN);  // this process too, while the limit is on
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  Start(1);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &original), 0);
  signal(SIGXFSZ, SIG_DFL);
  const auto workers = server_->Children();
  const auto job = testing::RunCommand(cli + "train --dataset d --model m --wait --spec " +
                                       testing::SourceDir() + "/examples/digit69_ridge.pbtxt" +
                                       " --server " + server_->address());
  std::printf("%s\n", job.output.c_str());
  EXPECT_NE(job.exit_code, 0);
  EXPECT_THAT(job.output, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(job.output, HasSubstr("File too large"));
  EXPECT_THAT(job.output, HasSubstr("ridge_weights.npy"));
  EXPECT_THAT(job.output, ::testing::Not(HasSubstr(dir_)));
  EXPECT_EQ(server_->Children(), workers) << "the worker died";
  // Version 1 only, served.
  auto models = v1::Models::NewStub(server_->channel());
  grpc::ClientContext ctx;
  v1::GetModelRequest get;
  get.set_name("m");
  v1::Model model;
  ASSERT_TRUE(models->GetModel(&ctx, get, &model).ok());
  EXPECT_EQ(model.version(), 1);
  EXPECT_EQ(model.available_versions_size(), 1);
  ExpectServes("after the failed save");
}

// A streaming client killed (SIGKILL) mid-stream: its stream is let go (the
// gauge of streams in flight returns to 0) and others are served.
TEST_F(Faults, AClientVanishingMidStreamFreesItsStreamAndHurtsNoOne) {
  Start(1);
  const pid_t client = fork();
  ASSERT_GE(client, 0);
  if (client == 0) {
    const std::string v2p = absl::StrCat(testing::BinDir(), "/v2p");
    const std::string address = server_->address();
    execl(v2p.c_str(), "v2p", "bench", "--server", address.c_str(), "--model", "m", "--stream",
          "--clients", "2", "--duration", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  EXPECT_TRUE(Eventually([&] { return Metric("v2p_streams_in_flight") >= 2; }, absl::Seconds(30)));
  kill(client, SIGKILL);
  int wstatus;
  waitpid(client, &wstatus, 0);
  EXPECT_TRUE(Eventually([&] { return Metric("v2p_streams_in_flight") == 0; }, absl::Seconds(30)))
      << Metric("v2p_streams_in_flight") << " streams still held";
  ExpectServes("after the client vanished");
}

}  // namespace
}  // namespace v2p
