#include "experiments/generator_commands.h"

#include <cstdio>
#include <filesystem>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/data/dataset.h"
#include "core/data/image.h"
#include "core/decoding/ridge_decoder.h"
#include "core/decoding/unit_decodability.h"
#include "core/evaluation/contact_sheet.h"
#include "core/evaluation/report.h"
#include "core/features/feature_network.h"
#include "core/generation/gan.h"
#include "core/generation/icg.h"
#include "core/methods/features/features_method.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/pipeline.h"
#include "core/pipeline/trainer.h"
#include "experiments/evaluation_support.h"
#include "workers/spec_files.h"

namespace v2p::client {
namespace {

// The digit69 test betas decoded into `layers` by SMR with the settings of
// examples/digit69_features_smr.pbtxt, fitted on the training trials by
// the same trainer the service runs (in a scratch repository that links the
// feature networks of o.repo).
absl::StatusOr<Eigen::MatrixXf> DecodeWithSmr(const GeneratorsEvaluateOptions& o,
                                              const core::Dataset& ds,
                                              const std::vector<std::string>& layers) {
  ASSIGN_OR_RETURN(auto scratch, ScratchRepository::Create(o.repo, "generators-evaluate"));
  core::TrainRequest req;
  req.model_name = "smr_features";
  core::FeaturesOptions p;
  p.network = o.network;
  p.layers = layers;
  p.decodability_folds = 0;
  p.decoder = core::FeaturesOptions::Decoder::kSmr;
  ASSIGN_OR_RETURN(p.smr.smr, core::SmrOptions::Variant("SMR", 0.05));
  p.smr.smr.lambda1 = 30;
  p.smr.smr.max_iterations = 10;
  p.smr.voxels = 500;
  req.method = std::make_shared<core::FeaturesMethod>(p);
  std::printf("fitting SMR (lambda1 30, 10 iterations, 500 voxels) to %s\n",
              absl::StrJoin(layers, ",").c_str());
  std::fflush(stdout);
  ASSIGN_OR_RETURN(const auto pipeline, scratch->Train(ds, req));
  ASSIGN_OR_RETURN(const PipelineOutputs out, RunPipeline(*pipeline, ds.test.betas));
  return out.features;
}

// Commits a trained generator with its condition text as the next version
// of `name`, reports where, and writes the contact sheet `rows` to o.out.
template <typename Trained>
absl::StatusOr<GeneratorsTrainResult> StoreGenerator(
    const GeneratorsTrainOptions& o, const std::string& name, const Trained& g,
    const std::string& condition, const core::ImageScores& scores,
    const std::vector<Eigen::MatrixXf>& rows, core::ImageShape shape, const char* sheet_caption) {
  ASSIGN_OR_RETURN(auto repo, core::OpenGeneratorRepository(o.repo, true));
  ASSIGN_OR_RETURN(const int64_t version,
                   repo->CommitVersion(name, [&](const std::string& dir) -> absl::Status {
                     RETURN_IF_ERROR(g.Save(dir));
                     return core::WriteFile(dir + "/" + core::kGeneratorConditionFile, condition);
                   }));
  GeneratorsTrainResult r;
  r.version = version;
  r.dir = repo->VersionDir(name, version);
  r.pcc = scores.pcc;
  r.ssim = scores.ssim;
  r.identification = scores.identification_pcc;
  std::printf("saved generator %s version %lld in %s\n", name.c_str(),
              static_cast<long long>(version), r.dir.c_str());
  if (!o.out.empty()) {
    ASSIGN_OR_RETURN(const std::string png, core::ContactSheetPng(rows, shape));
    RETURN_IF_ERROR(core::WriteFile(o.out, png));
    std::printf("wrote %s (%s)\n", o.out.c_str(), sheet_caption);
  }
  return r;
}

// A generator's training images and the dataset whose test stimuli score
// it: the description's (core::GeneratorTrainingImages), or digit69's
// unpaired X_prior + MNIST 6s and 9s.
struct ImageSource {
  Eigen::MatrixXf images;
  std::string source;  // in words
  core::Dataset scored;
};

absl::StatusOr<ImageSource> TrainingImages(const GeneratorsTrainOptions& o) {
  ImageSource s;
  if (o.dataset.empty()) {
    ASSIGN_OR_RETURN(s.images, Digit69PriorImages(o.data_root));
    s.source = "unpaired images (X_prior + MNIST 6s and 9s)";
    ASSIGN_OR_RETURN(s.scored, core::LoadDataset(core::Digit69DatasetOptions(o.data_root)));
    return s;
  }
  ASSIGN_OR_RETURN(const auto description, worker::ReadDatasetDescription(o.dataset));
  ASSIGN_OR_RETURN(const core::DatasetOptions options,
                   worker::ToDatasetOptions(
                       description, worker::DescriptionDataRoot(o.dataset, o.dataset_root)));
  ASSIGN_OR_RETURN(s.scored, core::LoadDataset(options));
  ASSIGN_OR_RETURN(core::GeneratorImages g,
                   core::GeneratorTrainingImages(s.scored, s.scored.train, true, 128));
  s.images = std::move(g.images);
  s.source = absl::StrCat("images of ", s.scored.name, ": ", g.source);
  return s;
}

// HYPER's generator: an unconditional GAN on the same unpaired images. Its
// upper bound is how well inversion redraws the digit69 test stimuli.
absl::StatusOr<GeneratorsTrainResult> TrainGan(const GeneratorsTrainOptions& o,
                                               const std::string& name) {
  ASSIGN_OR_RETURN(const ImageSource src, TrainingImages(o));
  const core::Dataset& ds = src.scored;
  core::GanOptions options;
  options.latent_size = o.latent_size;
  options.epochs = o.epochs;
  options.seed = o.seed;
  std::printf("training GAN on %lld %s, latent %d, %d epochs\n",
              static_cast<long long>(src.images.rows()), src.source.c_str(), o.latent_size,
              o.epochs);
  const absl::Time start = absl::Now();
  options.on_epoch = [&](const core::GanEpoch& e) {
    std::printf("  epoch %3d: L_dis %.3f, L_adv %.3f (%.0f s)\n", e.epoch, e.discriminator,
                e.adversarial, absl::ToDoubleSeconds(absl::Now() - start));
    std::fflush(stdout);
  };
  ASSIGN_OR_RETURN(auto trainer, core::GanTrainer::Create(src.images, ds.image, options));
  RETURN_IF_ERROR(trainer->Train());
  std::unique_ptr<core::GanGenerator> gan = trainer->Finish();
  const Eigen::MatrixXf test = ds.test.stimuli.cast<float>();
  ASSIGN_OR_RETURN(const Eigen::MatrixXf z, gan->Invert(test));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf rec, gan->Generate(z));
  ASSIGN_OR_RETURN(const core::ImageScores scores,
                   core::ScoreReconstructions(rec.cast<double>(), ds.test.stimuli, ds.image));
  std::printf(
      "%s test stimuli redrawn from their inverted latents: PCC %.3f ± %.3f, "
      "SSIM %.3f, identification %.3f\n",
      ds.name.c_str(), scores.pcc, scores.pcc_sd, scores.ssim, scores.identification_pcc);
  return StoreGenerator(o, name, *gan, "unconditional GAN\n", scores, {test, rec}, ds.image,
                        "test stimuli above their inverted redraws");
}

}  // namespace

absl::StatusOr<GeneratorsTrainResult> RunGeneratorsTrain(const GeneratorsTrainOptions& o) {
  std::string prefix = "digit69";
  if (!o.dataset.empty()) {
    ASSIGN_OR_RETURN(const auto description, worker::ReadDatasetDescription(o.dataset));
    prefix = description.name();
  }
  const std::string name = o.name.empty() ? absl::StrCat(prefix, "_", o.kind) : o.name;
  RETURN_IF_ERROR(core::ValidateModelName(name));
  if (o.kind == "GAN") return TrainGan(o, name);
  ASSIGN_OR_RETURN(core::IcgOptions options, core::IcgOptions::Preset(o.kind));
  ASSIGN_OR_RETURN(auto nets, core::OpenFeatureNetworkRepository(o.repo, false));
  ASSIGN_OR_RETURN(const int64_t nv, nets->ResolveVersion(o.network, 0));
  ASSIGN_OR_RETURN(const std::string net_dir, nets->VerifiedVersionDir(o.network, nv));
  ASSIGN_OR_RETURN(auto net, core::FeatureNetwork::Load(net_dir));
  const std::vector<std::string> layers = absl::StrSplit(o.layers, ',', absl::SkipEmpty());
  if (layers.empty()) return absl::InvalidArgumentError("generators train needs --layers");

  ASSIGN_OR_RETURN(const ImageSource src, TrainingImages(o));
  const Eigen::MatrixXf& images = src.images;
  const core::Dataset& ds = src.scored;
  ASSIGN_OR_RETURN(const Eigen::MatrixXf conditions,
                   net->ExtractConcatenated(images, ds.image, layers));
  std::printf(
      "training %s on %lld %s, condition %s "
      "of %s/%lld (%lld units), latent %d, %d epochs\n",
      o.kind.c_str(), static_cast<long long>(images.rows()), src.source.c_str(), o.layers.c_str(),
      o.network.c_str(), static_cast<long long>(nv), static_cast<long long>(conditions.cols()),
      o.kind == "DeCNN" ? 0 : o.latent_size, o.epochs);
  if (o.kind != "DeCNN") options.latent_size = o.latent_size;
  options.epochs = o.epochs;
  options.margin = o.margin;
  options.seed = o.seed;
  const absl::Time start = absl::Now();
  options.on_epoch = [&](const core::IcgEpoch& e) {
    std::printf("  epoch %3d: reconstruction %.2f, KL real %.2f, KL fake %.2f (%.0f s)\n", e.epoch,
                e.reconstruction, e.kl_real, e.kl_fake, absl::ToDoubleSeconds(absl::Now() - start));
    std::fflush(stdout);
  };
  ASSIGN_OR_RETURN(auto trainer, core::IcgTrainer::Create(images, conditions, ds.image, options));
  RETURN_IF_ERROR(trainer->Train());
  std::unique_ptr<core::IcgGenerator> generator = trainer->Finish();

  // The upper bound: the test stimuli from their true features.
  const Eigen::MatrixXf test = ds.test.stimuli.cast<float>();
  ASSIGN_OR_RETURN(const Eigen::MatrixXf test_units,
                   net->ExtractConcatenated(test, ds.image, layers));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf rec, generator->Generate(test_units));
  ASSIGN_OR_RETURN(const core::ImageScores scores,
                   core::ScoreReconstructions(rec.cast<double>(), ds.test.stimuli, ds.image));
  ASSIGN_OR_RETURN(
      const core::ImageScores base,
      core::ScoreReconstructions(core::MeanImageBaseline(ds.train.stimuli, test.rows()),
                                 ds.test.stimuli, ds.image));
  std::printf(
      "%s test stimuli from their true %s units: PCC %.3f ± %.3f, SSIM %.3f, "
      "identification %.3f (mean training image: PCC %.3f, identification %.3f)\n",
      ds.name.c_str(), o.layers.c_str(), scores.pcc, scores.pcc_sd, scores.ssim,
      scores.identification_pcc, base.pcc, base.identification_pcc);

  const std::string condition = core::GeneratorCondition(absl::StrCat(o.network, "/", nv), layers);
  ASSIGN_OR_RETURN(GeneratorsTrainResult r,
                   StoreGenerator(o, name, *generator, condition, scores, {test, rec}, ds.image,
                                  "test stimuli above their reconstructions"));
  r.mean_pcc = base.pcc;
  r.mean_identification = base.identification_pcc;
  return r;
}

namespace {

// The digit69 generator table's title, method text and column heads.
std::string Table3Header(const GeneratorsEvaluateOptions& o, int64_t network_version) {
  return absl::StrCat(
      "# digit69: generators from CNN features, in the style of Du et al. (2020) Table 3\n\n",
      "Written by `", o.command, "`. Condition: ", o.layers, " of ", o.network, "/",
      network_version,
      ". Generators trained on unpaired images only (digit69 X_prior + MNIST 6s and 9s). "
      "**True**: from the features of the 10 test stimuli (the generator's upper bound). "
      "**Decoded**: from features decoded from the 10 test betas, fitted on the 90 training "
      "trials, by ridge (alpha 1e3, z-scored voxels) or SMR (lambda1 30, 10 iterations, the 500 "
      "voxels most correlated with the features: examples/digit69_features_smr.pbtxt). "
      "PCC and SSIM-11g are mean ± sd over the test images; the ratio is decoded / true; "
      "identification is 2-way by PCC, from decoded features. Reconstructions use z = 0 (the "
      "prior mean).\n\n",
      "| generator | decoder | PCC true | SSIM true | PCC decoded | SSIM decoded | PCC ratio | "
      "SSIM ratio | identification |\n|---|---|---|---|---|---|---|---|---|\n");
}

// The table's reference rows (ridge to pixels, the mean training image)
// and the note on the contact sheets.
void AppendReferenceRows(const core::ImageScores& ridge, const core::ImageScores& mean,
                         std::string* md) {
  auto pm = [](double m, double sd) { return absl::StrFormat("%.3f ± %.3f", m, sd); };
  absl::StrAppend(md, "| ridge betas → pixels (reference) | — | — | — | ",
                  pm(ridge.pcc, ridge.pcc_sd), " | ", pm(ridge.ssim, ridge.ssim_sd), " | — | — | ",
                  absl::StrFormat("%.3f", ridge.identification_pcc), " |\n");
  absl::StrAppend(md, "| mean training image | — | — | — | ", pm(mean.pcc, mean.pcc_sd), " | ",
                  pm(mean.ssim, mean.ssim_sd), " | — | — | ",
                  absl::StrFormat("%.3f", mean.identification_pcc), " |\n");
  absl::StrAppend(md,
                  "\nContact sheets `<kind>_sheet.png`: stimuli, then reconstructions from "
                  "true features, from ridge-decoded and from SMR-decoded features.\n");
}

// The stored digit69_<kind> generator when it was trained on the same
// condition (network version and layers), else one trained now.
absl::StatusOr<std::unique_ptr<core::IcgGenerator>> StoredOrTrainedGenerator(
    const GeneratorsEvaluateOptions& o, const std::string& kind, int64_t network_version,
    const std::vector<std::string>& layers) {
  const std::string name = absl::StrCat("digit69_", kind);
  ASSIGN_OR_RETURN(auto gens, core::OpenGeneratorRepository(o.repo, true));
  const std::string expected =
      core::GeneratorCondition(absl::StrCat(o.network, "/", network_version), layers);
  auto version = gens->ResolveVersion(name, 0);
  if (version.ok()) {
    auto condition =
        core::ReadFile(gens->VersionDir(name, *version) + "/" + core::kGeneratorConditionFile);
    if (condition.ok() && *condition == expected) {
      ASSIGN_OR_RETURN(const std::string dir, gens->VerifiedVersionDir(name, *version));
      ASSIGN_OR_RETURN(auto stored, core::IcgGenerator::Load(dir));
      std::printf("%s: using stored version %lld\n", name.c_str(),
                  static_cast<long long>(*version));
      return stored;
    }
  }
  GeneratorsTrainOptions t;
  t.repo = o.repo;
  t.kind = kind;
  t.network = o.network;
  t.layers = o.layers;
  t.data_root = o.data_root;
  t.epochs = o.epochs;
  ASSIGN_OR_RETURN(const GeneratorsTrainResult r, RunGeneratorsTrain(t));
  return core::IcgGenerator::Load(r.dir);
}

// The feature sets of the evaluation: training stimuli's, test stimuli's
// (true) and decoded from the test betas by ridge and by SMR.
struct UnitSets {
  const Eigen::MatrixXf* train;
  const Eigen::MatrixXf* truth;
  const Eigen::MatrixXf* decoded;
  const Eigen::MatrixXf* smr;
};
using AddRows = std::function<absl::Status(
    const std::string& label, const core::Generator& g, const Eigen::MatrixXf& truth,
    const Eigen::MatrixXf& ridge_h, const Eigen::MatrixXf& smr_h, const std::string& sheet)>;

// ICG on the best decodable units only (Du et al. condition on the top
// 5,000 AlexNet units): ranked by held-out PCC over 5 folds of the
// training trials, trained here on the same unpaired images.
absl::Status AddTopUnitRows(const GeneratorsEvaluateOptions& o, const core::Dataset& ds,
                            core::FeatureNetwork& net, const std::vector<std::string>& layers,
                            const core::RidgeDecoder::Options& ro, const UnitSets& units,
                            const AddRows& add_rows) {
  core::FoldDecoder fold = [&](const Eigen::MatrixXd& xtr, const Eigen::MatrixXd& htr,
                               const Eigen::MatrixXd& xte) -> absl::StatusOr<Eigen::MatrixXd> {
    ASSIGN_OR_RETURN(auto d, core::RidgeDecoder::Fit(xtr, htr, ro));
    Eigen::MatrixXf z = xte.cast<float>();
    d->Standardize(&z);
    return Eigen::MatrixXd(d->Decode(z).cast<double>());
  };
  ASSIGN_OR_RETURN(const Eigen::VectorXd decodability,
                   core::UnitDecodability(ds.train.betas, units.train->cast<double>(), fold, {}));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf images, Digit69PriorImages(o.data_root));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf all_h, net.ExtractConcatenated(images, layers));
  for (int k : o.top_k) {
    const std::vector<int> top = core::TopDecodableUnits(decodability, k);
    auto pick = [&](const Eigen::MatrixXf& m) {
      Eigen::MatrixXf out(m.rows(), static_cast<Eigen::Index>(top.size()));
      for (size_t j = 0; j < top.size(); ++j) out.col(j) = m.col(top[j]);
      return out;
    };
    ASSIGN_OR_RETURN(core::IcgOptions io, core::IcgOptions::Preset("ICG"));
    io.epochs = o.epochs;
    std::printf("training ICG on the top %d decodable units (%d epochs)\n", k, o.epochs);
    std::fflush(stdout);
    ASSIGN_OR_RETURN(auto trainer, core::IcgTrainer::Create(images, pick(all_h), {28, 28, 1}, io));
    RETURN_IF_ERROR(trainer->Train());
    const std::unique_ptr<core::IcgGenerator> g = trainer->Finish();
    RETURN_IF_ERROR(add_rows(absl::StrCat("ICG, top ", top.size(), " units"), *g,
                             pick(*units.truth), pick(*units.decoded), pick(*units.smr), ""));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunGeneratorsEvaluate(const GeneratorsEvaluateOptions& o) {
  if (o.out_dir.empty()) return absl::InvalidArgumentError("generators evaluate needs --out");
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  ASSIGN_OR_RETURN(auto nets, core::OpenFeatureNetworkRepository(o.repo, false));
  ASSIGN_OR_RETURN(const int64_t nv, nets->ResolveVersion(o.network, 0));
  ASSIGN_OR_RETURN(const std::string net_dir, nets->VerifiedVersionDir(o.network, nv));
  ASSIGN_OR_RETURN(auto net, core::FeatureNetwork::Load(net_dir));
  const std::vector<std::string> layers = absl::StrSplit(o.layers, ',', absl::SkipEmpty());
  ASSIGN_OR_RETURN(const core::Dataset ds,
                   core::LoadDataset(core::Digit69DatasetOptions(o.data_root)));
  const Eigen::MatrixXf test = ds.test.stimuli.cast<float>();
  ASSIGN_OR_RETURN(const Eigen::MatrixXf true_units, net->ExtractConcatenated(test, layers));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf train_units,
                   net->ExtractConcatenated(ds.train.stimuli.cast<float>(), layers));
  core::RidgeDecoder::Options ro;
  ro.regression.alpha = 1000;
  auto decode = [&](const Eigen::MatrixXd& targets) -> absl::StatusOr<Eigen::MatrixXf> {
    ASSIGN_OR_RETURN(auto d, core::RidgeDecoder::Fit(ds.train.betas, targets, ro));
    Eigen::MatrixXf z = ds.test.betas.cast<float>();
    d->Standardize(&z);
    return d->Decode(z);
  };
  ASSIGN_OR_RETURN(const Eigen::MatrixXf decoded_units, decode(train_units.cast<double>()));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf smr_units, DecodeWithSmr(o, ds, layers));
  ASSIGN_OR_RETURN(Eigen::MatrixXf ridge_pixels, decode(ds.train.stimuli));
  ridge_pixels = ridge_pixels.cwiseMax(0.0f).cwiseMin(1.0f);
  auto score = [&](const Eigen::MatrixXf& rec) {
    return core::ScoreReconstructions(rec.cast<double>(), ds.test.stimuli, ds.image);
  };
  ASSIGN_OR_RETURN(const core::ImageScores ridge, score(ridge_pixels));
  ASSIGN_OR_RETURN(
      const core::ImageScores mean,
      core::ScoreReconstructions(core::MeanImageBaseline(ds.train.stimuli, test.rows()),
                                 ds.test.stimuli, ds.image));
  auto pm = [](double m, double sd) { return absl::StrFormat("%.3f ± %.3f", m, sd); };
  std::string md = Table3Header(o, nv);
  auto add_rows = [&](const std::string& label, const core::Generator& g,
                      const Eigen::MatrixXf& truth, const Eigen::MatrixXf& ridge_h,
                      const Eigen::MatrixXf& smr_h, const std::string& sheet) -> absl::Status {
    ASSIGN_OR_RETURN(const Eigen::MatrixXf from_true, g.Generate(truth));
    ASSIGN_OR_RETURN(const core::ImageScores t, score(from_true));
    std::vector<Eigen::MatrixXf> rows = {test, from_true};
    for (const auto& [decoder, h] :
         {std::pair<std::string, const Eigen::MatrixXf*>{"ridge", &ridge_h}, {"SMR", &smr_h}}) {
      ASSIGN_OR_RETURN(const Eigen::MatrixXf from_decoded, g.Generate(*h));
      ASSIGN_OR_RETURN(const core::ImageScores d, score(from_decoded));
      absl::StrAppend(&md, "| ", label, " | ", decoder, " | ", pm(t.pcc, t.pcc_sd), " | ",
                      pm(t.ssim, t.ssim_sd), " | ", pm(d.pcc, d.pcc_sd), " | ",
                      pm(d.ssim, d.ssim_sd), " | ", absl::StrFormat("%.2f", d.pcc / t.pcc), " | ",
                      absl::StrFormat("%.2f", d.ssim / t.ssim), " | ",
                      absl::StrFormat("%.3f", d.identification_pcc), " |\n");
      rows.push_back(from_decoded);
    }
    if (sheet.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(const std::string png, core::ContactSheetPng(rows, ds.image));
    return core::WriteFile(absl::StrCat(o.out_dir, "/", sheet), png);
  };
  for (absl::string_view kind_view : absl::StrSplit(o.kinds, ',', absl::SkipEmpty())) {
    const std::string kind(kind_view);
    ASSIGN_OR_RETURN(const std::unique_ptr<core::IcgGenerator> g,
                     StoredOrTrainedGenerator(o, kind, nv, layers));
    RETURN_IF_ERROR(
        add_rows(kind, *g, true_units, decoded_units, smr_units, absl::StrCat(kind, "_sheet.png")));
  }
  if (!o.top_k.empty())
    RETURN_IF_ERROR(AddTopUnitRows(o, ds, *net, layers, ro,
                                   {&train_units, &true_units, &decoded_units, &smr_units},
                                   add_rows));
  AppendReferenceRows(ridge, mean, &md);
  RETURN_IF_ERROR(core::WriteFile(o.out_dir + "/digit69_table3.md", md));
  std::printf("\n%s\nwrote %s/digit69_table3.md and the contact sheets\n", md.c_str(),
              o.out_dir.c_str());
  return absl::OkStatus();
}

}  // namespace v2p::client
