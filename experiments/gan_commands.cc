#include "experiments/gan_commands.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/data/dataset.h"
#include "core/data/image.h"
#include "core/data/image_corpus.h"
#include "core/data/simulated_experiment.h"
#include "core/evaluation/contact_sheet.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "core/features/feature_network.h"
#include "core/generation/gan.h"
#include "core/methods/dand/dand_method.h"
#include "core/methods/hyper/hyper_method.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/pipeline/hyper_simulation.h"
#include "core/pipeline/model_repository.h"
#include "experiments/evaluation_support.h"

namespace v2p::client {
namespace {

using core::ImageShape;

// The simulated face experiments' image size.
constexpr ImageShape kFaceShape{64, 64, 1};
// Feature similarity through fc7 (core::FeatureSimilarity: the correlation
// of centred activations, and the paper's Euclidean similarity).
const char kFeatureLayer[] = "fc7";
constexpr int kSheetColumns = 12;
// DAND's feature loss (its Eq. 4 has adversarial, feature and pixel terms;
// on by default for digit69, the pixel-only form is an ablation row):
// weight and layer. The paper's weights balance VGG-16 relu3_3 on 224 x 224
// images; at 1, our conv3 term starts at about the size of the pixel term.
constexpr double kFeatureLoss = 1.0;
const char kFeatureLossLayer[] = "conv3";
// The face GANs (64x64) at half our default width: a quarter of the
// arithmetic, so that the experiments fit a 2-core afternoon.
constexpr int kFaceGanChannels = 16;

struct Row {
  std::string method;
  core::ImageScores image;
  double feature = 0, feature_sd = 0;
  double feature_euclidean = 0, feature_euclidean_sd = 0;
  double smooth_ssim = 0, smooth_ssim_sd = 0;
  double latent = std::numeric_limits<double>::quiet_NaN();
  double latent_euclidean = std::numeric_limits<double>::quiet_NaN();
  Eigen::MatrixXf images;
};

struct Experiment {
  std::string title, about;
  ImageShape shape;
  Eigen::MatrixXf stimuli;
  // What every row is scored against, set once by PrepareStimuli: the
  // stimuli's fc7, and the stimuli resized and smoothed for HYPER's SSIM.
  std::optional<core::FeatureSimilarity> features;
  Eigen::MatrixXf smoothed_stimuli;
  std::vector<Row> rows;
  std::optional<core::LatentNull> null;  // HYPER's permutation test
  std::string sheet;                     // file name
};

void MeanSd(const std::vector<double>& v, double* mean, double* sd) {
  double s = 0, ss = 0;
  for (double x : v) s += x;
  *mean = s / std::max<size_t>(1, v.size());
  for (double x : v) ss += (x - *mean) * (x - *mean);
  *sd = std::sqrt(ss / std::max<size_t>(1, v.size()));
}

// "—" for NaN (a method without a latent), else 3 decimals.
std::string Optional(double v) {
  return std::isnan(v) ? std::string("—") : absl::StrFormat("%.3f", v);
}

// Latent similarities: NaN where a method has no latent.
absl::Status AddRow(Experiment* e, const std::string& method, const Eigen::MatrixXf& rec,
                    double latent = std::nan(""), double latent_euclidean = std::nan("")) {
  Row r;
  r.method = method;
  r.latent = latent;
  r.latent_euclidean = latent_euclidean;
  r.images = rec;
  ASSIGN_OR_RETURN(
      r.image, core::ScoreReconstructions(rec.cast<double>(), e->stimuli.cast<double>(), e->shape));
  ASSIGN_OR_RETURN(const core::FeatureSimilarity::Scores f, e->features->Score(rec));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf a, core::HyperSmoothedImages(rec, e->shape));
  const Eigen::MatrixXf& b = e->smoothed_stimuli;
  std::vector<double> ssim;
  for (Eigen::Index i = 0; i < rec.rows(); ++i) {
    ASSIGN_OR_RETURN(const double s,
                     core::Ssim(a.row(i).transpose().cast<double>(),
                                b.row(i).transpose().cast<double>(), core::kHyperSmoothedShape));
    ssim.push_back(s);
  }
  MeanSd(f.correlation, &r.feature, &r.feature_sd);
  MeanSd(f.euclidean, &r.feature_euclidean, &r.feature_euclidean_sd);
  MeanSd(ssim, &r.smooth_ssim, &r.smooth_ssim_sd);
  std::printf(
      "  %-34s latent %6s / %6s  feature %.3f / %.4f  PCC %.3f  SSIM %.3f  "
      "SSIM-smoothed %.3f  identification %.3f\n",
      method.c_str(), Optional(latent).c_str(), Optional(latent_euclidean).c_str(), r.feature,
      r.feature_euclidean, r.image.pcc, r.image.ssim, r.smooth_ssim, r.image.identification_pcc);
  std::fflush(stdout);
  e->rows.push_back(std::move(r));
  return absl::OkStatus();
}

std::string Table(const Experiment& e) {
  auto pm = [](double m, double sd) { return absl::StrFormat("%.3f ± %.3f", m, sd); };
  std::string md = absl::StrCat("## ", e.title, "\n\n", e.about, "\n\n",
                                "| method | latent cosine | latent Euclidean | feature "
                                "correlation | feature Euclidean | PCC | SSIM-11g | SSIM "
                                "smoothed | identification |\n"
                                "|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : e.rows)
    absl::StrAppend(&md, "| ", r.method, " | ", Optional(r.latent), " | ",
                    Optional(r.latent_euclidean), " | ", pm(r.feature, r.feature_sd), " | ",
                    absl::StrFormat("%.4f ± %.4f", r.feature_euclidean, r.feature_euclidean_sd),
                    " | ", pm(r.image.pcc, r.image.pcc_sd), " | ",
                    pm(r.image.ssim, r.image.ssim_sd), " | ", pm(r.smooth_ssim, r.smooth_ssim_sd),
                    " | ", absl::StrFormat("%.3f", r.image.identification_pcc), " |\n");
  if (e.null) {
    const core::LatentNull& n = *e.null;
    absl::StrAppend(
        &md,
        "\nPermutation test of HYPER against random latents (z ~ N(0, I) per test stimulus, "
        "each set drawn by the GAN): null mean latent cosine ",
        absl::StrFormat("%.3f, p = %.4f", n.latent_cosine, n.p_latent), "; latent Euclidean ",
        absl::StrFormat("%.3f, p = %.4f", n.latent_euclidean, n.p_latent_euclidean), "; SSIM-11g ",
        absl::StrFormat("%.3f, p = %.4f", n.ssim, n.p_ssim));
    if (n.with_feature)
      absl::StrAppend(&md, "; feature correlation ",
                      absl::StrFormat("%.3f, p = %.4f", n.feature, n.p_feature));
    absl::StrAppend(&md, ".\n");
  }
  absl::StrAppend(&md, "\nContact sheet `", e.sheet,
                  "`: the stimuli, then one row per method in "
                  "the table's order (the first ",
                  kSheetColumns, " test images).\n\n");
  return md;
}

absl::Status WriteSheet(const GanEvaluateOptions& o, const Experiment& e) {
  const Eigen::Index n = std::min<Eigen::Index>(kSheetColumns, e.stimuli.rows());
  std::vector<Eigen::MatrixXf> rows = {e.stimuli.topRows(n)};
  for (const Row& r : e.rows) rows.push_back(r.images.topRows(n));
  ASSIGN_OR_RETURN(const std::string png,
                   core::ContactSheetPng(rows, e.shape, e.shape.height > 32 ? 2 : 4));
  return core::WriteFile(absl::StrCat(o.out_dir, "/", e.sheet), png);
}

// The served pipelines, with the settings of the examples/ specs: ridge
// alpha 1000 from z-scored voxels, images clipped to [0, 1].
core::RidgeFitOptions ExampleRidge() {
  core::RidgeFitOptions r;
  r.ridge.regression.alpha = 1000;
  r.ridge.standardize_voxels = true;
  return r;
}

core::TrainRequest Request(const std::string& name, std::shared_ptr<const core::Method> method) {
  core::TrainRequest req;
  req.model_name = name;
  req.method = std::move(method);
  req.clip_output = true;
  return req;
}

core::TrainRequest PixelRequest(const std::string& name, double components) {
  core::PixelsOptions p;
  p.ridge = ExampleRidge();
  p.components_variance = components;
  return Request(name, std::make_shared<core::PixelsMethod>(p));
}

core::TrainRequest DandRequest(const GanEvaluateOptions& o, int epochs, double feature_loss,
                               int channels = 32) {
  core::DandOptions p;
  p.network = o.network;
  p.layers = {"fc6"};
  p.explained_variance = 0.99;
  p.ridge = 1;
  p.generator.epochs = epochs;
  p.generator.lambda_fea = feature_loss;
  p.generator.base_channels = channels;
  p.generator.feature_layer = kFeatureLossLayer;
  p.generator.seed = o.seed;
  return Request("dand", std::make_shared<core::DandMethod>(p));
}

core::TrainRequest HyperRequest(const std::string& gan) {
  core::HyperOptions p;
  p.ridge = ExampleRidge();
  p.generator_name = gan;
  return Request("hyper", std::make_shared<core::HyperMethod>(p));
}

double Metric(const core::Pipeline& model, const std::string& name) {
  const auto& m = model.manifest().evaluation.metrics;
  return m.count(name) ? m.at(name) : std::nan("");
}

// DAND trained on `ds` with `feature_loss` and run on its test betas, as a
// row named after its component count and `what`.
absl::Status AddDand(const GanEvaluateOptions& o, ScratchRepository& scratch,
                     const core::Dataset& ds, int epochs, double feature_loss, int channels,
                     const std::string& what, Experiment* e) {
  std::printf("%s: training DAND (%d GAN epochs, %s)\n", e->title.c_str(), epochs, what.c_str());
  std::fflush(stdout);
  ASSIGN_OR_RETURN(const auto dand,
                   scratch.Train(ds, DandRequest(o, epochs, feature_loss, channels)));
  ASSIGN_OR_RETURN(const PipelineOutputs out, RunPipeline(*dand, ds.test.betas));
  return AddRow(e,
                absl::StrCat("DAND (", dand->manifest().feature_layers[0].size, " fc6 components; ",
                             what, ")"),
                out.images, Metric(*dand, "latent_cosine"), Metric(*dand, "latent_euclidean"));
}

// Eigenface, identity, DAND (with `dand_feature_loss`) and (with a GAN)
// HYPER trained on `ds` and run on its test betas; the mean training image
// last.
absl::Status ScoreServedPipelines(const GanEvaluateOptions& o, ScratchRepository& scratch,
                                  const core::Dataset& ds, const std::string& gan, int dand_epochs,
                                  double dand_feature_loss, int dand_channels, Experiment* e) {
  if (!gan.empty()) {
    std::printf("%s: training HYPER (ridge to the latents of GAN %s)\n", e->title.c_str(),
                gan.c_str());
    std::fflush(stdout);
    ASSIGN_OR_RETURN(const auto hyper, scratch.Train(ds, HyperRequest(gan)));
    ASSIGN_OR_RETURN(const PipelineOutputs out, RunPipeline(*hyper, ds.test.betas));
    RETURN_IF_ERROR(AddRow(e, "HYPER (GAN latent)", out.images, Metric(*hyper, "latent_cosine"),
                           Metric(*hyper, "latent_euclidean")));
  }
  RETURN_IF_ERROR(AddDand(o, scratch, ds, dand_epochs, dand_feature_loss, dand_channels,
                          dand_feature_loss > 0 ? absl::StrCat("pixel, adversarial and ",
                                                               kFeatureLossLayer, " feature losses")
                                                : "pixel and adversarial losses",
                          e));
  ASSIGN_OR_RETURN(const auto eigen, scratch.Train(ds, PixelRequest("eigenface", 0.9)));
  ASSIGN_OR_RETURN(const PipelineOutputs eigen_out, RunPipeline(*eigen, ds.test.betas));
  RETURN_IF_ERROR(AddRow(e, "eigenface (90% pixel variance)", eigen_out.images));
  ASSIGN_OR_RETURN(const auto identity, scratch.Train(ds, PixelRequest("identity", 0)));
  ASSIGN_OR_RETURN(const PipelineOutputs identity_out, RunPipeline(*identity, ds.test.betas));
  RETURN_IF_ERROR(AddRow(e, "identity (ridge betas → pixels)", identity_out.images));
  return absl::OkStatus();
}

// Fills the stimulus side of the scores; e->stimuli and e->shape are set.
absl::Status PrepareStimuli(Experiment* e, const core::FeatureNetwork& net,
                            const Eigen::MatrixXf& train_stimuli) {
  ASSIGN_OR_RETURN(e->features, core::FeatureSimilarity::Create(net, kFeatureLayer, train_stimuli,
                                                                e->stimuli, e->shape));
  ASSIGN_OR_RETURN(e->smoothed_stimuli, core::HyperSmoothedImages(e->stimuli, e->shape));
  return absl::OkStatus();
}

absl::Status AddMeanImage(Experiment* e, const Eigen::MatrixXd& train_stimuli) {
  return AddRow(e, "mean training image",
                core::MeanImageBaseline(train_stimuli, e->stimuli.rows()).cast<float>());
}

// One set of random latents drawn by the GAN, as a row beside HYPER's.
absl::Status AddRandomLatents(const GanEvaluateOptions& o, Experiment* e,
                              const core::GanGenerator& gan, const Eigen::MatrixXf& true_latents) {
  Eigen::MatrixXf z(true_latents.rows(), true_latents.cols());
  std::mt19937_64 rng(o.seed + 8);
  std::normal_distribution<float> normal(0, 1);
  for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = normal(rng);
  ASSIGN_OR_RETURN(const Eigen::MatrixXf drawn, gan.Generate(z));
  return AddRow(e, "random GAN latents (one draw)", drawn, core::MeanRowCosine(z, true_latents),
                core::MeanRowEuclidean(z, true_latents));
}

Eigen::MatrixXf Mirrored(const Eigen::MatrixXf& images, ImageShape shape) {
  Eigen::MatrixXf out(images.rows(), images.cols());
  for (int r = 0; r < shape.height; ++r)
    for (int c = 0; c < shape.width; ++c)
      out.col(r * shape.width + c) = images.col(r * shape.width + (shape.width - 1 - c));
  return out;
}

absl::StatusOr<std::unique_ptr<core::GanGenerator>> TrainFaceGan(const GanEvaluateOptions& o,
                                                                 const Eigen::MatrixXf& faces) {
  core::GanOptions go;
  go.latent_size = 32;
  go.base_channels = kFaceGanChannels;
  go.epochs = o.face_epochs;
  go.seed = o.seed;
  const absl::Time start = absl::Now();
  go.on_epoch = [&](const core::GanEpoch& e) {
    if (e.epoch == 1 || e.epoch % 10 == 0 || e.epoch == go.epochs)
      std::printf("  face GAN epoch %3d: L_dis %.3f, L_adv %.3f (%.0f s)\n", e.epoch,
                  e.discriminator, e.adversarial, absl::ToDoubleSeconds(absl::Now() - start));
    std::fflush(stdout);
  };
  std::printf(
      "training the face GAN (64x64, latent 32, %d base channels) on %lld faces, %d "
      "epochs\n",
      kFaceGanChannels, static_cast<long long>(faces.rows()), o.face_epochs);
  ASSIGN_OR_RETURN(auto trainer, core::GanTrainer::Create(faces, kFaceShape, go));
  RETURN_IF_ERROR(trainer->Train());
  return trainer->Finish();
}

absl::StatusOr<Experiment> Digit69(const GanEvaluateOptions& o, const core::FeatureNetwork& net) {
  ASSIGN_OR_RETURN(core::Dataset ds, core::LoadDataset(core::Digit69DatasetOptions(o.data_root)));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf prior, Digit69XPrior(o.data_root));
  ds.unpaired = prior.cast<double>();
  Experiment e;
  e.title = "digit69 (real fMRI)";
  e.shape = ds.image;
  e.stimuli = ds.test.stimuli.cast<float>();
  e.sheet = "digit69_gan_sheet.png";
  RETURN_IF_ERROR(PrepareStimuli(&e, net, ds.train.stimuli.cast<float>()));
  e.about = absl::StrCat(
      "90 training and 10 test trials, 3092 voxels. HYPER decodes the latent of GAN ", o.gan,
      " (trained on X_prior + MNIST 6s and 9s); the stimuli's latents are found by inverting "
      "it, and latent similarity compares the decoded latents with the test stimuli's inverted "
      "ones. DAND's "
      "paired GAN trains on X_prior plus the 90 training stimuli (a dataset description with "
      "unpaired_images: \"X_prior\"), and its latent similarity compares with the "
      "test stimuli's own whitened components. DAND trains with its paper's three losses "
      "(pixel, adversarial, and the feature loss on ",
      kFeatureLossLayer, ", weight ", kFeatureLoss,
      ", where the paper uses VGG-16 relu3_3 on 224 x 224 images); the ablation "
      "row leaves the feature loss out.");
  ASSIGN_OR_RETURN(auto scratch, ScratchRepository::Create(o.repo, "gan-evaluate"));
  RETURN_IF_ERROR(scratch->LinkGenerator(o.repo, o.gan));
  RETURN_IF_ERROR(ScoreServedPipelines(o, *scratch, ds, o.gan, o.epochs, kFeatureLoss, 32, &e));
  // The ablation: DAND without its feature loss, beside DAND (row 3).
  RETURN_IF_ERROR(
      AddDand(o, *scratch, ds, o.epochs, 0, 32, "ablation: without the feature loss", &e));
  std::rotate(e.rows.begin() + 2, e.rows.end() - 1, e.rows.end());
  ASSIGN_OR_RETURN(auto gens, core::OpenGeneratorRepository(o.repo, false));
  ASSIGN_OR_RETURN(const int64_t gv, gens->ResolveVersion(o.gan, 0));
  ASSIGN_OR_RETURN(const std::string gan_dir, gens->VerifiedVersionDir(o.gan, gv));
  ASSIGN_OR_RETURN(auto gan, core::GanGenerator::Load(gan_dir));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf z_true, gan->Invert(e.stimuli));
  const Row& hyper = e.rows.front();
  ASSIGN_OR_RETURN(e.null, core::RandomLatentNull(*gan, z_true, e.stimuli,
                                                  {hyper.latent, hyper.latent_euclidean,
                                                   hyper.image.ssim, hyper.feature},
                                                  &*e.features, o.permutations, o.seed + 7));
  RETURN_IF_ERROR(AddRandomLatents(o, &e, *gan, z_true));
  RETURN_IF_ERROR(AddMeanImage(&e, ds.train.stimuli));
  return e;
}

// DAND's design on real faces: responses simulated from fc6 of each face.
absl::StatusOr<Experiment> FacesDand(const GanEvaluateOptions& o, const core::FeatureNetwork& net,
                                     ScratchRepository& scratch) {
  ASSIGN_OR_RETURN(const core::LabeledImages faces,
                   core::ReadOlivetti(o.data_root + "/corpora/olivetti_faces/olivettifaces.mat"));
  core::LabeledImages train, test;
  core::SplitEveryKth(faces, 10, &train, &test);
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f_train,
                   net.ExtractConcatenated(train.images, faces.shape, {"fc6"}));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f_test,
                   net.ExtractConcatenated(test.images, faces.shape, {"fc6"}));
  core::SimulationOptions so;
  so.seed = o.seed;
  ASSIGN_OR_RETURN(const core::SimulatedResponses y,
                   core::SimulateResponses(f_train.cast<double>(), f_test.cast<double>(), so));
  core::Dataset ds = core::SimulatedDataset("olivetti", faces.shape, train.images.cast<double>(),
                                            test.images.cast<double>(), y);
  ds.unpaired = Mirrored(train.images, faces.shape).cast<double>();
  Experiment e;
  e.title = "Olivetti faces, DAND's design (SIMULATED responses)";
  e.shape = faces.shape;
  e.stimuli = test.images;
  e.sheet = "faces_dand_sheet.png";
  RETURN_IF_ERROR(PrepareStimuli(&e, net, train.images));
  e.about = absl::StrCat(
      "Real 64x64 faces, simulated responses: ", train.size(),
      " training faces (single trials) "
      "and ",
      test.size(), " test faces (one per person, the mean of ", so.test_repeats, " repeats); ",
      so.num_voxels,
      " voxels from a linear encoding of fc6 (of the faces resized "
      "to 28x28) at single-trial SNR ",
      so.snr, " with AR(1) noise correlation ", so.noise_correlation,
      " (core/data/simulated_experiment.h). DAND's GAN trains on the "
      "training faces and their mirror images (",
      kFaceGanChannels,
      " base channels). HYPER "
      "needs latents for these real faces, i.e. inverting a 64x64 GAN 400 times, which takes "
      "longer than this command should; HYPER has its own design below. DAND trains without "
      "its feature loss here: the loss makes an epoch of the 64x64 GAN about 2.5x slower, and "
      "the digit69 table above compares DAND with and without it.");
  RETURN_IF_ERROR(ScoreServedPipelines(o, scratch, ds, "", o.face_epochs, 0, kFaceGanChannels, &e));
  RETURN_IF_ERROR(AddMeanImage(&e, ds.train.stimuli));
  return e;
}

// HYPER's design: faces drawn by the GAN from known latents.
absl::StatusOr<Experiment> FacesHyper(const GanEvaluateOptions& o, const core::FeatureNetwork& net,
                                      const core::GanGenerator& gan, ScratchRepository& scratch) {
  core::HyperSimulationOptions ho;
  ho.permutations = o.permutations;
  ho.seed = o.seed;
  std::printf("simulating HYPER's experiment (%d + %d GAN faces)\n", ho.train_stimuli,
              ho.test_stimuli);
  std::fflush(stdout);
  ASSIGN_OR_RETURN(const core::HyperSimulationResult r, core::SimulateHyper(gan, net, ho));
  Experiment e;
  e.title = "GAN faces, HYPER's design (SIMULATED responses)";
  e.shape = gan.image_shape();
  e.stimuli = r.stimuli;
  e.sheet = "faces_hyper_sheet.png";
  RETURN_IF_ERROR(PrepareStimuli(&e, net, r.train_stimuli));
  e.about = absl::StrCat(
      "Stimuli drawn by the face GAN from latents z ~ N(0, I): ", ho.train_stimuli,
      " training stimuli (single trials) and ", ho.test_stimuli, " test stimuli (the mean of ",
      ho.responses.test_repeats, " repeats), as in Dado et al.; ", ho.responses.num_voxels,
      " voxels simulated from fc6 at single-trial SNR ", ho.responses.snr,
      ". HYPER decodes the known latents by ridge (alpha ", ho.ridge_alpha,
      "); latent similarity compares the decoded with the true latents.");
  RETURN_IF_ERROR(
      AddRow(&e, "HYPER (GAN latent)", r.reconstructions, r.latent_cosine, r.latent_euclidean));
  core::Dataset ds = core::SimulatedDataset("gan-faces", e.shape, r.train_stimuli.cast<double>(),
                                            r.stimuli.cast<double>(), r.responses);
  ASSIGN_OR_RETURN(const auto eigen, scratch.Train(ds, PixelRequest("eigenface_gan", 0.9)));
  ASSIGN_OR_RETURN(const PipelineOutputs eigen_out, RunPipeline(*eigen, ds.test.betas));
  RETURN_IF_ERROR(AddRow(&e, "eigenface (90% pixel variance)", eigen_out.images));
  ASSIGN_OR_RETURN(const auto identity, scratch.Train(ds, PixelRequest("identity_gan", 0)));
  ASSIGN_OR_RETURN(const PipelineOutputs identity_out, RunPipeline(*identity, ds.test.betas));
  RETURN_IF_ERROR(AddRow(&e, "identity (ridge betas → pixels)", identity_out.images));
  e.null = r.null;
  RETURN_IF_ERROR(AddRandomLatents(o, &e, gan, r.true_latents));
  RETURN_IF_ERROR(AddMeanImage(&e, ds.train.stimuli));
  return e;
}

}  // namespace

absl::Status RunGanEvaluate(const GanEvaluateOptions& o) {
  if (o.out_dir.empty()) return absl::InvalidArgumentError("gan evaluate needs --out");
  if (o.epochs < 1 || o.face_epochs < 1 || o.permutations < 1)
    return absl::InvalidArgumentError(
        "gan evaluate needs --epochs, --face_epochs and --permutations >= 1");
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating ", o.out_dir, ": ", ec.message()));
  ASSIGN_OR_RETURN(auto nets, core::OpenFeatureNetworkRepository(o.repo, false));
  ASSIGN_OR_RETURN(const int64_t nv, nets->ResolveVersion(o.network, 0));
  ASSIGN_OR_RETURN(const std::string net_dir, nets->VerifiedVersionDir(o.network, nv));
  ASSIGN_OR_RETURN(auto net, core::FeatureNetwork::Load(net_dir));
  const absl::Time start = absl::Now();
  std::vector<Experiment> experiments;
  ASSIGN_OR_RETURN(Experiment digits, Digit69(o, *net));
  experiments.push_back(std::move(digits));
  if (o.faces) {
    ASSIGN_OR_RETURN(const core::LabeledImages faces,
                     core::ReadOlivetti(o.data_root + "/corpora/olivetti_faces/olivettifaces.mat"));
    core::LabeledImages train, test;
    core::SplitEveryKth(faces, 10, &train, &test);
    Eigen::MatrixXf corpus(2 * train.images.rows(), train.images.cols());
    corpus << train.images, Mirrored(train.images, faces.shape);
    ASSIGN_OR_RETURN(std::unique_ptr<core::GanGenerator> gan, TrainFaceGan(o, corpus));
    ASSIGN_OR_RETURN(auto scratch, ScratchRepository::Create(o.repo, "gan-evaluate-faces"));
    ASSIGN_OR_RETURN(Experiment dand, FacesDand(o, *net, *scratch));
    experiments.push_back(std::move(dand));
    ASSIGN_OR_RETURN(Experiment hyper, FacesHyper(o, *net, *gan, *scratch));
    experiments.push_back(std::move(hyper));
  }
  std::string md = absl::StrCat(
      "# GAN decoders in their papers' terms: DAND (Güçlütürk et al. 2017, Table 2) and HYPER "
      "(Dado et al. 2022, Table 1)\n\n"
      "Written by `",
      o.command, "` in ", absl::StrFormat("%.0f", absl::ToDoubleSeconds(absl::Now() - start)),
      " s. Feature network ", o.network, "/", nv,
      ". Every pipeline is trained by the service's trainer and run as "
      "served, with the settings of examples/digit69_hyper.pbtxt, examples/digit69_dand.pbtxt "
      "(",
      o.epochs, " GAN epochs on digit69, ", o.face_epochs, " on faces; the face HYPER GAN also ",
      o.face_epochs,
      ") and examples/digit69_ridge.pbtxt (identity; eigenface adds "
      "pixel_components { explained_variance: 0.9 }).\n\n"
      "Columns: **latent cosine** and **latent Euclidean**, similarity of decoded to true "
      "latents by cosine and by Dado et al.'s Euclidean similarity 1 / (1 + distance) (HYPER "
      "Table 1); **feature correlation**, PCC between the ",
      kFeatureLayer,
      " activations of "
      "stimulus and reconstruction, each less the mean activation over the training stimuli, "
      "and **feature Euclidean**, 1 / (1 + distance) between the raw activations (both papers "
      "use a VGG-Face layer; a Euclidean similarity depends on the layer's scale, so it only "
      "compares rows of one table); **PCC** of pixels (DAND Table 2); "
      "**SSIM-11g**, ",
      core::kSsimDefinition,
      "; **SSIM smoothed**, the same after resizing "
      "both images to 224x224 (bilinear) and smoothing with a 3x3 Gaussian kernel (sigma 0.8), "
      "as HYPER Table 1; **identification**, 2-way by pixel PCC. Mean ± SD over the test "
      "images. DAND Table 2's rows are DAND, eigenface and identity; HYPER Table 1's are HYPER "
      "against random "
      "latents.\n\n");
  for (const Experiment& e : experiments) {
    absl::StrAppend(&md, Table(e));
    RETURN_IF_ERROR(WriteSheet(o, e));
  }
  RETURN_IF_ERROR(core::WriteFile(o.out_dir + "/gan_tables.md", md));
  std::printf("\n%s\nwrote %s/gan_tables.md and the contact sheets\n", md.c_str(),
              o.out_dir.c_str());
  return absl::OkStatus();
}

}  // namespace v2p::client
