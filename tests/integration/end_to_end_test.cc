// End to end through the real processes: `v2p train` writes a model,
// v2p-server (spawning a real v2p-worker) serves it on 127.0.0.1:0, and the
// digit69 test betas are reconstructed over gRPC.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/data/dataset.h"
#include "core/data/mat_file.h"
#include "core/evaluation/report.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "proto/rpc_status.h"
#include "server/subprocess.h"
#include "tests/testing/digit69.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

using ::testing::HasSubstr;
using ::testing::Not;

namespace v2p {
namespace {

namespace v1 = voxel2pixel::v1;

constexpr char kModel[] = "digit69_ridge";

class EndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new std::string(testing::MakeTempDir("e2e"));
    const auto train = testing::TrainDigit69Ridge(*repo_, kModel);
    ASSERT_EQ(train.exit_code, 0) << train.output;
    auto ds = core::LoadDataset(testing::Digit69Options());
    ASSERT_TRUE(ds.ok()) << ds.status();
    dataset_ = new core::Dataset(*std::move(ds));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*repo_);
    delete repo_;
    delete dataset_;
  }
  void SetUp() override {
    auto server =
        testing::ServerProcess::Start(*repo_, {"--workers=spawn:1", "--worker_device=cpu"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = v1::Reconstruction::NewStub(server_->channel());
  }

  static v1::Sample TestSample(int i) {
    return testing::BetasSample(dataset_->test.betas, i, absl::StrCat("test-", i));
  }
  static v1::ReconstructRequest Request(std::initializer_list<int> samples) {
    v1::ReconstructRequest r;
    r.set_model(kModel);
    r.set_include_pixels(true);
    for (int i : samples) *r.add_samples() = TestSample(i);
    return r;
  }
  grpc::Status Call(const v1::ReconstructRequest& req, v1::ReconstructResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->Reconstruct(&ctx, req, resp);
  }
  // Streams test trial i one beta short; the stream's final status.
  grpc::Status StreamOneShortSample(int i) {
    grpc::ClientContext ctx;
    auto stream = stub_->StreamReconstruct(&ctx);
    v1::StreamReconstructRequest req;
    req.set_model(kModel);
    *req.mutable_sample() = TestSample(i);
    req.mutable_sample()->mutable_betas()->RemoveLast();
    stream->Write(req);
    stream->WritesDone();
    v1::StreamReconstructResponse ignored;
    while (stream->Read(&ignored)) {
    }
    return stream->Finish();
  }
  static Eigen::MatrixXd Pixels(const std::vector<v1::ReconstructionResult>& results) {
    Eigen::MatrixXd m(results.size(), 784);
    for (size_t i = 0; i < results.size(); ++i) {
      EXPECT_EQ(results[i].image().pixels_size(), 784);
      for (int p = 0; p < 784; ++p) m(i, p) = results[i].image().pixels(p);
    }
    return m;
  }

  static std::string* repo_;
  static core::Dataset* dataset_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<v1::Reconstruction::Stub> stub_;
};
std::string* EndToEnd::repo_;
core::Dataset* EndToEnd::dataset_;

void ExpectStageTimings(const v1::StageTimings& t) {
  for (const auto* d :
       {&t.queue(), &t.preprocess(), &t.decode(), &t.generate(), &t.encode(), &t.total()}) {
    EXPECT_GE(FromDurationProto(*d), absl::ZeroDuration());
  }
  EXPECT_TRUE(t.has_queue() && t.has_preprocess() && t.has_decode() && t.has_generate() &&
              t.has_encode() && t.has_total());
  EXPECT_GT(FromDurationProto(t.decode()), absl::ZeroDuration());
  const absl::Duration sum = FromDurationProto(t.queue()) + FromDurationProto(t.preprocess()) +
                             FromDurationProto(t.decode()) + FromDurationProto(t.generate()) +
                             FromDurationProto(t.refine()) + FromDurationProto(t.encode());
  EXPECT_GE(FromDurationProto(t.total()), sum);
}

TEST_F(EndToEnd, ReconstructsDigit69TestBetasAboveQualityBar) {
  v1::ReconstructResponse resp;
  const grpc::Status status = Call(Request({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(resp.results_size(), 10);
  std::vector<v1::ReconstructionResult> results(resp.results().begin(), resp.results().end());
  for (int i = 0; i < 10; ++i) {
    const auto& r = results[i];
    EXPECT_EQ(r.sample_id(), absl::StrCat("test-", i));
    EXPECT_EQ(r.model(), kModel);
    EXPECT_EQ(r.model_version(), 1);
    EXPECT_EQ(r.image().height(), 28);
    EXPECT_EQ(r.image().width(), 28);
    EXPECT_EQ(r.image().png().substr(1, 3), "PNG");
    ExpectStageTimings(r.timings());
  }
  auto scores =
      core::ScoreReconstructions(Pixels(results), dataset_->test.stimuli, dataset_->image);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_GE(scores->pcc, 0.75);
  EXPECT_GE(scores->identification_pcc, 0.85);
  std::printf("digit69 over gRPC: pcc %.4f identification(pcc) %.4f ssim-11g %.4f\n", scores->pcc,
              scores->identification_pcc, scores->ssim);
}

TEST_F(EndToEnd, SingleSampleRequestsCarryAllTimings) {
  for (int i = 0; i < 10; ++i) {
    v1::ReconstructResponse resp;
    ASSERT_TRUE(Call(Request({i}), &resp).ok());
    ASSERT_EQ(resp.results_size(), 1);
    ExpectStageTimings(resp.results(0).timings());
  }
}

TEST_F(EndToEnd, StreamReturnsOneResultPerSampleWithMatchingIds) {
  v1::ReconstructResponse unary;
  ASSERT_TRUE(Call(Request({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), &unary).ok());

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub_->StreamReconstruct(&ctx);
  std::thread writer([&] {
    for (int i = 0; i < 10; ++i) {
      v1::StreamReconstructRequest req;
      if (i == 0) req.set_model(kModel);
      req.set_include_pixels(true);
      *req.mutable_sample() = TestSample(i);
      ASSERT_TRUE(stream->Write(req));
    }
    stream->WritesDone();
  });
  std::vector<v1::ReconstructionResult> results;
  v1::StreamReconstructResponse resp;
  while (stream->Read(&resp)) results.push_back(resp.result());
  writer.join();
  const grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(results.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(results[i].sample_id(), absl::StrCat("test-", i));
    ExpectStageTimings(results[i].timings());
    // The same reconstruction as the unary call (same model, same betas).
    EXPECT_EQ(results[i].image().png(), unary.results(i).image().png());
  }
}

TEST_F(EndToEnd, BadInputGetsPreciseErrorsAndServerKeepsServing) {
  v1::ReconstructResponse resp;
  auto wrong = Request({0});
  wrong.mutable_samples(0)->mutable_betas()->RemoveLast();
  grpc::Status s = Call(wrong, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("expects 3092 betas, received 3091"));
  EXPECT_THAT(s.error_message(), HasSubstr("test-0"));

  auto nan = Request({0, 1});
  nan.mutable_samples(1)->set_betas(100, std::numeric_limits<float>::quiet_NaN());
  s = Call(nan, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("'test-1'"));
  EXPECT_THAT(s.error_message(), HasSubstr("beta 100 is nan; expected finite"));

  auto inf = Request({0});
  inf.mutable_samples(0)->set_betas(7, std::numeric_limits<float>::infinity());
  EXPECT_EQ(Call(inf, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  s = Call(Request({}), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("expected at least one sample, received 0"));

  auto unknown = Request({0});
  unknown.set_model("no_such_model");
  s = Call(unknown, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("no_such_model"));
  EXPECT_THAT(s.error_message(), HasSubstr(kModel));  // names what exists

  auto escape = Request({0});
  escape.set_model("../models");
  EXPECT_EQ(Call(escape, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto no_model = Request({0});
  no_model.clear_model();
  EXPECT_EQ(Call(no_model, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Attention maps from a model that decodes none (a ridge pixel map).
  auto attention = Request({0});
  attention.set_include_attention(true);
  s = Call(attention, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("decodes no attention map"));

  auto bad_version = Request({0});
  bad_version.set_model_version(99);
  EXPECT_EQ(Call(bad_version, &resp).error_code(), grpc::StatusCode::NOT_FOUND);

  // 65 MiB of betas: over the message bound, refused before any work.
  v1::ReconstructRequest huge = Request({});
  auto* big = huge.add_samples();
  big->mutable_betas()->Resize(17 << 20, 0.0f);
  EXPECT_EQ(Call(huge, &resp).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  // A bad sample in a stream ends it with the sample named.
  const grpc::Status st = StreamOneShortSample(3);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("test-3"));

  ASSERT_TRUE(Call(Request({0, 1}), &resp).ok());
  EXPECT_EQ(resp.results_size(), 2);
}

TEST_F(EndToEnd, KilledWorkerIsRestartedAndNextRequestSucceeds) {
  v1::ReconstructResponse resp;
  ASSERT_TRUE(Call(Request({0}), &resp).ok());
  const std::vector<pid_t> before = server_->Children();
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(kill(before[0], SIGKILL), 0);

  const grpc::Status s = Call(Request({1}), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.results(0).sample_id(), "test-1");
  const std::vector<pid_t> after = server_->Children();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], before[0]);
}

TEST_F(EndToEnd, LoadAndUnloadModelShowPlacement) {
  auto models = v1::Models::NewStub(server_->channel());
  auto get = [&] {
    grpc::ClientContext ctx;
    v1::GetModelRequest req;
    req.set_name(kModel);
    v1::Model m;
    EXPECT_TRUE(models->GetModel(&ctx, req, &m).ok());
    return m;
  };
  EXPECT_EQ(get().placement_size(), 0) << "nothing loaded before the first request";

  grpc::ClientContext load_ctx;
  v1::LoadModelRequest load;
  load.set_name(kModel);  // version 0: the latest
  v1::Model loaded;
  ASSERT_TRUE(models->LoadModel(&load_ctx, load, &loaded).ok());
  ASSERT_EQ(loaded.placement_size(), 1);
  ASSERT_EQ(loaded.placement(0).versions_size(), 1);
  EXPECT_EQ(loaded.placement(0).versions(0), 1);
  EXPECT_FALSE(loaded.placement(0).worker().empty());
  EXPECT_EQ(get().placement_size(), 1);

  grpc::ClientContext bad_ctx;
  v1::LoadModelRequest bad;
  bad.set_name(kModel);
  bad.set_version(7);
  EXPECT_EQ(models->LoadModel(&bad_ctx, bad, &loaded).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext unload_ctx;
  v1::UnloadModelRequest unload;
  unload.set_name(kModel);
  google::protobuf::Empty empty;
  ASSERT_TRUE(models->UnloadModel(&unload_ctx, unload, &empty).ok());
  EXPECT_EQ(get().placement_size(), 0);

  v1::ReconstructResponse resp;  // an unloaded model loads again on demand
  ASSERT_TRUE(Call(Request({0}), &resp).ok());
  EXPECT_EQ(get().placement_size(), 1);
}

// A number field of /proc/PID/status ("Threads:", "VmRSS:" in kB); 0 when
// it cannot be read.
long ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  }
  return 0;
}

// An operator unloads a model while clients keep sending to it: every
// request is answered (a request that raced an unload loads the model again
// in the worker; ABORTED only if it raced two), each with its own sample,
// and the worker ends with no more threads than before and no copy of the
// model kept in memory: every unloaded copy's batch threads ended (each
// reload starts two) and its weights were freed.
TEST_F(EndToEnd, UnloadUnderLoadAnswersEveryRequestAndLeaksNoThreads) {
  v1::ReconstructResponse warm;
  ASSERT_TRUE(Call(Request({0}), &warm).ok());
  const std::vector<pid_t> workers = server_->Children();
  ASSERT_EQ(workers.size(), 1u);
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<grpc::StatusCode, int> codes;
  int wrong_sample = 0;
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = c; !stop; i += 4) {
        v1::ReconstructResponse resp;
        const grpc::Status st = Call(Request({i % 10}), &resp);
        std::lock_guard<std::mutex> lock(mu);
        ++codes[st.error_code()];
        if (st.ok() && (resp.results_size() != 1 ||
                        resp.results(0).sample_id() != absl::StrCat("test-", i % 10))) {
          ++wrong_sample;
        }
      }
    });
  }
  const auto answered_so_far = [&] {
    std::lock_guard<std::mutex> lock(mu);
    int n = 0;
    for (const auto& [code, k] : codes) n += k;
    return n;
  };
  // Waits until `n` more requests have been answered (up to 30 s).
  const auto await_answers = [&](int n) {
    const int target = answered_so_far() + n;
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (answered_so_far() < target && absl::Now() < until) absl::SleepFor(absl::Milliseconds(2));
    return answered_so_far() >= target;
  };
  ASSERT_TRUE(await_answers(20));
  const long before = ProcStatus(workers[0], "Threads:");
  const long rss_before = ProcStatus(workers[0], "VmRSS:");
  auto models = v1::Models::NewStub(server_->channel());
  for (int u = 0; u < 20; ++u) {
    grpc::ClientContext ctx;
    v1::UnloadModelRequest unload;
    unload.set_name(kModel);
    google::protobuf::Empty empty;
    ASSERT_TRUE(models->UnloadModel(&ctx, unload, &empty).ok());
    // Requests flow between unloads (they load the model again).
    EXPECT_TRUE(await_answers(8)) << "after unload " << u;
  }
  stop = true;
  for (auto& t : clients) t.join();
  // An unloaded copy's batch threads end once its last request is answered.
  const absl::Time until = absl::Now() + absl::Seconds(10);
  long after = ProcStatus(workers[0], "Threads:");
  while (after > before + 1 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
    after = ProcStatus(workers[0], "Threads:");
  }
  const long rss_after = ProcStatus(workers[0], "VmRSS:");

  int answered = 0;
  for (const auto& [code, n] : codes) answered += n;
  std::fprintf(stderr,
               "%d requests during 20 unloads: %d OK; worker threads %ld before, %ld after; "
               "RSS %ld kB before, %ld kB after\n",
               answered, codes[grpc::StatusCode::OK], before, after, rss_before, rss_after);
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(code == grpc::StatusCode::OK || code == grpc::StatusCode::ABORTED)
        << n << " requests ended with code " << code;
  }
  EXPECT_GE(codes[grpc::StatusCode::OK], answered * 99 / 100) << "of " << answered;
  EXPECT_GT(answered, 100);
  EXPECT_EQ(wrong_sample, 0);
  EXPECT_GT(before, 0);
  EXPECT_LE(after, before + 1) << "worker threads " << before << " before the unloads, " << after
                               << " after 20";
  // The worker gives freed memory back after each load and unload
  // (malloc_trim); what stays is the allocator's slack, not copies of the
  // model (without Release, 9 copies kept measured +366 MB, 36 threads).
  EXPECT_GT(rss_before, 0);
  EXPECT_LE(rss_after, rss_before + 96 * 1024) << "worker RSS in kB";
}

TEST_F(EndToEnd, ModelsServiceDescribesTheTrainedModel) {
  auto models = v1::Models::NewStub(server_->channel());
  grpc::ClientContext ctx;
  v1::GetModelRequest req;
  req.set_name(kModel);
  v1::Model m;
  ASSERT_TRUE(models->GetModel(&ctx, req, &m).ok());
  EXPECT_EQ(m.num_voxels(), 3092);
  EXPECT_EQ(m.image_shape().height(), 28);
  EXPECT_EQ(m.version(), 1);
  EXPECT_THAT(m.pipeline_description(), HasSubstr("ridge"));
  EXPECT_THAT(m.pipeline_spec(), HasSubstr("TARGET_SPACE_PIXELS"));
  EXPECT_GE(m.evaluation().metrics().at("pcc"), 0.75);
  EXPECT_LT(m.evaluation().baseline_metrics().at("pcc"), m.evaluation().metrics().at("pcc"));
  EXPECT_EQ(m.mean_training_image().pixels_size(), 784);

  grpc::ClientContext list_ctx;
  v1::ListModelsResponse list;
  ASSERT_TRUE(models->ListModels(&list_ctx, {}, &list).ok());
  ASSERT_EQ(list.models_size(), 1);
  EXPECT_EQ(list.models(0).name(), kModel);
}

grpc::health::v1::HealthCheckResponse::ServingStatus Health(
    const std::shared_ptr<grpc::Channel>& ch, const std::string& service = "") {
  auto health = grpc::health::v1::Health::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status s = health->Check(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.status();
}

// Service names listed through server reflection, as grpcurl would.
std::vector<std::string> ReflectedServices(const std::shared_ptr<grpc::Channel>& ch) {
  namespace refl = grpc::reflection::v1alpha;
  auto stub = refl::ServerReflection::NewStub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&ctx);
  refl::ServerReflectionRequest req;
  req.set_list_services("");
  EXPECT_TRUE(stream->Write(req));
  stream->WritesDone();
  std::vector<std::string> names;
  refl::ServerReflectionResponse resp;
  while (stream->Read(&resp)) {
    for (const auto& s : resp.list_services_response().service()) names.push_back(s.name());
  }
  EXPECT_TRUE(stream->Finish().ok());
  return names;
}

TEST_F(EndToEnd, ServerHasHealthAndReflection) {
  EXPECT_EQ(Health(server_->channel()), grpc::health::v1::HealthCheckResponse::SERVING);
  // Readiness: serving because its worker is.
  EXPECT_EQ(Health(server_->channel(), "voxel2pixel.v1.Reconstruction"),
            grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_THAT(ReflectedServices(server_->channel()),
              ::testing::IsSupersetOf({"voxel2pixel.v1.Reconstruction", "voxel2pixel.v1.Models",
                                       "grpc.health.v1.Health"}));
}

TEST_F(EndToEnd, WorkerHasHealthAndReflection) {
  auto worker = server::SpawnWithReadyFd(
      {testing::BinDir() + "/v2p-worker", "--repo=" + *repo_, "--port=0", "--device=cpu"},
      absl::Seconds(60));
  ASSERT_TRUE(worker.ok()) << worker.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", worker->port),
                                     grpc::InsecureChannelCredentials());
  EXPECT_EQ(Health(channel), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_THAT(ReflectedServices(channel), ::testing::Contains("voxel2pixel.worker.v1.Worker"));
  kill(worker->pid, SIGTERM);
  int status = 0;
  waitpid(worker->pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server::DescribeExit(status);
}

TEST_F(EndToEnd, CliReconstructWritesImagesSheetTimingsAndMetrics) {
  const std::string out = testing::MakeTempDir("cli-out");
  const auto r = testing::RunCommand(
      absl::StrCat(testing::BinDir(), "/v2p reconstruct --server ", server_->address(), " --model ",
                   kModel, " --betas ", testing::DataDir(),
                   "/digit69/digit69_28x28.mat --var fmriTest --stimuli-var stimTest --out ", out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f :
       {"contact_sheet.png", "timings.json", "metrics.json", "sample_000.png", "sample_009.png"}) {
    EXPECT_TRUE(std::filesystem::exists(out + "/" + f)) << f;
  }
  const auto metrics = testing::RunCommand("cat " + out + "/metrics.json");
  for (const char* key : {"\"pcc\"", "\"mse\"", "\"ssim\"", "\"identification_pcc\"",
                          "\"identification_ssim\"", "\"baseline\""}) {
    EXPECT_THAT(metrics.output, HasSubstr(key));
  }
  const auto bad = testing::RunCommand(absl::StrCat(
      testing::BinDir(), "/v2p reconstruct --server ", server_->address(), " --model ", kModel,
      " --betas ", testing::DataDir(), "/digit69/digit69_28x28.mat --var stimTest --out ", out));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(bad.output, HasSubstr("stimTest is 10 x 784; " + std::string(kModel) +
                                    " takes 3092 voxels per sample"));
  // Betas stored voxels x samples: the message says so.
  auto mat = core::MatFile::Open(testing::DataDir() + "/digit69/digit69_28x28.mat");
  ASSERT_TRUE(mat.ok());
  auto betas = (*mat)->ReadMatrix("fmriTest");
  ASSERT_TRUE(betas.ok());
  ASSERT_TRUE(core::WriteMatFile(out + "/transposed.mat",
                                 {{"fmriTest", Eigen::MatrixXd(betas->transpose())}})
                  .ok());
  const auto transposed = testing::RunCommand(
      absl::StrCat(testing::BinDir(), "/v2p reconstruct --server ", server_->address(), " --model ",
                   kModel, " --betas ", out, "/transposed.mat --var fmriTest --out ", out));
  EXPECT_NE(transposed.exit_code, 0);
  EXPECT_THAT(transposed.output, HasSubstr("fmriTest is 3092 x 10"));
  EXPECT_THAT(transposed.output, HasSubstr("stored voxels x samples: transpose it"));
  std::filesystem::remove_all(out);
}

TEST_F(EndToEnd, CliModelsShowPutsEachScoreBesideItsSdInTheReadmeOrder) {
  const auto r = testing::RunCommand(absl::StrCat(testing::BinDir(), "/v2p models show --server ",
                                                  server_->address(), " --model ", kModel));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  size_t at = 0;
  for (const char* row : {"\n  pcc ", "\n  mse ", "\n  ssim ", "\n  identification_pcc ",
                          "\n  identification_ssim "}) {
    const size_t next = r.output.find(row);
    ASSERT_NE(next, std::string::npos) << row << " missing:\n" << r.output;
    EXPECT_GT(next, at) << row << " out of order:\n" << r.output;
    at = next;
  }
  const size_t pcc = r.output.find("\n  pcc ");
  const std::string pcc_row = r.output.substr(pcc + 1, r.output.find('\n', pcc + 1) - pcc - 1);
  // The model's and the mean image's, each with its SD.
  EXPECT_EQ(std::count(pcc_row.begin(), pcc_row.end(), '.'), 4) << pcc_row;
  EXPECT_THAT(pcc_row, HasSubstr("±"));
  EXPECT_THAT(r.output, Not(HasSubstr("pcc_sd")));
  EXPECT_THAT(r.output, Not(HasSubstr("\n  num_samples")));
}

TEST_F(EndToEnd, CliBenchStreamsWithTheWindowAskedFor) {
  const std::string bench =
      absl::StrCat(testing::BinDir(), "/v2p bench --server ", server_->address(), " --model ",
                   kModel, " --clients 2 --duration 1 --stream --betas ", testing::DataDir(),
                   "/digit69/digit69_28x28.mat --var fmriTest");
  const auto one = testing::RunCommand(bench + " --window 1");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_THAT(one.output, HasSubstr("2 streaming clients, 1 sample(s) in flight per stream"));
  EXPECT_THAT(one.output, HasSubstr("(none lost)"));
  const auto zero = testing::RunCommand(bench + " --window 0");
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_THAT(zero.output, HasSubstr("--window >= 1"));
}

}  // namespace
}  // namespace v2p
