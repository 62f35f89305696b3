// Remote training end to end through real processes: datasets uploaded
// over gRPC, jobs as google.longrunning operations run by v2p-worker,
// cancellation, failover after kill -9, a server restart mid-job, bad
// input, and concurrent jobs while reconstructions are being served.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/base/files.h"
#include "core/data/dataset.h"
#include "core/data/mat_file.h"
#include "core/data/npy.h"
#include "core/evaluation/report.h"
#include "gmock/gmock.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "gtest/gtest.h"
#include "proto/rpc_status.h"
#include "proto/text_proto.h"
#include "spec/spec_files.h"
#include "store/sha256.h"
#include "tests/testing/digit69.h"
#include "tests/testing/lab_files.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/datasets_service.grpc.pb.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"
#include "voxel2pixel/v1/training_service.grpc.pb.h"

using ::testing::HasSubstr;
using ::testing::Not;

namespace v2p {
namespace {

namespace fs = std::filesystem;
namespace v1 = voxel2pixel::v1;
namespace lro = google::longrunning;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string Spec(const std::string& file) {
  return ReadAll(testing::SourceDir() + "/examples/" + file);
}

v1::DatasetDescription Digit69Description() {
  auto d = ParseTextProto<v1::DatasetDescription>(Spec("digit69_dataset.pbtxt"), "example");
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

class TrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ds = core::LoadDataset(testing::Digit69Options());
    ASSERT_TRUE(ds.ok()) << ds.status();
    dataset_ = new core::Dataset(*std::move(ds));
    mat_ = new std::string(ReadAll(testing::Digit69Options().file));
  }
  static void TearDownTestSuite() {
    delete dataset_;
    delete mat_;
  }
  void SetUp() override {
    repo_ = testing::MakeTempDir("training");
    StartServer();
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(repo_);
  }
  void StartServer(int workers = 1) {
    auto s = testing::ServerProcess::Start(
        repo_, {absl::StrCat("--workers=spawn:", workers), "--worker_device=cpu",
                "--worker_args=--job_lease_s=3"});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    datasets_ = v1::Datasets::NewStub(server_->channel());
    training_ = v1::Training::NewStub(server_->channel());
    operations_ = lro::Operations::NewStub(server_->channel());
    reconstruction_ = v1::Reconstruction::NewStub(server_->channel());
  }

  grpc::Status Upload(const std::string& name, const std::string& bytes,
                      const v1::DatasetDescription& description, std::string sha = "",
                      int64_t declared = -1) {
    grpc::ClientContext ctx;
    v1::Dataset out;
    auto w = datasets_->UploadDataset(&ctx, &out);
    v1::UploadDatasetRequest h;
    h.mutable_header()->set_name(name);
    *h.mutable_header()->mutable_description() = description;
    h.mutable_header()->set_total_bytes(declared >= 0 ? declared : bytes.size());
    h.mutable_header()->set_sha256(sha.empty() ? store::Sha256Hex(bytes) : sha);
    w->Write(h);
    for (size_t at = 0; at < bytes.size(); at += 256 << 10) {
      v1::UploadDatasetRequest c;
      c.set_chunk(bytes.substr(at, 256 << 10));
      if (!w->Write(c)) break;
    }
    w->WritesDone();
    return w->Finish();
  }
  void UploadDigit69() {
    const grpc::Status s = Upload("digit69", *mat_, Digit69Description());
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Submit(const std::string& model, const std::string& spec, lro::Operation* op,
                      const std::string& dataset = "digit69") {
    v1::CreateTrainingJobRequest req;
    req.set_dataset(dataset);
    req.set_model(model);
    req.set_pipeline_spec(spec);
    grpc::ClientContext ctx;
    return training_->CreateTrainingJob(&ctx, req, op);
  }
  lro::Operation Get(const std::string& name) {
    lro::GetOperationRequest req;
    req.set_name(name);
    lro::Operation op;
    grpc::ClientContext ctx;
    EXPECT_TRUE(operations_->GetOperation(&ctx, req, &op).ok());
    return op;
  }
  static v1::TrainingJobMetadata Meta(const lro::Operation& op) {
    v1::TrainingJobMetadata m;
    op.metadata().UnpackTo(&m);
    return m;
  }
  lro::Operation WaitDone(const std::string& name, absl::Duration limit = absl::Seconds(180)) {
    const absl::Time until = absl::Now() + limit;
    lro::Operation op;
    while (absl::Now() < until) {
      lro::WaitOperationRequest req;
      req.set_name(name);
      ToDurationProto(absl::Seconds(2), req.mutable_timeout());
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      if (operations_->WaitOperation(&ctx, req, &op).ok() && op.done()) return op;
    }
    ADD_FAILURE() << name << " not done within " << limit;
    return op;
  }
  // Polls until the job has finished at least `step` steps.
  v1::TrainingJobMetadata WaitForStep(const std::string& name, int64_t step) {
    const absl::Time until = absl::Now() + absl::Seconds(120);
    v1::TrainingJobMetadata m;
    while (absl::Now() < until) {
      const lro::Operation op = Get(name);
      m = Meta(op);
      if (op.done() || (m.phase() == v1::TrainingJobMetadata::FITTING && m.step() >= step)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return m;
  }

  grpc::Status Reconstruct(const std::string& model, int64_t version,
                           v1::ReconstructResponse* resp) {
    v1::ReconstructRequest req;
    req.set_model(model);
    req.set_model_version(version);
    req.set_include_pixels(true);
    for (Eigen::Index i = 0; i < dataset_->test.betas.rows(); ++i)
      *req.add_samples() = testing::BetasSample(dataset_->test.betas, i, std::to_string(i));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return reconstruction_->Reconstruct(&ctx, req, resp);
  }
  core::ImageScores Score(const v1::ReconstructResponse& resp) {
    Eigen::MatrixXd rec(resp.results_size(), 784);
    for (int i = 0; i < resp.results_size(); ++i)
      for (int p = 0; p < 784; ++p) rec(i, p) = resp.results(i).image().pixels(p);
    return *core::ScoreReconstructions(rec, dataset_->test.stimuli, dataset_->image);
  }
  // Trains a fast model synchronously (for serving while other jobs run).
  void TrainFast(const std::string& model) {
    lro::Operation op;
    ASSERT_TRUE(Submit(model, Spec("digit69_ridge.pbtxt"), &op).ok());
    ASSERT_FALSE(WaitDone(op.name()).has_error());
  }
  Eigen::MatrixXd Weights(const std::string& model, int64_t version) {
    auto a =
        core::ReadNpy(absl::StrCat(repo_, "/models/", model, "/", version, "/ridge_weights.npy"));
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a->AsMatrix() : Eigen::MatrixXd();
  }
  std::vector<std::string> Leftovers(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(repo_ + "/" + dir, ec)) {
      out.push_back(e.path().filename().string());
    }
    return out;
  }

  static core::Dataset* dataset_;
  static std::string* mat_;
  std::string repo_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<v1::Datasets::Stub> datasets_;
  std::unique_ptr<v1::Training::Stub> training_;
  std::unique_ptr<lro::Operations::Stub> operations_;
  std::unique_ptr<v1::Reconstruction::Stub> reconstruction_;
};
core::Dataset* TrainingTest::dataset_;
std::string* TrainingTest::mat_;

TEST_F(TrainingTest, UploadTrainWaitThenReconstructNewVersion) {
  // Upload with the CLI, as a lab would.
  const auto up = testing::RunCommand(absl::StrCat(
      testing::BinDir(), "/v2p datasets upload --server ", server_->address(),
      " --name digit69 --description ", testing::SourceDir(), "/examples/digit69_dataset.pbtxt"));
  ASSERT_EQ(up.exit_code, 0) << up.output;

  lro::Operation op;
  ASSERT_TRUE(Submit("remote_ridge", Spec("digit69_ridge.pbtxt"), &op).ok());
  EXPECT_FALSE(op.done());
  EXPECT_FALSE(op.has_error() || op.has_response());  // while not done: neither
  EXPECT_EQ(Meta(op).phase(), v1::TrainingJobMetadata::QUEUED);
  op = WaitDone(op.name());
  ASSERT_TRUE(op.done());
  ASSERT_FALSE(op.has_error()) << op.error().message();
  v1::TrainingJobResult result;
  ASSERT_TRUE(op.response().UnpackTo(&result));
  EXPECT_EQ(result.model(), "remote_ridge");
  EXPECT_EQ(result.version(), 1);
  EXPECT_GE(result.evaluation().metrics().at("pcc"), 0.75);
  EXPECT_EQ(Meta(op).phase(), v1::TrainingJobMetadata::DONE);
  EXPECT_EQ(Meta(op).step(), Meta(op).total_steps());

  v1::ReconstructResponse resp;
  ASSERT_TRUE(Reconstruct("remote_ridge", result.version(), &resp).ok());
  const core::ImageScores s = Score(resp);
  EXPECT_GE(s.pcc, 0.75);
  EXPECT_GE(s.identification_pcc, 0.85);
  std::printf("remote-trained digit69: pcc %.4f identification %.4f\n", s.pcc,
              s.identification_pcc);
}

// A lab's own files (NIfTI betas with a mask, BData, PNG folders, .npy;
// tests/testing/lab_files.h) uploaded with the CLI: bundled into one file,
// stored, and trained as a job, to the scores the shipped .mat trains to.
// A description that still names sources is refused before any byte.
TEST_F(TrainingTest, ALabsFilesUploadAsOneBundleAndTrainAsTheMatFile) {
  const std::string dir = testing::MakeTempDir("lab_files");
  auto description = testing::WriteDigit69AsLabFiles(dir);
  ASSERT_TRUE(description.ok()) << description.status();
  const auto up = testing::RunCommand(
      absl::StrCat(testing::BinDir(), "/v2p datasets upload --server ", server_->address(),
                   " --name lab --description ", *description));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_THAT(up.output, HasSubstr("bundled 6 variables from 5 files into one MATLAB file"));
  EXPECT_THAT(up.output, HasSubstr("3092 voxels    90 train    10 test"));
  UploadDigit69();

  std::map<std::string, double> pcc;
  for (const std::string dataset : {"lab", "digit69"}) {
    lro::Operation op;
    ASSERT_TRUE(Submit(dataset + "_ridge", Spec("digit69_ridge.pbtxt"), &op, dataset).ok());
    op = WaitDone(op.name());
    ASSERT_FALSE(op.has_error()) << dataset << ": " << op.error().message();
    v1::TrainingJobResult result;
    ASSERT_TRUE(op.response().UnpackTo(&result));
    pcc[dataset] = result.evaluation().metrics().at("pcc");
  }
  EXPECT_GE(pcc["lab"], 0.75);
  EXPECT_NEAR(pcc["lab"], pcc["digit69"], 1e-9);
  std::printf("ridge test PCC: lab files %.6f, .mat %.6f\n", pcc["lab"], pcc["digit69"]);

  auto raw = spec::ReadDatasetDescription(*description);
  ASSERT_TRUE(raw.ok());
  const grpc::Status refused = Upload("raw", *mat_, *raw);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("bundles them into one file"));
  EXPECT_THAT(Leftovers("datasets"), ::testing::UnorderedElementsAre("lab", "digit69"));
  fs::remove_all(dir);
}

// A lab's stimuli stored in [0, 1]: digit69 written again by the test with
// its stimuli divided by 255 and described without pixel_max. `v2p train`
// (the CLI, real files) infers white = 1, records it with the model, and
// prints the same test scores as on the shipped 0..255 file; a description
// declaring 255 for the rescaled file is refused with what was found. The
// description names "unit.mat", found beside it (no --data_root).
TEST(PixelRange, StimuliStoredInZeroToOneTrainToTheSameScores) {
  const std::string dir = testing::MakeTempDir("pixel_range");
  const core::DatasetOptions shipped = testing::Digit69Options();
  auto mat = core::MatFile::Open(shipped.file);
  ASSERT_TRUE(mat.ok()) << mat.status();
  std::vector<std::pair<std::string, Eigen::MatrixXd>> vars;
  for (const std::string& name : {shipped.train.betas, shipped.train.stimuli, shipped.train.labels,
                                  shipped.test.betas, shipped.test.stimuli, shipped.test.labels}) {
    auto m = (*mat)->ReadMatrix(name);
    ASSERT_TRUE(m.ok()) << m.status();
    const bool image = name == shipped.train.stimuli || name == shipped.test.stimuli;
    vars.emplace_back(name, image ? Eigen::MatrixXd(*m / 255.0) : *m);
  }
  ASSERT_TRUE(core::WriteMatFile(dir + "/unit.mat", vars).ok());
  auto example = core::ReadFile(testing::SourceDir() + "/examples/digit69_dataset.pbtxt");
  ASSERT_TRUE(example.ok());
  ASSERT_NE(example->find(" pixel_max: 255"), std::string::npos);
  const std::string unit_description = absl::StrReplaceAll(
      *example, {{testing::kExampleDigit69File, "unit.mat"}, {" pixel_max: 255", ""}});
  ASSERT_TRUE(core::WriteFile(dir + "/unit.pbtxt", unit_description).ok());
  ASSERT_TRUE(core::WriteFile(dir + "/contradicting.pbtxt",
                              absl::StrReplaceAll(
                                  *example, {{testing::kExampleDigit69File, dir + "/unit.mat"}}))
                  .ok());
  const std::string train =
      absl::StrCat(testing::BinDir(), "/v2p train --spec ", testing::SourceDir(),
                   "/examples/digit69_ridge.pbtxt --repo ", dir, "/repo --dataset ");
  auto test_scores = [](const std::string& output) {
    const size_t at = output.find("test split (");
    return at == std::string::npos ? std::string() : output.substr(at, output.find('\n', at) - at);
  };
  const auto from_255 = testing::RunCommand(train + testing::SourceDir() +
                                            "/examples/digit69_dataset.pbtxt --model shipped");
  ASSERT_EQ(from_255.exit_code, 0) << from_255.output;
  const auto from_1 = testing::RunCommand(train + dir + "/unit.pbtxt --model unit");
  ASSERT_EQ(from_1.exit_code, 0) << from_1.output;
  ASSERT_THAT(test_scores(from_255.output), HasSubstr("PCC"));
  // Local training says what it is doing, phase by phase.
  for (const char* phase : {"progress: fitting", "progress: evaluating", "progress: saving"})
    EXPECT_THAT(from_1.output, HasSubstr(phase));
  EXPECT_EQ(test_scores(from_1.output), test_scores(from_255.output));
  for (const auto& [model, white] : {std::pair<std::string, double>{"shipped", 255},
                                     std::pair<std::string, double>{"unit", 1}}) {
    auto manifest = core::ReadFile(dir + "/repo/models/" + model + "/1/manifest.txt");
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    EXPECT_THAT(*manifest, HasSubstr(absl::StrCat("pixel_max: ", white, "\n"))) << model;
  }
  const auto refused = testing::RunCommand(train + dir + "/contradicting.pbtxt --model wrong");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("stimTrn holds values from 0 to 1"));
  EXPECT_THAT(refused.output, HasSubstr("look stored in [0, 1]"));
}

// A lab's dataset whose right penalty is known: betas x (standard normal,
// 400 voxels) and 8x8 stimuli 0.5 + c (x w + noise) with w ~ N(0, tau^2),
// noise ~ N(0, sigma^2), so that ridge with alpha = sigma^2 / tau^2 = 10 is
// the posterior mean (the scale c changes nothing). One file holds all 220
// trials; the description names trials 1-10 and 111-120 as the test split.
// `v2p train` without --spec chooses alpha 10 (not digit69's 1000), prints
// the curve, and records it with the model; digit69's spec with its fixed
// alpha records no choice.
TEST(Hyperparameters, DefaultSpecChoosesTheAlphaASyntheticDatasetWasDrawnWith) {
  const std::string dir = testing::MakeTempDir("alpha_cv");
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  const int n = 220, d = 400, pixels = 64;
  const double sigma = 1, tau = sigma / std::sqrt(10.0);
  const Eigen::MatrixXd x = Eigen::MatrixXd::NullaryExpr(n, d, [&] { return normal(rng); });
  const Eigen::MatrixXd w =
      Eigen::MatrixXd::NullaryExpr(d, pixels, [&] { return tau * normal(rng); });
  const Eigen::MatrixXd y =
      x * w + Eigen::MatrixXd::NullaryExpr(n, pixels, [&] { return sigma * normal(rng); });
  const double c = 0.49 / y.cwiseAbs().maxCoeff();
  const Eigen::MatrixXd stimuli = (c * y).array() + 0.5;
  ASSERT_TRUE(core::WriteMatFile(dir + "/synthetic.mat", {{"betas", x}, {"images", stimuli}}).ok());
  ASSERT_TRUE(core::WriteFile(dir + "/synthetic.pbtxt",
                              absl::StrCat("name: \"synthetic\"\nfile: \"", dir,
                                           "/synthetic.mat\"\n"
                                           "train { betas: \"betas\" stimuli: \"images\" }\n"
                                           "test_trials { ranges: \"1-10,111-120\" }\n"
                                           "image { height: 8 width: 8 layout: "
                                           "IMAGE_LAYOUT_ROW_MAJOR }\n"))
                  .ok());
  const auto run =
      testing::RunCommand(absl::StrCat(testing::BinDir(), "/v2p train --dataset ", dir,
                                       "/synthetic.pbtxt --repo ", dir, "/repo --model synthetic"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("no --spec: the default pipeline"));
  EXPECT_THAT(
      run.output,
      HasSubstr("ridge.alpha chosen by 5-fold cross-validation on the fitted trials: 10\n"));
  EXPECT_THAT(run.output, HasSubstr("1000         "));  // the curve lists every candidate
  EXPECT_THAT(run.output, HasSubstr("test split (20 samples)"));
  auto manifest = core::ReadFile(dir + "/repo/models/synthetic/1/manifest.txt");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_THAT(*manifest, HasSubstr("hyperparameter.ridge.alpha: chosen 10 folds 5 grid "));
  EXPECT_THAT(*manifest, HasSubstr("alpha=10 by 5-fold CV"));

  const auto fixed = testing::RunCommand(absl::StrCat(
      testing::BinDir(), "/v2p train --dataset ", dir, "/synthetic.pbtxt --spec ",
      testing::SourceDir(), "/examples/digit69_ridge.pbtxt --repo ", dir, "/repo --model fixed"));
  ASSERT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_THAT(fixed.output, Not(HasSubstr("chosen by")));
  EXPECT_THAT(fixed.output, HasSubstr("alpha=1000,"));
}

// One file, two ways to evaluate without rewriting it: the shipped
// examples/digit69_index_split.pbtxt names trials 1-5 and 51-55 of
// 69dataset2.mat as the test split (the model is scored on those 10), and
// `--cv 5` scores 5 folds of all 100 trials, printing each fold and the
// mean ± SD, above the mean image, committing nothing.
TEST(Splits, IndexRangesAndCrossValidationFromOneFile) {
  const std::string dir = testing::MakeTempDir("splits");
  const std::string train =
      absl::StrCat(testing::BinDir(), "/v2p train --dataset ", testing::SourceDir(),
                   "/examples/digit69_index_split.pbtxt --spec ", testing::SourceDir(),
                   "/examples/digit69_ridge.pbtxt --repo ", dir, "/repo");
  const auto split = testing::RunCommand(train + " --model by_index");
  ASSERT_EQ(split.exit_code, 0) << split.output;
  EXPECT_THAT(split.output, HasSubstr("test split (10 samples)"));
  const auto cv = testing::RunCommand(train + " --cv 5");
  ASSERT_EQ(cv.exit_code, 0) << cv.output;
  EXPECT_THAT(cv.output, HasSubstr("5-fold cross-validation over 100 trials"));
  for (int k = 1; k <= 5; ++k)
    EXPECT_THAT(cv.output, HasSubstr(absl::StrCat("fold ", k, "/5: 20 test trials"))) << k;
  // "  PCC   0.731 ± 0.016  [0.610]": mean, SD, mean image.
  const size_t at = cv.output.find("  PCC ");
  ASSERT_NE(at, std::string::npos) << cv.output;
  double mean = 0, sd = 0, base = 0;
  ASSERT_EQ(std::sscanf(cv.output.c_str() + at, "  PCC %lf ± %lf [%lf]", &mean, &sd, &base), 3)
      << cv.output.substr(at, 60);
  EXPECT_GT(mean, base + 0.05);
  EXPECT_GT(sd, 0);
  EXPECT_LT(sd, 0.1);
  const size_t id = cv.output.find("  identification (PCC) ");
  ASSERT_NE(id, std::string::npos);
  double identification = 0;
  ASSERT_EQ(std::sscanf(cv.output.c_str() + id, "  identification (PCC) %lf", &identification), 1);
  EXPECT_GT(identification, 0.8);
  EXPECT_FALSE(fs::exists(dir + "/repo/models/cv"));

  const auto remote = testing::RunCommand(absl::StrCat(
      testing::BinDir(), "/v2p train --server localhost:1 --dataset d --model m --cv 5"));
  EXPECT_NE(remote.exit_code, 0);
  EXPECT_THAT(remote.output, HasSubstr("--cv K trains locally"));
}

TEST_F(TrainingTest, CliDrivesDatasetsTrainingAndJobs) {
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string server = " --server " + server_->address();
  auto run = [&](const std::string& args) { return testing::RunCommand(cli + args + server); };
  auto up = run(absl::StrCat("datasets upload --name digit69 --description ", testing::SourceDir(),
                             "/examples/digit69_dataset.pbtxt"));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto list = run("datasets list");
  EXPECT_THAT(list.output, HasSubstr("digit69"));
  EXPECT_THAT(list.output, HasSubstr("3092 voxels"));

  auto train = run(absl::StrCat("train --dataset digit69 --model cli_ridge --wait --spec ",
                                testing::SourceDir(), "/examples/digit69_ridge.pbtxt"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_THAT(train.output, HasSubstr("trained cli_ridge version 1"));
  EXPECT_THAT(train.output, HasSubstr("DONE"));  // plain progress lines: not a terminal

  auto jobs = run("jobs list --filter done=true");
  EXPECT_EQ(jobs.exit_code, 0) << jobs.output;
  EXPECT_THAT(jobs.output, HasSubstr("-> cli_ridge v1"));
  auto bad_filter = run("jobs list --filter owner=me");
  EXPECT_NE(bad_filter.exit_code, 0);
  EXPECT_THAT(bad_filter.output, HasSubstr("INVALID_ARGUMENT"));

  EXPECT_EQ(run("datasets delete --name digit69").exit_code, 0);
  auto gone = run("datasets show --name digit69");
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.output, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(Leftovers("datasets"), ::testing::IsEmpty());
}

TEST_F(TrainingTest, CancelWhileFittingLeavesNoVersionAndServingContinues) {
  UploadDigit69();
  TrainFast("serving");
  lro::Operation op;
  ASSERT_TRUE(Submit("slow", Spec("digit69_ridge_selected.pbtxt"), &op).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, failed{0};
  std::thread load([&] {
    while (!stop) {
      v1::ReconstructResponse resp;
      (Reconstruct("serving", 0, &resp).ok() ? served : failed)++;
    }
  });
  const auto m = WaitForStep(op.name(), 2);
  EXPECT_EQ(m.phase(), v1::TrainingJobMetadata::FITTING);
  lro::CancelOperationRequest cancel;
  cancel.set_name(op.name());
  google::protobuf::Empty empty;
  grpc::ClientContext ctx;
  ASSERT_TRUE(operations_->CancelOperation(&ctx, cancel, &empty).ok());
  op = WaitDone(op.name(), absl::Seconds(60));
  stop = true;
  load.join();

  ASSERT_TRUE(op.done());
  ASSERT_TRUE(op.has_error());
  EXPECT_EQ(op.error().code(), static_cast<int>(grpc::StatusCode::CANCELLED));
  EXPECT_LT(Meta(op).step(), Meta(op).total_steps());
  EXPECT_FALSE(fs::exists(repo_ + "/models/slow"));
  EXPECT_GT(served, 0);
  EXPECT_EQ(failed, 0);
}

TEST_F(TrainingTest, WaitReturnsAtTheEarlierOfTimeoutAndDeadline) {
  UploadDigit69();
  lro::Operation op;
  ASSERT_TRUE(Submit("slow", Spec("digit69_ridge_selected.pbtxt"), &op).ok());
  WaitForStep(op.name(), 1);
  auto wait = [&](absl::Duration timeout, absl::Duration deadline, lro::Operation* out) {
    lro::WaitOperationRequest req;
    req.set_name(op.name());
    ToDurationProto(timeout, req.mutable_timeout());
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    const absl::Time start = absl::Now();
    const grpc::Status s = operations_->WaitOperation(&ctx, req, out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return absl::Now() - start;
  };
  lro::Operation out;
  // The timeout is the shorter: the job is still running, so not done.
  absl::Duration took = wait(absl::Seconds(1), absl::Seconds(30), &out);
  EXPECT_FALSE(out.done());
  EXPECT_GE(took, absl::Milliseconds(800));
  EXPECT_LT(took, absl::Seconds(10));
  // The deadline is the shorter: an answer, not DEADLINE_EXCEEDED.
  took = wait(absl::Seconds(60), absl::Seconds(1), &out);
  EXPECT_FALSE(out.done());
  EXPECT_LT(took, absl::Seconds(10));

  // A running job cannot be deleted; a finished one can.
  lro::DeleteOperationRequest del;
  del.set_name(op.name());
  google::protobuf::Empty empty;
  grpc::ClientContext running_ctx;
  EXPECT_EQ(operations_->DeleteOperation(&running_ctx, del, &empty).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  lro::CancelOperationRequest cancel;
  cancel.set_name(op.name());
  grpc::ClientContext ctx;
  ASSERT_TRUE(operations_->CancelOperation(&ctx, cancel, &empty).ok());
  EXPECT_EQ(WaitDone(op.name()).error().code(), static_cast<int>(grpc::StatusCode::CANCELLED));
  grpc::ClientContext del_ctx;
  EXPECT_TRUE(operations_->DeleteOperation(&del_ctx, del, &empty).ok());
  lro::GetOperationRequest get;
  get.set_name(op.name());
  grpc::ClientContext get_ctx;
  EXPECT_EQ(operations_->GetOperation(&get_ctx, get, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(TrainingTest, KilledWorkerJobResumesFromCheckpointWithIdenticalWeights) {
  UploadDigit69();
  server_.reset();
  StartServer(/*workers=*/2);  // the reference and the victim run side by side
  lro::Operation reference, victim;
  ASSERT_TRUE(Submit("reference", Spec("digit69_ridge_selected.pbtxt"), &reference).ok());
  ASSERT_TRUE(Submit("victim", Spec("digit69_ridge_selected.pbtxt"), &victim).ok());

  const auto m = WaitForStep(victim.name(), 3);
  ASSERT_EQ(m.phase(), v1::TrainingJobMetadata::FITTING);
  const std::vector<std::string> owner = absl::StrSplit(m.worker(), ':');
  int pid = 0;
  ASSERT_TRUE(owner.size() == 2 && absl::SimpleAtoi(owner[1], &pid)) << m.worker();
  ASSERT_EQ(kill(pid, SIGKILL), 0);

  victim = WaitDone(victim.name());
  reference = WaitDone(reference.name());
  ASSERT_FALSE(victim.has_error()) << victim.error().message();
  ASSERT_FALSE(reference.has_error()) << reference.error().message();
  const auto done = Meta(victim);
  EXPECT_EQ(done.attempts(), 2);
  EXPECT_GE(done.resumed_from_step(), 3);
  EXPECT_LT(done.resumed_from_step(), done.total_steps());
  std::printf("victim resumed from step %lld of %lld\n",
              static_cast<long long>(done.resumed_from_step()),
              static_cast<long long>(done.total_steps()));
  const double diff = (Weights("victim", 1) - Weights("reference", 1)).cwiseAbs().maxCoeff();
  EXPECT_LE(diff, 1e-6);
}

TEST_F(TrainingTest, ServerRestartMidJobLosesNothing) {
  UploadDigit69();
  lro::Operation op;
  ASSERT_TRUE(Submit("survivor", Spec("digit69_ridge_selected.pbtxt"), &op).ok());
  WaitForStep(op.name(), 2);
  server_.reset();  // SIGTERM: the server goes, and its workers with it
  StartServer();

  lro::ListOperationsRequest list;
  list.set_filter("model=survivor");
  lro::ListOperationsResponse listed;
  grpc::ClientContext ctx;
  ASSERT_TRUE(operations_->ListOperations(&ctx, list, &listed).ok());
  ASSERT_EQ(listed.operations_size(), 1);
  EXPECT_EQ(listed.operations(0).name(), op.name());
  op = WaitDone(op.name());
  ASSERT_FALSE(op.has_error()) << op.error().message();
  EXPECT_GE(Meta(op).resumed_from_step(), 2);
  v1::ReconstructResponse resp;
  EXPECT_TRUE(Reconstruct("survivor", 1, &resp).ok());
}

TEST_F(TrainingTest, BadInputIsRejectedAndNothingHalfWrittenStays) {
  const v1::DatasetDescription desc = Digit69Description();
  grpc::Status s = Upload("corrupt", *mat_, desc, std::string(64, '0'));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("sha256 mismatch"));

  s = Upload("huge", *mat_, desc, "", int64_t{1} << 40);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  s = Upload("short", mat_->substr(0, 1000), desc, store::Sha256Hex(*mat_), mat_->size());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::DatasetDescription missing = desc;
  missing.mutable_train()->set_betas("fmriTrain");
  s = Upload("missing", *mat_, missing);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("fmriTrain"));

  s = Upload("../escape", *mat_, desc);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_THAT(Leftovers("datasets"), ::testing::IsEmpty());

  UploadDigit69();
  EXPECT_EQ(Upload("digit69", *mat_, desc).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  lro::Operation op;
  s = Submit("m", "decoder { smr {} }", &op);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("smr"));
  std::string mismatched = Spec("digit69_ridge.pbtxt") + "\nnum_voxels: 1000\n";
  s = Submit("m", mismatched, &op);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("3092"));
  s = Submit("m", Spec("digit69_ridge.pbtxt"), &op, "no_such_dataset");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  s = Submit("../m", Spec("digit69_ridge.pbtxt"), &op);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_THAT(Leftovers("datasets"), ::testing::ElementsAre("digit69"));
  EXPECT_THAT(Leftovers("operations"), ::testing::IsEmpty());
  EXPECT_THAT(Leftovers("models"), ::testing::IsEmpty());

  lro::GetOperationRequest get;
  get.set_name("operations/../../etc");
  grpc::ClientContext ctx;
  EXPECT_EQ(operations_->GetOperation(&ctx, get, &op).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(TrainingTest, ThreeJobsAtOnceCompleteWhileServing) {
  UploadDigit69();
  TrainFast("serving");
  std::vector<lro::Operation> ops(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Submit(absl::StrCat("concurrent", i), Spec("digit69_ridge.pbtxt"), &ops[i]).ok());
  }
  int served = 0;
  for (int i = 0; i < 3; ++i) {
    while (!Get(ops[i].name()).done()) {
      v1::ReconstructResponse resp;
      ASSERT_TRUE(Reconstruct("serving", 0, &resp).ok());
      ++served;
    }
    const lro::Operation done = WaitDone(ops[i].name());
    EXPECT_FALSE(done.has_error()) << done.error().message();
  }
  EXPECT_GT(served, 0);
  lro::ListOperationsRequest list;
  list.set_filter("done=true");
  list.set_page_size(2);
  lro::ListOperationsResponse page;
  grpc::ClientContext ctx;
  ASSERT_TRUE(operations_->ListOperations(&ctx, list, &page).ok());
  EXPECT_EQ(page.operations_size(), 2);
  EXPECT_FALSE(page.next_page_token().empty());
}

}  // namespace
}  // namespace v2p
