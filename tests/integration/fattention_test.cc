// Foreground attention with Loop-Enc-Dec end to end: a quick feature
// network, then a training job of v2p-server for the generic
// `method { name: "fattention" }` spec (examples/digit69_fattention.pbtxt) on
// an uploaded digit69 with X_prior as the unpaired images; the model's
// decoded attention maps are scored against the test stimuli's foreground,
// and the test trials are reconstructed over gRPC and scored.
#include <cstdio>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/base/files.h"
#include "core/data/dataset.h"
#include "core/evaluation/report.h"
#include "core/methods/fattention/attention_labels.h"
#include "experiments/feature_commands.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p {
namespace {

namespace v1 = voxel2pixel::v1;

// Into `repo`: a quick feature network (MNIST, BRAINS, Olivetti, 2 epochs)
// and description.pbtxt, digit69 with X_prior as its unpaired images.
void PrepareRepository(const std::string& repo) {
  client::FeaturesTrainOptions f;
  f.repo = repo;
  f.data_root = testing::DataDir();
  f.fashion_dir = "";
  f.epochs = 2;
  f.statistics_images = 300;
  ASSERT_TRUE(client::RunFeaturesTrain(f).ok());
  auto written = testing::WriteDigit69WithPrior(repo + "/digit69_prior.mat");
  ASSERT_TRUE(written.ok()) << written.status();
  auto description = core::ReadFile(testing::SourceDir() + "/examples/digit69_dataset.pbtxt");
  ASSERT_TRUE(description.ok());
  ASSERT_TRUE(core::WriteFile(repo + "/description.pbtxt",
                              absl::StrReplaceAll(*description,
                                                  {{testing::kExampleDigit69File, written->file}}) +
                                  "unpaired_images: \"X_prior\"\n")
                  .ok());
}

// The test trials' attention maps from one unary Reconstruct of model fa
// (rows of *maps), checked for shape and range, with the images of `plain`
// (the call without maps) unchanged.
void ExpectServedMaps(v1::Reconstruction::Stub& stub, const core::Dataset& ds,
                      const v1::ReconstructResponse& plain, Eigen::MatrixXd* out) {
  const int n = static_cast<int>(ds.test.betas.rows());
  v1::ReconstructRequest asked;
  asked.set_model("fa");
  asked.set_include_pixels(true);
  asked.set_include_attention(true);
  for (int i = 0; i < n; ++i)
    *asked.add_samples() = testing::BetasSample(ds.test.betas, i, absl::StrCat("t", i));
  v1::ReconstructResponse with_maps;
  grpc::ClientContext unary_ctx;
  const grpc::Status mapped = stub.Reconstruct(&unary_ctx, asked, &with_maps);
  ASSERT_TRUE(mapped.ok()) << mapped.error_message();
  ASSERT_EQ(with_maps.results_size(), n);
  Eigen::MatrixXd maps(n, 784);
  for (int i = 0; i < n; ++i) {
    const v1::Image& a = with_maps.results(i).attention();
    ASSERT_EQ(a.pixels_size(), 784);
    EXPECT_EQ(a.height(), 28);
    EXPECT_EQ(a.width(), 28);
    EXPECT_EQ(a.channels(), 1);
    EXPECT_FALSE(a.png().empty());
    for (int p = 0; p < 784; ++p) maps(i, p) = a.pixels(p);
    EXPECT_EQ(with_maps.results(i).image().pixels(400), plain.results(i).image().pixels(400));
  }
  EXPECT_GE(maps.minCoeff(), 0.0);
  EXPECT_LE(maps.maxCoeff(), 1.0);
  *out = maps;
}

// Trials 3 and 7 streamed with include_attention get the unary maps.
void ExpectStreamedMapsAsUnary(v1::Reconstruction::Stub& stub, const core::Dataset& ds,
                               const Eigen::MatrixXd& maps) {
  grpc::ClientContext ctx;
  auto stream = stub.StreamReconstruct(&ctx);
  for (int i : {3, 7}) {
    v1::StreamReconstructRequest req;
    req.set_model("fa");
    req.set_include_pixels(true);
    req.set_include_attention(true);
    *req.mutable_sample() = testing::BetasSample(ds.test.betas, i, absl::StrCat("t", i));
    ASSERT_TRUE(stream->Write(req));
  }
  stream->WritesDone();
  v1::StreamReconstructResponse out;
  std::vector<Eigen::VectorXf> streamed;
  while (stream->Read(&out)) {
    const auto& px = out.result().attention().pixels();
    streamed.push_back(Eigen::Map<const Eigen::VectorXf>(px.data(), px.size()));
  }
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(streamed.size(), 2u);
  EXPECT_LT((streamed[0] - maps.row(3).transpose().cast<float>()).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LT((streamed[1] - maps.row(7).transpose().cast<float>()).cwiseAbs().maxCoeff(), 1e-6);
}

TEST(FAttentionService, TrainedAsAJobItsMapsBeatTheMeanMapAndItsImagesTheMeanImage) {
  const std::string repo = testing::MakeTempDir("fattention_e2e");
  PrepareRepository(repo);
  if (HasFatalFailure()) return;
  auto server = testing::ServerProcess::Start(repo, {"--workers=spawn:1", "--worker_device=cpu"});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p ");
  const std::string at = " --server " + (*server)->address();
  const auto up = testing::RunCommand(cli + "datasets upload --name digit69_prior --description " +
                                      repo + "/description.pbtxt" + at);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  const auto train =
      testing::RunCommand(cli + "train --dataset digit69_prior --model fa --wait --spec " +
                          testing::SourceDir() + "/examples/digit69_fattention.pbtxt" + at);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("TRAINING_GENERATOR"), std::string::npos) << train.output;

  // The decoded maps against the test stimuli's foreground.
  auto models = v1::Models::NewStub((*server)->channel());
  grpc::ClientContext ctx;
  v1::GetModelRequest get;
  get.set_name("fa");
  v1::Model model;
  ASSERT_TRUE(models->GetModel(&ctx, get, &model).ok());
  const auto& e = model.evaluation();
  ASSERT_TRUE(e.metrics().count("attention_iou") && e.baseline_metrics().count("attention_iou"));
  std::printf("attention maps: IoU %.3f, PCC %.3f (mean training map: IoU %.3f, PCC %.3f)\n",
              e.metrics().at("attention_iou"), e.metrics().at("attention_pcc"),
              e.baseline_metrics().at("attention_iou"), e.baseline_metrics().at("attention_pcc"));
  EXPECT_GT(e.metrics().at("attention_iou"), e.baseline_metrics().at("attention_iou"));
  // E, image -> betas, on trials it never saw.
  ASSERT_TRUE(e.metrics().count("encoder_voxel_r") && e.metrics().count("encoder_pattern_r"));
  std::printf("encoder E on the test trials: voxel r %.3f, pattern r %.3f\n",
              e.metrics().at("encoder_voxel_r"), e.metrics().at("encoder_pattern_r"));
  EXPECT_GT(e.metrics().at("encoder_voxel_r"), 0.0);
  EXPECT_GT(e.metrics().at("encoder_pattern_r"), 0.0);
  EXPECT_GT(e.metrics().at("attention_pcc"), e.baseline_metrics().at("attention_pcc"));

  // The test trials over gRPC.
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto stub = v1::Reconstruction::NewStub((*server)->channel());
  const int n = static_cast<int>(ds->test.betas.rows());
  v1::ReconstructResponse resp;
  const grpc::Status st = testing::ReconstructTestTrials(*stub, "fa", *ds, true, 0, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), n);
  Eigen::MatrixXd rec(n, 784);
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(resp.results(i).image().pixels_size(), 784);
    for (int p = 0; p < 784; ++p) rec(i, p) = resp.results(i).image().pixels(p);
  }
  auto scores = core::ScoreReconstructions(rec, ds->test.stimuli, ds->image);
  auto mean = core::ScoreReconstructions(core::MeanImageBaseline(ds->train.stimuli, n),
                                         ds->test.stimuli, ds->image);
  ASSERT_TRUE(scores.ok() && mean.ok());
  std::printf(
      "F-attention over gRPC: PCC %.3f, SSIM-11g %.3f, identification %.3f (PCC) %.3f (SSIM); "
      "mean image PCC %.3f, SSIM-11g %.3f\n",
      scores->pcc, scores->ssim, scores->identification_pcc, scores->identification_ssim, mean->pcc,
      mean->ssim);
  EXPECT_GE(scores->identification_ssim, 0.85);
  EXPECT_GT(scores->pcc, mean->pcc);
  EXPECT_GE(scores->ssim, 0.40);
  EXPECT_EQ(resp.results(0).attention().pixels_size(), 0) << "maps sent when not asked for";

  // The maps on request, unary and streamed: one grey 28 x 28 channel per
  // sample, the same either way, scoring against the test stimuli's
  // foreground as the model's evaluation recorded at training.
  Eigen::MatrixXd maps;
  ExpectServedMaps(*stub, *ds, resp, &maps);
  ASSERT_EQ(maps.rows(), n);
  auto labels = core::ForegroundLabels(ds->test.stimuli.cast<float>(), ds->image);
  ASSERT_TRUE(labels.ok()) << labels.status();
  const core::AttentionMapScores served = core::ScoreAttentionMaps(maps, labels->cast<double>());
  std::printf("served attention maps: IoU %.3f, PCC %.3f\n", served.iou, served.pcc);
  EXPECT_NEAR(served.iou, e.metrics().at("attention_iou"), 1e-3);
  EXPECT_NEAR(served.pcc, e.metrics().at("attention_pcc"), 1e-3);
  ExpectStreamedMapsAsUnary(*stub, *ds, maps);

  // The CLI writes each map and a sheet of stimuli, reconstructions and maps.
  const std::string out_dir = repo + "/attention_out";
  const auto cli_run = testing::RunCommand(
      cli + "reconstruct --model fa --attention --betas " + testing::DataDir() +
      "/digit69/digit69_28x28.mat --var fmriTest --stimuli-var stimTest --out " + out_dir +
      " --batch_size 10" + at);
  ASSERT_EQ(cli_run.exit_code, 0) << cli_run.output;
  EXPECT_TRUE(std::filesystem::exists(out_dir + "/attention_sheet.png")) << cli_run.output;
  EXPECT_TRUE(std::filesystem::exists(out_dir + "/sample_000_attention.png"));
  EXPECT_GT(std::filesystem::file_size(out_dir + "/attention_sheet.png"), 100u);
  std::filesystem::remove_all(repo);
}

}  // namespace
}  // namespace v2p
