// Feature decoding end to end: the AlexNet-style feature network is trained
// (on MNIST, BRAINS and Olivetti; Fashion-MNIST left out for speed), `v2p
// train` fits ridge and SMR feature-decoding pipelines on digit69, and
// v2p-server serves them over loopback gRPC. The decoded features must have
// the layers' shapes and be closer to the true features of each test
// stimulus than the mean training features are.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/files.h"
#include "core/data/dataset.h"
#include "core/data/npy.h"
#include "core/decoding/ridge_decoder.h"
#include "core/evaluation/identification.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "core/features/feature_network.h"
#include "core/methods/shen/feature_inversion.h"
#include "core/pipeline/manifest.h"
#include "experiments/feature_commands.h"
#include "experiments/generator_commands.h"
#include "gtest/gtest.h"
#include "server/subprocess.h"
#include "tests/testing/digit69.h"
#include "tests/testing/eventually.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p {
namespace {

namespace v1 = voxel2pixel::v1;

class FeatureDecoding : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new std::string(testing::MakeTempDir("features"));
    client::FeaturesTrainOptions o;
    o.repo = *repo_;
    o.data_root = testing::DataDir();
    o.fashion_dir = "";  // MNIST + BRAINS + Olivetti only: a quick network
    o.epochs = 5;
    o.statistics_images = 500;
    auto trained = client::RunFeaturesTrain(o);
    ASSERT_TRUE(trained.ok()) << trained.status();
    mnist_accuracy_ = trained->mnist_accuracy;
    network_dir_ = new std::string(trained->dir);
    for (const char* spec : {"ridge", "smr"}) {
      const auto train = testing::RunCommand(
          absl::StrCat(testing::BinDir(), "/v2p train --dataset ", testing::SourceDir(),
                       "/examples/digit69_dataset.pbtxt --spec ", testing::SourceDir(),
                       "/examples/digit69_features_", spec, ".pbtxt --repo ", *repo_,
                       " --model features_", spec));
      ASSERT_EQ(train.exit_code, 0) << train.output;
    }
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*repo_);
    delete repo_;
    delete network_dir_;
  }

  static std::string* repo_;
  static std::string* network_dir_;
  static double mnist_accuracy_;
};
std::string* FeatureDecoding::repo_;
std::string* FeatureDecoding::network_dir_;
double FeatureDecoding::mnist_accuracy_;

TEST_F(FeatureDecoding, NetworkClassifiesHeldOutMnist) {
  // The quick network here (no Fashion-MNIST, 5 epochs); the full corpus
  // reaches >= 95% with `v2p features train` (README).
  EXPECT_GE(mnist_accuracy_, 0.93);
  auto net = core::FeatureNetwork::Load(*network_dir_);
  ASSERT_TRUE(net.ok()) << net.status();
  std::vector<std::string> names;
  for (const auto& l : (*net)->layers()) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv1", "conv2", "conv3", "conv4", "conv5", "fc6",
                                             "fc7", "fc8"}));
  const auto* stats = (*net)->statistics("fc6");
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->mean.size(), 256);
  EXPECT_GT(stats->norm_mean, 0);
  EXPECT_FALSE((*net)->Layer("fc9").ok());
  // Shen et al.'s psi is stored for every layer with the network.
  for (const auto& l : (*net)->layers()) {
    const auto* s = (*net)->statistics(l.name);
    ASSERT_NE(s, nullptr) << l.name;
    EXPECT_TRUE(s->has_psi) << l.name;
    EXPECT_GT(s->psi_mean, 0) << l.name;
    EXPECT_LT(s->psi_mean, s->norm_mean) << l.name << ": an SD of units is below their L2 norm";
  }
}

// psi over a corpus is the mean over its images of each image's psi; here
// recomputed in the test with its own loops (per-channel population SD
// averaged over channels for conv3, SD over units for fc6), on the first
// 20 digit69 training stimuli.
TEST_F(FeatureDecoding, ShenPsiIsTheCorpusMeanOfPerImageChannelSds) {
  auto net = core::FeatureNetwork::Load(*network_dir_);
  ASSERT_TRUE(net.ok()) << net.status();
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  const Eigen::MatrixXf images = ds->train.stimuli.topRows(20).cast<float>();
  ASSERT_TRUE((*net)->ComputeStatistics(images).ok());
  auto feats = (*net)->Extract(images, {"conv3", "fc6"});
  ASSERT_TRUE(feats.ok());
  for (const std::string layer : {"conv3", "fc6"}) {
    auto info = (*net)->Layer(layer);
    ASSERT_TRUE(info.ok());
    const std::vector<int64_t> shape = info->shape;
    const int64_t channels = shape.size() == 3 ? shape[0] : 1;
    const int64_t per = (*feats)[layer].cols() / channels;
    double expected = 0;
    for (Eigen::Index i = 0; i < images.rows(); ++i) {
      double image_psi = 0;
      for (int64_t c = 0; c < channels; ++c) {
        double sum = 0, sq = 0;
        for (int64_t u = 0; u < per; ++u) sum += (*feats)[layer](i, c * per + u);
        const double mean = sum / per;
        for (int64_t u = 0; u < per; ++u) {
          const double d = (*feats)[layer](i, c * per + u) - mean;
          sq += d * d;
        }
        image_psi += std::sqrt(sq / per) / channels;
      }
      expected += image_psi / images.rows();
    }
    const auto* s = (*net)->statistics(layer);
    ASSERT_NE(s, nullptr);
    EXPECT_NEAR(s->psi_mean, expected, 1e-5 * expected) << layer;
    EXPECT_EQ(s->num_images, 20);
  }
}

// Shen et al. (2019) from the TRUE features of the 10 digit69 test
// stimuli, every layer conv1-fc7 of the network trained above, L-BFGS for
// 200 iterations from a uniform image at the training stimuli's mean pixel:
// the images come back (PCC >= 0.90, identification 1.0).
TEST_F(FeatureDecoding, ShenInversionOfTrueFeaturesRecoversTheTestStimuli) {
  auto net = core::FeatureNetwork::Load(*network_dir_);
  ASSERT_TRUE(net.ok()) << net.status();
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  std::vector<std::string> layers;
  for (const auto& l : (*net)->layers())
    if (l.name != "fc8") layers.push_back(l.name);
  ASSERT_EQ(layers.size(), 7u);
  auto targets = (*net)->Extract(ds->test.stimuli.cast<float>(), layers);
  ASSERT_TRUE(targets.ok()) << targets.status();
  core::InversionOptions o;
  o.iterations = 200;
  o.start_value = static_cast<float>(ds->train.stimuli.mean());
  auto r = core::InvertFeatures(**net, *targets, ds->image, o);
  ASSERT_TRUE(r.ok()) << r.status();
  auto s = core::ScoreReconstructions(r->images.cast<double>(), ds->test.stimuli, ds->image);
  ASSERT_TRUE(s.ok()) << s.status();
  std::printf(
      "true features, 7 layers, L-BFGS %d iterations: PCC %.4f identification %.3f, "
      "loss %.3g -> %.3g\n",
      r->iterations, s->pcc, s->identification_pcc, r->initial_loss.mean(), r->final_loss.mean());
  EXPECT_GE(s->pcc, 0.90);
  EXPECT_EQ(s->identification_pcc, 1.0);
}

// The deep-generator-network prior: a DeCNN on fc6, and a "shen" model
// inverting over its input, trained locally into `repo`.
void TrainShenPriorModel(const std::string& repo) {
  client::GeneratorsTrainOptions o;
  o.repo = repo;
  o.kind = "DeCNN";
  o.name = "prior_DeCNN";
  o.data_root = testing::DataDir();
  o.epochs = 3;
  ASSERT_TRUE(client::RunGeneratorsTrain(o).ok());
  const std::string spec = repo + "/spec_shen_dgn.pbtxt";
  ASSERT_TRUE(core::WriteFile(spec,
                              "method { name: \"shen\" parameters { key: \"generator\" value: "
                              "\"prior_DeCNN\" } parameters { key: \"optimizer\" value: "
                              "\"gd\" } parameters { key: \"layers\" value: \"conv1\" } }")
                  .ok());
  const auto train = testing::RunCommand(absl::StrCat(
      testing::BinDir(), "/v2p train --dataset ", testing::SourceDir(),
      "/examples/digit69_dataset.pbtxt --spec ", spec, " --repo ", repo, " --model shen_dgn"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("over generator prior_DeCNN's input"), std::string::npos)
      << train.output;
}

// The images of a response, one row per result (28 x 28).
Eigen::MatrixXd ImagesOf(const v1::ReconstructResponse& resp) {
  Eigen::MatrixXd rec(resp.results_size(), 784);
  for (int i = 0; i < resp.results_size(); ++i) {
    EXPECT_EQ(resp.results(i).image().pixels_size(), 784);
    for (int p = 0; p < 784 && p < resp.results(i).image().pixels_size(); ++p)
      rec(i, p) = resp.results(i).image().pixels(p);
  }
  return rec;
}

// The request's own iteration count, bounded by the service, and partial
// results at a short deadline (the images so far, marked truncated).
// Returns the iterations the partial request ran.
int ExpectRefineControls(v1::Reconstruction::Stub& stub, v1::ReconstructRequest req, int n) {
  req.set_include_pixels(true);
  req.set_refine_iterations(5);
  v1::ReconstructResponse five, refused;
  grpc::ClientContext five_ctx;
  EXPECT_TRUE(stub.Reconstruct(&five_ctx, req, &five).ok());
  EXPECT_EQ(five.results_size(), n);
  if (five.results_size() > 0) {
    EXPECT_EQ(five.results(0).refine_iterations(), 5);
    EXPECT_FALSE(five.results(0).truncated());
  }
  req.set_refine_iterations(20000);
  grpc::ClientContext too_many_ctx;
  const grpc::Status too_many = stub.Reconstruct(&too_many_ctx, req, &refused);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(too_many.error_message().find("refine_iterations is 20000"), std::string::npos);
  v1::ReconstructRequest plain = req;
  plain.set_model("features_ridge");  // a features model: no refine stage
  plain.set_refine_iterations(5);
  grpc::ClientContext plain_ctx;
  EXPECT_EQ(stub.Reconstruct(&plain_ctx, plain, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  req.set_refine_iterations(10000);
  req.set_partial_results(true);
  grpc::ClientContext partial_ctx;
  partial_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
  v1::ReconstructResponse partial;
  const grpc::Status partial_status = stub.Reconstruct(&partial_ctx, req, &partial);
  EXPECT_TRUE(partial_status.ok()) << partial_status.error_message();
  EXPECT_EQ(partial.results_size(), n);
  if (partial.results_size() == 0) return 0;
  EXPECT_TRUE(partial.results(0).truncated());
  EXPECT_GT(partial.results(0).refine_iterations(), 0);
  EXPECT_LT(partial.results(0).refine_iterations(), 10000);
  EXPECT_EQ(partial.results(0).image().pixels_size(), 784);
  std::printf("partial results at a 1.5 s deadline: %d of 10000 iterations\n",
              partial.results(0).refine_iterations());
  return partial.results(0).refine_iterations();
}

// A counter on a worker's /metrics, e.g.
// v2p_refine_iterations_total{model="shen"} (0 when absent).
double WorkerCounter(int metrics_port, const std::string& series) {
  const auto metrics =
      testing::RunCommand(absl::StrCat("curl -s http://127.0.0.1:", metrics_port, "/metrics"));
  double counted = 0;
  for (absl::string_view line : absl::StrSplit(metrics.output, '\n'))
    if (absl::ConsumePrefix(&line, series + " "))
      EXPECT_TRUE(absl::SimpleAtod(line, &counted)) << line;
  return counted;
}

// Reads a ReconstructWithProgress to its end: its progress messages, and
// the response (the last message), with each message's arrival time.
struct ProgressRead {
  std::vector<v1::RefineProgress> progress;
  std::vector<std::chrono::steady_clock::time_point> arrived;
  v1::ReconstructResponse response;
  int responses = 0;
  grpc::Status status;
};
ProgressRead ReadProgress(v1::Reconstruction::Stub& stub, const v1::ReconstructRequest& req) {
  ProgressRead out;
  grpc::ClientContext ctx;
  auto reader = stub.ReconstructWithProgress(&ctx, req);
  v1::ReconstructProgress msg;
  while (reader->Read(&msg)) {
    EXPECT_EQ(out.responses, 0) << "a message after the response";
    if (msg.has_response()) {
      out.response = msg.response();
      ++out.responses;
    } else {
      out.progress.push_back(msg.progress());
      out.arrived.push_back(std::chrono::steady_clock::now());
    }
  }
  out.status = reader->Finish();
  return out;
}

// ReconstructWithProgress: a message every progress_every iterations, each
// with every sample's loss and image, the loss falling; the response last,
// its images those of the last message and of a unary call asking as much;
// progress_every refused where it does not belong.
void ExpectProgressAtItsInterval(v1::Reconstruction::Stub& stub, v1::ReconstructRequest req,
                                 int n) {
  req.set_include_pixels(true);
  req.set_refine_iterations(40);
  req.set_progress_every(10);
  const ProgressRead read = ReadProgress(stub, req);
  ASSERT_TRUE(read.status.ok()) << read.status.error_message();
  ASSERT_EQ(read.responses, 1);
  ASSERT_EQ(read.progress.size(), 4u);
  for (size_t m = 0; m < read.progress.size(); ++m) {
    const v1::RefineProgress& p = read.progress[m];
    EXPECT_EQ(p.iteration(), 10 * static_cast<int>(m + 1));
    ASSERT_EQ(p.samples_size(), n);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(p.samples(i).sample_id(), req.samples(i).id());
      EXPECT_TRUE(std::isfinite(p.samples(i).loss()) && p.samples(i).loss() > 0);
      EXPECT_EQ(p.samples(i).image().pixels_size(), 784);
      EXPECT_EQ(p.samples(i).image().png().substr(1, 3), "PNG");
    }
  }
  for (int i = 0; i < n; ++i)
    EXPECT_LT(read.progress.back().samples(i).loss(), read.progress.front().samples(i).loss());
  ASSERT_EQ(read.response.results_size(), n);
  EXPECT_EQ(read.response.results(0).refine_iterations(), 40);
  v1::ReconstructRequest unary_req = req;
  unary_req.set_progress_every(0);
  v1::ReconstructResponse unary;
  grpc::ClientContext unary_ctx;
  ASSERT_TRUE(stub.Reconstruct(&unary_ctx, unary_req, &unary).ok());
  const Eigen::MatrixXd final_images = ImagesOf(read.response);
  Eigen::MatrixXd last(n, 784);
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < 784; ++p) last(i, p) = read.progress.back().samples(i).image().pixels(p);
  EXPECT_LE((final_images - last).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LE((final_images - ImagesOf(unary)).cwiseAbs().maxCoeff(), 1e-4);

  auto refused = [&stub](const v1::ReconstructRequest& r, bool with_progress) {
    grpc::ClientContext ctx;
    if (with_progress) return ReadProgress(stub, r).status;
    v1::ReconstructResponse resp;
    return stub.Reconstruct(&ctx, r, &resp);
  };
  v1::ReconstructRequest bad = req;
  bad.set_progress_every(0);
  EXPECT_EQ(refused(bad, true).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.set_progress_every(10);
  EXPECT_EQ(refused(bad, false).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.set_model("features_ridge");  // no refine stage
  bad.set_refine_iterations(0);
  const grpc::Status no_refiner = refused(bad, true);
  EXPECT_EQ(no_refiner.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(no_refiner.error_message().find("no refine stage"), std::string::npos)
      << no_refiner.error_message();
}

// A cancel in the middle of 1,000 iterations: the worker (one thread per
// model) stops refining before the next iteration. Measured by a request
// sent right after the cancel, which waits in the worker's queue until the
// cancelled one stops: its queue time must be within 2 iterations' time
// (iterations timed by the progress messages, one per iteration).
void ExpectPromptCancel(v1::Reconstruction::Stub& stub, v1::ReconstructRequest req) {
  req.set_refine_iterations(1000);
  req.set_progress_every(1);
  grpc::ClientContext ctx;
  auto reader = stub.ReconstructWithProgress(&ctx, req);
  v1::ReconstructProgress msg;
  std::vector<double> gaps_ms;
  auto last = std::chrono::steady_clock::now();
  int iteration = 0;
  while (iteration < 30 && reader->Read(&msg)) {
    ASSERT_TRUE(msg.has_progress());
    iteration = msg.progress().iteration();
    const auto now = std::chrono::steady_clock::now();
    if (iteration > 10)
      gaps_ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
    last = now;
  }
  ASSERT_EQ(iteration, 30);
  ctx.TryCancel();
  v1::ReconstructRequest next = req;
  next.set_progress_every(0);
  next.set_refine_iterations(1);
  next.mutable_samples()->DeleteSubrange(1, next.samples_size() - 1);
  v1::ReconstructResponse answer;
  grpc::ClientContext next_ctx;
  const grpc::Status next_status = stub.Reconstruct(&next_ctx, next, &answer);
  ASSERT_TRUE(next_status.ok()) << next_status.error_message();
  while (reader->Read(&msg)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  std::sort(gaps_ms.begin(), gaps_ms.end());
  const double median = gaps_ms[gaps_ms.size() / 2];
  const auto& queue = answer.results(0).timings().queue();
  const double waited_ms = queue.seconds() * 1e3 + queue.nanos() / 1e6;
  std::printf(
      "cancel at iteration 30 of 1000: the next request waited %.1f ms in the worker's "
      "queue; an iteration took %.1f ms (median), %.1f ms (longest of %zu)\n",
      waited_ms, median, gaps_ms.back(), gaps_ms.size());
  EXPECT_LE(waited_ms, 2 * median);
}

// `v2p reconstruct --progress_every`: a loss line per batch every that many
// iterations, the images written as usual.
void ExpectCliProgress(const std::string& cli, const std::string& at) {
  const std::string out = testing::MakeTempDir("shen_cli");
  const auto run =
      testing::RunCommand(cli + "reconstruct --model shen --betas " + testing::DataDir() +
                          "/digit69/digit69_28x28.mat --var fmriTest --batch_size 10 "
                          "--refine_iterations 60 --progress_every 20 --out " +
                          out + at);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  for (const char* line :
       {"samples 0-9: iteration 20, mean loss", "iteration 40,", "iteration 60,"})
    EXPECT_NE(run.output.find(line), std::string::npos) << line << " in\n" << run.output;
  EXPECT_EQ(run.output.find("iteration 80"), std::string::npos) << run.output;
  EXPECT_TRUE(std::filesystem::exists(out + "/sample_009.png")) << run.output;
  const auto refused =
      testing::RunCommand(cli + "reconstruct --model shen --betas " + testing::DataDir() +
                          "/digit69/digit69_28x28.mat --var fmriTest --stream "
                          "--progress_every 20 --out " +
                          out + at);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("not --stream"), std::string::npos) << refused.output;
}

// A caller that stops reading a progress stream: once the transport's
// buffers and the worker's few queued messages are full, the worker waits
// --progress_stall_s (1 s here) for it, then stops refining and ends the
// call with RESOURCE_EXHAUSTED, counted in v2p_progress_stalls_total; the
// batch thread is free again.
void ExpectStalledReaderReleased(v1::Reconstruction::Stub& stub, v1::ReconstructRequest req,
                                 int metrics_port) {
  req.set_include_pixels(true);  // 35 kB a message: the buffers fill within a few hundred
  req.set_refine_iterations(10000);
  req.set_progress_every(1);
  grpc::ClientContext ctx;
  auto reader = stub.ReconstructWithProgress(&ctx, req);
  v1::ReconstructProgress msg;
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(testing::Eventually(
      [&] { return WorkerCounter(metrics_port, "v2p_progress_stalls_total") >= 1; },
      absl::Seconds(60)));
  int read = 1;
  while (reader->Read(&msg)) ++read;
  const grpc::Status status = reader->Finish();
  std::printf("a reader that stopped: %d messages delivered, then %s\n", read,
              status.error_message().c_str());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("took no progress message for 1s"), std::string::npos);
  EXPECT_LT(read, 10000);
}

// The "shen" method (examples/digit69_shen.pbtxt) trained as a job through
// the service and served over gRPC: its images beat the mean image, the
// refine stage is timed, the decoded layers come back; a deadline shorter
// than the refinement ends that request with DEADLINE_EXCEEDED and the
// worker serves the next one; the request's own iterations and partial
// results (ExpectRefineControls); progress streamed at its interval
// (ExpectProgressAtItsInterval), a prompt cancel (ExpectPromptCancel) and
// a reader that stops (ExpectStalledReaderReleased);
// every iteration counted; and a model
// with the generator prior, loaded by the worker.
TEST_F(FeatureDecoding, ShenModelTrainsAsAJobAndReconstructsOverGrpc) {
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_NO_FATAL_FAILURE(TrainShenPriorModel(*repo_));
  // A worker of our own, to read its metrics; one thread per model, so that
  // a request queues behind a cancelled one (ExpectPromptCancel).
  auto worker = server::SpawnWithReadyFd(
      {testing::BinDir() + "/v2p-worker", "--repo=" + *repo_, "--port=0", "--device=cpu",
       "--metrics_port=0", "--threads_per_model=1", "--progress_stall_s=1"},
      absl::Seconds(60));
  ASSERT_TRUE(worker.ok()) << worker.status();
  auto server =
      testing::ServerProcess::Start(*repo_, {absl::StrCat("--workers=127.0.0.1:", worker->port)});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string at = " --server " + (*server)->address();
  const auto up =
      testing::RunCommand(cli + "datasets upload --name digit69 --description " +
                          testing::SourceDir() + "/examples/digit69_dataset.pbtxt" + at);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  const auto train =
      testing::RunCommand(cli + "train --dataset digit69 --model shen --wait --spec " +
                          testing::SourceDir() + "/examples/digit69_shen.pbtxt" + at);
  ASSERT_EQ(train.exit_code, 0) << train.output;

  auto stub = v1::Reconstruction::NewStub((*server)->channel());
  const int n = static_cast<int>(ds->test.betas.rows());
  v1::ReconstructResponse resp;
  const grpc::Status st = testing::ReconstructTestTrials(*stub, "shen", *ds, true, 0, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), n);
  for (const auto& r : resp.results()) {
    EXPECT_EQ(r.features_size(), 7);  // conv1..fc7
    EXPECT_TRUE(r.timings().has_refine());
  }
  const Eigen::RowVectorXd mean_image = ds->train.stimuli.colwise().mean();
  auto scores = core::ScoreReconstructions(ImagesOf(resp), ds->test.stimuli, ds->image);
  auto base = core::ScoreReconstructions(mean_image.replicate(n, 1), ds->test.stimuli, ds->image);
  ASSERT_TRUE(scores.ok() && base.ok());
  std::printf(
      "shen over gRPC: PCC %.3f, identification %.3f (mean image PCC %.3f); refine %.0f ms\n",
      scores->pcc, scores->identification_pcc, base->pcc,
      resp.results(0).timings().refine().nanos() / 1e6 +
          resp.results(0).timings().refine().seconds() * 1e3);
  EXPECT_GT(scores->pcc, base->pcc);
  EXPECT_GE(scores->identification_pcc, 0.85);

  v1::ReconstructRequest req;
  req.set_model("shen");
  for (int i = 0; i < n; ++i)
    *req.add_samples() = testing::BetasSample(ds->test.betas, i, absl::StrCat("t", i));
  grpc::ClientContext short_ctx;
  short_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  v1::ReconstructResponse cut;
  EXPECT_EQ(stub->Reconstruct(&short_ctx, req, &cut).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  v1::ReconstructResponse again;
  ASSERT_TRUE(testing::ReconstructTestTrials(*stub, "shen", *ds, true, 0, &again).ok());
  ASSERT_EQ(again.results_size(), n);
  EXPECT_EQ(again.results(0).refine_iterations(), 200);  // the model's own

  const int partial_iterations = ExpectRefineControls(*stub, req, n);
  ASSERT_NO_FATAL_FAILURE(ExpectProgressAtItsInterval(*stub, req, n));
  ASSERT_NO_FATAL_FAILURE(ExpectPromptCancel(*stub, req));
  ASSERT_NO_FATAL_FAILURE(ExpectStalledReaderReleased(*stub, req, worker->metrics_port));
  ASSERT_NO_FATAL_FAILURE(ExpectCliProgress(cli, at));
  const double counted =
      WorkerCounter(worker->metrics_port, "v2p_refine_iterations_total{model=\"shen\"}");
  EXPECT_GE(counted, 200 + 200 + 5 + partial_iterations);

  v1::ReconstructResponse dgn;
  ASSERT_TRUE(testing::ReconstructTestTrials(*stub, "shen_dgn", *ds, true, 0, &dgn).ok());
  ASSERT_EQ(dgn.results_size(), n);
  auto dgn_scores = core::ScoreReconstructions(ImagesOf(dgn), ds->test.stimuli, ds->image);
  ASSERT_TRUE(dgn_scores.ok());
  std::printf("shen with the DGN prior over gRPC: PCC %.3f, identification %.3f\n", dgn_scores->pcc,
              dgn_scores->identification_pcc);
  EXPECT_GT(dgn_scores->pcc, base->pcc);
}

TEST_F(FeatureDecoding, ServedFeaturesHaveLayerShapesAndTrackTrueFeatures) {
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto net = core::FeatureNetwork::Load(*network_dir_);
  ASSERT_TRUE(net.ok()) << net.status();
  auto truth = (*net)->Extract(ds->test.stimuli.cast<float>(), {"fc6", "conv5"});
  ASSERT_TRUE(truth.ok());
  auto train_truth = (*net)->Extract(ds->train.stimuli.cast<float>(), {"fc6"});
  ASSERT_TRUE(train_truth.ok());
  const Eigen::VectorXd mean_fc6 =
      (*train_truth)["fc6"].cast<double>().colwise().mean().transpose();

  auto server = testing::ServerProcess::Start(*repo_, {"--workers=spawn:1", "--worker_device=cpu"});
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::Reconstruction::NewStub((*server)->channel());
  for (const std::string model : {"features_ridge", "features_smr"}) {
    SCOPED_TRACE(model);
    v1::ReconstructResponse resp;
    const grpc::Status st = testing::ReconstructTestTrials(*stub, model, *ds, false, 0, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(resp.results_size(), ds->test.betas.rows());
    const int n = resp.results_size();
    Eigen::MatrixXd decoded(n, 256), sim(n, n);
    double pcc = 0, pcc_mean = 0;
    for (int i = 0; i < n; ++i) {
      const auto& r = resp.results(i);
      EXPECT_EQ(r.sample_id(), absl::StrCat("t", i));
      EXPECT_FALSE(r.has_image());
      EXPECT_TRUE(r.timings().has_decode());
      ASSERT_GE(r.features_size(), 1);
      const auto& f = r.features(0);
      EXPECT_EQ(f.layer(), "fc6");
      ASSERT_EQ(f.shape_size(), 1);
      EXPECT_EQ(f.shape(0), 256);
      ASSERT_EQ(f.values().size(), 256 * sizeof(float));
      if (model == "features_ridge") {
        ASSERT_EQ(r.features_size(), 2);
        EXPECT_EQ(r.features(1).layer(), "conv5");
        EXPECT_EQ(std::vector<int64_t>(r.features(1).shape().begin(), r.features(1).shape().end()),
                  (std::vector<int64_t>{32, 7, 7}));
        EXPECT_EQ(r.features(1).values().size(), 1568 * sizeof(float));
      }
      decoded.row(i) = Eigen::Map<const Eigen::RowVectorXf>(
                           reinterpret_cast<const float*>(f.values().data()), 256)
                           .cast<double>();
      const Eigen::VectorXd t = (*truth)["fc6"].row(i).cast<double>().transpose();
      pcc += core::PixelPcc(decoded.row(i).transpose(), t) / n;
      pcc_mean += core::PixelPcc(mean_fc6, t) / n;
    }
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        sim(i, j) = core::PixelPcc(decoded.row(i).transpose(),
                                   (*truth)["fc6"].row(j).cast<double>().transpose());
    const double ident = core::PairwiseIdentification(sim);
    std::printf(
        "%s: fc6 PCC with true features %.3f (mean training features %.3f), "
        "identification %.3f\n",
        model.c_str(), pcc, pcc_mean, ident);
    EXPECT_GT(pcc, pcc_mean + 0.1);
    EXPECT_GE(ident, 0.7);
  }
}

// Training ranks units by held-out decodability on the training trials,
// and the ranking carries over to the test trials it never saw: the top
// 500 units are decoded better on the test split than the bottom 500.
TEST_F(FeatureDecoding, UnitRankingFromTrainingFoldsHoldsOnTestTrials) {
  const std::string dir = *repo_ + "/models/features_ridge/1";
  auto manifest = core::ReadManifest(dir + "/" + core::kManifestFile);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->top_k_units, 500);
  auto cv = core::ReadNpy(dir + "/" + core::kUnitDecodabilityFile);
  auto top = core::ReadNpy(dir + "/" + core::kTopUnitsFile);
  ASSERT_TRUE(cv.ok() && top.ok());
  const int k = 256 + 1568;
  ASSERT_EQ(cv->size(), k);
  ASSERT_EQ(top->size(), 500);
  std::vector<bool> chosen(k, false);
  for (int i = 0; i < 500; ++i) {
    const int u = static_cast<int>(top->values[i]);
    ASSERT_TRUE(u >= 0 && u < k);
    EXPECT_FALSE(chosen[u]) << "unit " << u << " listed twice";
    chosen[u] = true;
    if (i > 0) {
      EXPECT_LE(cv->values[u], cv->values[static_cast<int>(top->values[i - 1])]);
    }
  }
  double worst_chosen = 1, best_other = -1;
  for (int u = 0; u < k; ++u) {
    if (chosen[u]) {
      worst_chosen = std::min(worst_chosen, cv->values[u]);
    } else {
      best_other = std::max(best_other, cv->values[u]);
    }
  }
  EXPECT_GE(worst_chosen, best_other);

  // Per-unit PCC on the 10 test trials, through the stored decoder.
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto net = core::FeatureNetwork::Load(*network_dir_);
  ASSERT_TRUE(net.ok());
  auto truth = (*net)->Extract(ds->test.stimuli.cast<float>(), {"fc6", "conv5"});
  ASSERT_TRUE(truth.ok());
  Eigen::MatrixXd t(ds->test.betas.rows(), k);
  t << (*truth)["fc6"].cast<double>(), (*truth)["conv5"].cast<double>();
  auto decoder = core::RidgeDecoder::Load(dir);
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  Eigen::MatrixXf z = ds->test.betas.cast<float>();
  (*decoder)->Standardize(&z);
  const Eigen::MatrixXd pred = (*decoder)->Decode(z).cast<double>();
  std::vector<std::pair<double, int>> ranked;
  for (int u = 0; u < k; ++u) ranked.push_back({cv->values[u], u});
  std::sort(ranked.begin(), ranked.end());
  double top_test = 0, bottom_test = 0;
  for (int i = 0; i < 500; ++i) {
    const int best = ranked[k - 1 - i].second, worst = ranked[i].second;
    top_test += core::PixelPcc(pred.col(best), t.col(best)) / 500;
    bottom_test += core::PixelPcc(pred.col(worst), t.col(worst)) / 500;
  }
  std::printf("test-split unit PCC: top 500 by CV %.3f, bottom 500 %.3f\n", top_test, bottom_test);
  EXPECT_GT(top_test, bottom_test + 0.2);
}

// Du et al. end to end. `v2p generators train` fits De-CNN and ICG on the
// unpaired digit69 prior images, conditioned on fc6 of the quick network;
// from the TRUE fc6 of the test stimuli both beat the mean image. Then
// `v2p train` builds betas -> fc6 (ridge) -> generator pipelines, the
// server serves them, and Reconstruct over gRPC returns an image and the
// decoded features per sample, with the decode and generate stages timed,
// better than the mean image on PCC and on identification.
// Scores every digit69 test reconstruction of `model` over gRPC against the
// quality floor: above the mean image on PCC, identification >= 0.7.
void ExpectQualityFloor(v1::Reconstruction::Stub& stub, const std::string& model,
                        const core::Dataset& ds) {
  SCOPED_TRACE(model);
  const int n = static_cast<int>(ds.test.betas.rows());
  v1::ReconstructResponse resp;
  const grpc::Status st = testing::ReconstructTestTrials(stub, model, ds, true, 0, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), n);
  Eigen::MatrixXd rec(n, 784);
  for (int i = 0; i < n; ++i) {
    const auto& r = resp.results(i);
    ASSERT_TRUE(r.has_image());
    EXPECT_FALSE(r.image().png().empty());
    ASSERT_EQ(r.image().pixels_size(), 784);
    ASSERT_EQ(r.features_size(), 1);
    EXPECT_EQ(r.features(0).layer(), "fc6");
    EXPECT_EQ(r.features(0).values().size(), 256 * sizeof(float));
    EXPECT_TRUE(r.timings().has_decode());
    EXPECT_TRUE(r.timings().has_generate());
    EXPECT_EQ(r.samples_size(), 0);
    for (int p = 0; p < 784; ++p) rec(i, p) = r.image().pixels(p);
  }
  const Eigen::RowVectorXd mean_image = ds.train.stimuli.colwise().mean();
  auto scores = core::ScoreReconstructions(rec, ds.test.stimuli, ds.image);
  auto base = core::ScoreReconstructions(mean_image.replicate(n, 1), ds.test.stimuli, ds.image);
  ASSERT_TRUE(scores.ok() && base.ok());
  std::printf(
      "%s over gRPC: PCC %.3f, SSIM %.3f, identification %.3f (mean image PCC %.3f, "
      "identification %.3f)\n",
      model.c_str(), scores->pcc, scores->ssim, scores->identification_pcc, base->pcc,
      base->identification_pcc);
  EXPECT_GT(scores->pcc, base->pcc);
  EXPECT_GT(scores->identification_pcc, base->identification_pcc);
  EXPECT_GE(scores->identification_pcc, 0.7);
}

// DeCNN trained by `v2p generators train` and referenced as stored by a
// features pipeline, gen_DeCNN, trained locally into `repo`.
void TrainStoredDeCNNModel(const std::string& repo) {
  client::GeneratorsTrainOptions o;
  o.repo = repo;
  o.kind = "DeCNN";
  o.data_root = testing::DataDir();
  o.epochs = 4;
  auto r = client::RunGeneratorsTrain(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(std::filesystem::exists(r->dir + "/generator.txt"));
  EXPECT_GT(r->pcc, r->mean_pcc + 0.05);
  EXPECT_GE(r->identification, 0.8);
  const std::string spec = repo + "/spec_DeCNN.pbtxt";
  auto text = core::ReadFile(testing::SourceDir() + "/examples/digit69_features_icg.pbtxt");
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(
      core::WriteFile(spec, absl::StrReplaceAll(*text, {{"digit69_ICG", "digit69_DeCNN"}})).ok());
  const auto train = testing::RunCommand(absl::StrCat(
      testing::BinDir(), "/v2p train --dataset ", testing::SourceDir(),
      "/examples/digit69_dataset.pbtxt --spec ", spec, " --repo ", repo, " --model gen_DeCNN"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
}

// The lab's upload (digit69 plus X_prior in one file, named as unpaired)
// and an ICG pipeline, gen_ICG, trained by the service as a job on it.
void UploadAndTrainIcg(const std::string& cli, const std::string& at) {
  const std::string scratch = testing::MakeTempDir("features_upload");
  auto written = testing::WriteDigit69WithPrior(scratch + "/digit69_prior.mat");
  ASSERT_TRUE(written.ok()) << written.status();
  auto description = core::ReadFile(testing::SourceDir() + "/examples/digit69_dataset.pbtxt");
  ASSERT_TRUE(description.ok());
  ASSERT_TRUE(core::WriteFile(scratch + "/description.pbtxt",
                              absl::StrReplaceAll(*description,
                                                  {{testing::kExampleDigit69File, written->file}}) +
                                  "unpaired_images: \"X_prior\"\n")
                  .ok());
  const auto up = testing::RunCommand(cli + "datasets upload --name digit69_prior --description " +
                                      scratch + "/description.pbtxt" + at);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto spec = core::ReadFile(testing::SourceDir() + "/examples/digit69_features_icg_service.pbtxt");
  ASSERT_TRUE(spec.ok());
  ASSERT_NE(spec->find("epochs: 10"), std::string::npos);
  ASSERT_TRUE(core::WriteFile(scratch + "/spec.pbtxt",
                              absl::StrReplaceAll(*spec, {{"epochs: 10", "epochs: 4"}}))
                  .ok());
  const auto train =
      testing::RunCommand(cli + "train --dataset digit69_prior --model gen_ICG --wait --spec " +
                          scratch + "/spec.pbtxt" + at);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("TRAINING_GENERATOR"), std::string::npos) << train.output;
  std::filesystem::remove_all(scratch);
}

// Two responses to one seeded request with 8 draws for 2 samples: the
// same draws, whose per-pixel SD is the returned map, and which differ.
void ExpectSeededDrawsWithTheirSd(const v1::ReconstructResponse& a,
                                  const v1::ReconstructResponse& b) {
  for (int i = 0; i < 2; ++i) {
    const auto& r = a.results(i);
    ASSERT_EQ(r.samples_size(), 8);
    ASSERT_EQ(r.pixel_sd().pixels_size(), 784);
    EXPECT_FALSE(r.pixel_sd().png().empty());
    double max_sd = 0, max_err = 0, max_between = 0;
    for (int p = 0; p < 784; ++p) {
      double sum = 0, sq = 0;
      for (int s = 0; s < 8; ++s) {
        ASSERT_EQ(r.samples(s).pixels_size(), 784);
        const double v = r.samples(s).pixels(p);
        sum += v;
        sq += v * v;
        EXPECT_EQ(v, b.results(i).samples(s).pixels(p));  // same seed, same draws
      }
      const double sd = std::sqrt(std::max(0.0, sq / 8 - (sum / 8) * (sum / 8)));
      max_err = std::max(max_err, std::abs(sd - r.pixel_sd().pixels(p)));
      max_sd = std::max(max_sd, sd);
      max_between =
          std::max<double>(max_between, std::abs(r.samples(0).pixels(p) - r.samples(1).pixels(p)));
    }
    EXPECT_LT(max_err, 1e-4);
    EXPECT_GT(max_sd, 0.01) << "draws with different z should differ somewhere";
    EXPECT_GT(max_between, 0.01);
  }
}

// Two paths to a generator pipeline: DeCNN trained by `v2p generators
// train` and referenced as stored; ICG trained by the service itself as a
// long-running job from an uploaded dataset that carries unpaired images.
TEST_F(FeatureDecoding, GeneratorPipelinesReconstructDigit69OverGrpc) {
  ASSERT_NO_FATAL_FAILURE(TrainStoredDeCNNModel(*repo_));
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto server = testing::ServerProcess::Start(*repo_, {"--workers=spawn:1", "--worker_device=cpu"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string at = " --server " + (*server)->address();

  ASSERT_NO_FATAL_FAILURE(UploadAndTrainIcg(cli, at));

  auto stub = v1::Reconstruction::NewStub((*server)->channel());
  ExpectQualityFloor(*stub, "gen_DeCNN", *ds);
  ExpectQualityFloor(*stub, "gen_ICG", *ds);

  // Several z per sample, with their per-pixel SD; seeded, so repeatable.
  auto draw = [&](const std::string& model, int k, uint64_t seed, v1::ReconstructResponse* resp) {
    v1::ReconstructRequest req;
    req.set_model(model);
    req.set_include_pixels(true);
    req.set_num_samples(k);
    req.set_sample_seed(seed);
    for (int i = 0; i < 2; ++i)
      *req.add_samples() = testing::BetasSample(ds->test.betas, i, absl::StrCat("t", i));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return stub->Reconstruct(&ctx, req, resp);
  };
  v1::ReconstructResponse a, b;
  ASSERT_TRUE(draw("gen_ICG", 8, 7, &a).ok());
  ASSERT_TRUE(draw("gen_ICG", 8, 7, &b).ok());
  ASSERT_EQ(a.results_size(), 2);
  ExpectSeededDrawsWithTheirSd(a, b);
  // The CLI writes each draw, the SD map and a sheet of them.
  const std::string out = testing::MakeTempDir("features_draws");
  const auto cli_draws = testing::RunCommand(
      cli + "reconstruct --model gen_ICG --betas " + testing::DataDir() +
      "/digit69/digit69_28x28.mat --var fmriTest --stimuli-var stimTest --samples 3 --out " + out +
      at);
  ASSERT_EQ(cli_draws.exit_code, 0) << cli_draws.output;
  for (const char* file : {"sample_000.png", "sample_000_sample2.png", "sample_009_sd.png",
                           "samples_sheet.png", "contact_sheet.png"})
    EXPECT_TRUE(std::filesystem::exists(out + "/" + file)) << file;
  std::filesystem::remove_all(out);

  // A deterministic generator has nothing to draw; too many draws are
  // refused before dispatch; the server keeps serving.
  v1::ReconstructResponse refused;
  EXPECT_EQ(draw("gen_DeCNN", 4, 1, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(draw("gen_ICG", 65, 1, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(draw("gen_ICG", 2, 1, &refused).ok());
}

}  // namespace
}  // namespace v2p
