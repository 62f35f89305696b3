// The method seam, end to end: a method defined only under tests/
// (tests/methods/nearest_stimulus_method.h) and registered by one line in
// its own worker build is trained as a service job, loaded by that real
// worker and served over gRPC, through the unmodified gateway and CLI.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/checksums.h"
#include "core/base/files.h"
#include "core/data/dataset.h"
#include "core/methods/hyper/hyper_method.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/trainer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p {
namespace {

namespace v1 = voxel2pixel::v1;
using ::testing::HasSubstr;

constexpr char kSpec[] =
    "description: \"nearest training stimulus\"\n"
    "method { name: \"nearest_stimulus\" parameters { key: \"standardize_voxels\" "
    "value: \"true\" } }\n"
    "clip_output: true\n";

// The 2-way identification on the line `v2p train --wait` prints.
double Identification(const std::string& output) {
  const size_t line = output.find("; test split: ");
  if (line == std::string::npos) return -1;
  const size_t at = output.find("identification ", line);
  double v = -1;
  if (at != std::string::npos) std::sscanf(output.c_str() + at, "identification %lf", &v);
  return v;
}

// `v2p datasets upload` of examples/digit69_dataset.pbtxt as "digit69".
testing::CommandResult UploadDigit69(const testing::ServerProcess& server) {
  return testing::RunCommand(absl::StrCat(
      testing::BinDir(),
      "/v2p datasets upload --name digit69 "
      "--description ",
      testing::SourceDir(), "/examples/digit69_dataset.pbtxt --server ", server.address()));
}

TEST(MethodSeam, ATestOnlyMethodTrainsAsAJobAndServesOverGrpc) {
  const std::string dir = testing::MakeTempDir("method_seam");
  std::filesystem::create_directories(dir + "/repo");
  auto server = testing::ServerProcess::Start(
      dir + "/repo", {"--workers=spawn:1", "--worker_device=cpu",
                      absl::StrCat("--worker_binary=", testing::BinDir(), "/v2p-nearest-worker")});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string at = " --server " + (*server)->address();
  const auto up = UploadDigit69(**server);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  auto train = [&](const std::string& model, const std::string& spec) {
    const std::string path = absl::StrCat(dir, "/", model, ".pbtxt");
    EXPECT_TRUE(core::WriteFile(path, spec).ok());
    return testing::RunCommand(
        absl::StrCat(cli, "train --dataset digit69 --model ", model, " --wait --spec ", path, at));
  };

  const auto trained = train("nearest", kSpec);
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_THAT(trained.output, HasSubstr("trained nearest version 1"));
  const auto show = testing::RunCommand(absl::StrCat(cli, "models show --model nearest", at));
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_THAT(show.output, HasSubstr("nearest training trial by correlation"));
  // Digit69's 6s and 9s: the nearest training trial is mostly the same digit.
  EXPECT_GT(Identification(trained.output), 0.6) << trained.output;
  std::printf("nearest stimulus, served: 2-way identification %.3f\n",
              Identification(trained.output));

  // Served by the worker that registered it: each image is a training
  // stimulus, exactly.
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto stub = v1::Reconstruction::NewStub((*server)->channel());
  v1::ReconstructResponse response;
  const grpc::Status s =
      testing::ReconstructTestTrials(*stub, "nearest", *ds, /*include_pixels=*/true, 0, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.results_size(), ds->test.betas.rows());
  for (const auto& r : response.results()) {
    ASSERT_EQ(r.image().pixels_size(), ds->train.stimuli.cols());
    double nearest = 1e9;
    for (Eigen::Index t = 0; t < ds->train.stimuli.rows(); ++t) {
      double d = 0;
      for (int p = 0; p < r.image().pixels_size(); ++p)
        d = std::max(d, std::abs(r.image().pixels(p) - ds->train.stimuli(t, p)));
      nearest = std::min(nearest, d);
    }
    EXPECT_LT(nearest, 1e-6) << r.sample_id();
  }

  // The method's own rules reach the caller through the job; the generic
  // form's bounds are checked by the gateway before any job exists.
  const auto bad_parameter =
      train("bad_parameter",
            "method { name: \"nearest_stimulus\" parameters { key: \"k\" value: \"3\" } }");
  EXPECT_NE(bad_parameter.exit_code, 0);
  EXPECT_THAT(bad_parameter.output, HasSubstr("unknown parameter 'k'"));
  const auto unknown = train("unknown", "method { name: \"no_such_method\" }");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.output, HasSubstr("no method 'no_such_method'"));
  EXPECT_THAT(unknown.output, HasSubstr("nearest_stimulus"));
  const auto malformed = train("malformed", "method { name: \"../x\" }");
  EXPECT_NE(malformed.exit_code, 0);
  EXPECT_THAT(malformed.output, HasSubstr("invalid method name '../x'"));
  EXPECT_THAT(malformed.output, ::testing::Not(HasSubstr("operations/")));
}

// The spec library's rules (spec/pipeline_spec_rules.h) are one: an
// invalid spec gets the same message from the local `v2p train` as from
// CreateTrainingJob, which refuses it before any operation exists.
TEST(SpecRules, AnInvalidSpecGetsTheSameMessageLocallyAndFromTheServiceBeforeAnyJob) {
  const std::string dir = testing::MakeTempDir("spec_rules");
  const std::string repo = dir + "/repo";
  // The stored network's layers are read from its network.txt.
  std::filesystem::create_directories(repo + "/feature_networks/net/1");
  ASSERT_TRUE(core::WriteFile(repo + "/feature_networks/net/1/network.txt",
                              "format: 1\nlayer: conv1 16x28x28\nlayer: fc6 256\n")
                  .ok());
  auto server = testing::ServerProcess::Start(repo, {"--workers=spawn:1", "--worker_device=cpu"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string at = " --server " + (*server)->address();
  const std::string description = testing::SourceDir() + "/examples/digit69_dataset.pbtxt";
  const auto up = UploadDigit69(**server);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  const std::string pixels = "target: TARGET_SPACE_PIXELS generator { identity {} } ";
  const std::string features =
      "target: TARGET_SPACE_FEATURES decoder { ridge { alpha: 1000 } } features { network: "
      "\"net\" ";
  const std::vector<std::string> bad = {
      pixels + "decoder { ridge { alpha: nan } }",
      pixels + "decoder { ridge { alpha: -inf } }",
      pixels + "decoder { ridge { alpha: inf } }",
      pixels + "decoder { ridge { alpha: -1 } }",
      features + "layers: \"fc9\" }",
      features + "layers: \"fc6\" } generator { train { kind: \"VQGAN\" } }",
  };
  // The message from "pipeline spec: " to the end of its line.
  auto message = [](const std::string& output) {
    const size_t at = output.find("pipeline spec: ");
    if (at == std::string::npos) return std::string();
    return output.substr(at, output.find('\n', at) - at);
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE(bad[i]);
    const std::string spec = absl::StrCat(dir, "/bad", i, ".pbtxt");
    ASSERT_TRUE(core::WriteFile(spec, bad[i]).ok());
    const auto local = testing::RunCommand(absl::StrCat(
        cli, "train --dataset ", description, " --repo ", repo, " --model m --spec ", spec));
    const auto remote = testing::RunCommand(
        absl::StrCat(cli, "train --dataset digit69 --model m --spec ", spec, at));
    EXPECT_NE(local.exit_code, 0);
    EXPECT_NE(remote.exit_code, 0);
    EXPECT_THAT(remote.output, HasSubstr("INVALID_ARGUMENT"));
    EXPECT_FALSE(message(local.output).empty()) << local.output;
    EXPECT_EQ(message(local.output), message(remote.output)) << remote.output;
  }
  // Refused before an operation was created.
  std::error_code ec;
  EXPECT_TRUE(!std::filesystem::exists(repo + "/operations") ||
              std::filesystem::is_empty(repo + "/operations", ec));
}

// Library exceptions stop at the call: a generator file LibTorch cannot
// read fails the request that needs it (FAILED_PRECONDITION, naming the
// file relative to the repository) and the training job that reads it,
// while the same worker process keeps serving its other models.
TEST(LibraryErrors, ACorruptGeneratorFailsItsRequestAndItsJobNotTheWorker) {
  const std::string dir = testing::MakeTempDir("library_errors");
  const std::string repo = dir + "/repo";
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  {
    auto models = core::ModelRepository::Open({repo, true});
    ASSERT_TRUE(models.ok()) << models.status();
    core::TrainRequest ridge;
    ridge.model_name = "ridge";
    ridge.method = std::make_shared<core::PixelsMethod>(core::PixelsOptions{});
    ASSERT_TRUE(core::TrainModel(*ds, ridge, **models).ok());
    ridge.model_name = "damaged";
    ASSERT_TRUE(core::TrainModel(*ds, ridge, **models).ok());
    core::HyperOptions hyper;
    hyper.train_gan = true;
    hyper.gan_training.epochs = 1;
    hyper.ridge.ridge.regression.alpha = 1000;
    core::TrainRequest broken;
    broken.model_name = "broken";
    broken.method = std::make_shared<core::HyperMethod>(hyper);
    ASSERT_TRUE(core::TrainModel(*ds, broken, **models).ok());
  }
  // Its GAN's weights overwritten; a stored GAN with the same damage.
  const std::string weights = repo + "/models/broken/1/generator/generator.pt";
  ASSERT_TRUE(std::filesystem::exists(weights));
  ASSERT_TRUE(core::WriteFile(weights, std::string(4096, 'x')).ok());
  // Its checksums rewritten to match, so that LibTorch is what meets it.
  ASSERT_TRUE(core::WriteChecksums(repo + "/models/broken/1").ok());
  // Another model's weights damaged behind its checksums' back.
  const std::string damaged = repo + "/models/damaged/1/ridge_weights.npy";
  auto bytes = core::ReadFile(damaged);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  (*bytes)[bytes->size() / 2] ^= 1;
  ASSERT_TRUE(core::WriteFile(damaged, *bytes).ok());
  std::filesystem::create_directories(repo + "/generators/badgan");
  std::filesystem::copy(repo + "/models/broken/1/generator", repo + "/generators/badgan/1",
                        std::filesystem::copy_options::recursive);
  ASSERT_TRUE(core::WriteFile(repo + "/generators/badgan/1/condition.txt", "GAN\n").ok());

  auto server = testing::ServerProcess::Start(repo, {"--workers=spawn:1", "--worker_device=cpu"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::vector<pid_t> workers = (*server)->Children();
  ASSERT_EQ(workers.size(), 1u);
  auto stub = v1::Reconstruction::NewStub((*server)->channel());
  v1::ReconstructResponse response;
  grpc::Status s = testing::ReconstructTestTrials(*stub, "broken", *ds, false, 0, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("models/broken/1/generator/generator.pt"));
  EXPECT_THAT(s.error_message(), HasSubstr("does not load"));
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr(repo)));
  // One flipped bit is found by its SHA-256 before anything reads it.
  s = testing::ReconstructTestTrials(*stub, "damaged", *ds, false, 0, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("models/damaged/1/ridge_weights.npy is damaged"));
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr(repo)));
  s = testing::ReconstructTestTrials(*stub, "ridge", *ds, false, 0, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // A job reading the stored GAN ends failed, saying which file.
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string at = " --server " + (*server)->address();
  const auto up = UploadDigit69(**server);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  const std::string spec = dir + "/hyper.pbtxt";
  ASSERT_TRUE(core::WriteFile(spec,
                              "target: TARGET_SPACE_GAN_LATENT decoder { ridge { alpha: 1000 "
                              "} } generator { stored { name: \"badgan\" } }")
                  .ok());
  const auto job = testing::RunCommand(
      absl::StrCat(cli, "train --dataset digit69 --model from_badgan --wait --spec ", spec, at));
  EXPECT_NE(job.exit_code, 0) << job.output;
  EXPECT_THAT(job.output, HasSubstr("generators/badgan/1/generator.pt"));
  EXPECT_THAT(job.output, ::testing::Not(HasSubstr(repo)));

  // The same worker, still serving.
  EXPECT_EQ((*server)->Children(), workers);
  s = testing::ReconstructTestTrials(*stub, "ridge", *ds, false, 0, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

}  // namespace
}  // namespace v2p
