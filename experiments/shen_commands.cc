#include "experiments/shen_commands.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/base/files.h"
#include "core/base/machine.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/evaluation/contact_sheet.h"
#include "core/evaluation/report.h"
#include "core/generation/icg.h"
#include "core/methods/fitting.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/methods/shen/shen_method.h"
#include "experiments/evaluation_support.h"

namespace v2p::client {
namespace {

struct Row {
  std::string features;  // "true", "decoded" or "—"
  std::string method;
  std::string file;  // the contact sheet, under sheets/
  core::ImageScores scores;
};

struct Variant {
  const char* name;
  core::InversionOptimizer optimizer;
  double tv_weight;
};

constexpr Variant kVariants[] = {
    {"pixels, L-BFGS", core::InversionOptimizer::kLbfgs, 0},
    {"pixels, GD", core::InversionOptimizer::kGradientDescent, 0},
    {"Grad-TV (GD, TV 0.005)", core::InversionOptimizer::kGradientDescent, 0.005},
};
constexpr Variant kPriorVariants[] = {
    {"DGN prior, L-BFGS", core::InversionOptimizer::kLbfgs, 0},
    {"DGN prior, GD", core::InversionOptimizer::kGradientDescent, 0},
};

// The generator of the deep-generator-network rows: a DeCNN from fc6 to
// images, trained here on digit69's unpaired images (X_prior and MNIST's
// sixes and nines, never the stimuli), and the range and mean of its
// conditions.
struct PriorGenerator {
  std::unique_ptr<core::IcgGenerator> generator;
  core::GeneratorPrior prior;
};

absl::StatusOr<PriorGenerator> TrainPriorGenerator(const core::FeatureNetwork& net,
                                                   const core::Dataset& ds,
                                                   const ShenEvaluateOptions& o) {
  ASSIGN_OR_RETURN(const Eigen::MatrixXf images, Digit69PriorImages(o.data_root));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf conditions,
                   net.ExtractConcatenated(images, ds.image, {"fc6"}));
  ASSIGN_OR_RETURN(core::IcgOptions io, core::IcgOptions::Preset("DeCNN"));
  io.epochs = o.prior_epochs;
  std::printf("training the DGN prior: DeCNN fc6 -> image, %lld images, %d epochs\n",
              static_cast<long long>(images.rows()), io.epochs);
  std::fflush(stdout);
  ASSIGN_OR_RETURN(auto trainer, core::IcgTrainer::Create(images, conditions, ds.image, io));
  RETURN_IF_ERROR(trainer->Train());
  PriorGenerator p;
  p.generator = trainer->Finish();
  p.prior.generator = p.generator.get();
  p.prior.low = conditions.colwise().minCoeff();
  p.prior.high = conditions.colwise().maxCoeff();
  p.prior.start = conditions.colwise().mean();
  return p;
}

// The columns of `all` (concatenated layers) that belong to `layers`.
core::LayerFeatures Select(const core::LayerFeatures& all, const std::vector<std::string>& layers) {
  core::LayerFeatures out;
  for (const auto& l : layers) out[l] = all.at(l);
  return out;
}

class Evaluation {
 public:
  Evaluation(const ShenEvaluateOptions& o, const core::Dataset& ds) : o_(o), ds_(ds) {
    std::filesystem::create_directories(o.out_dir + "/sheets");
  }

  // Scores `images` and writes their sheet below the stimuli.
  absl::Status Add(const std::string& features, const std::string& method,
                   const Eigen::MatrixXf& images) {
    Row r{features, method, absl::StrCat("sheets/row", rows_.size() + 1, ".png"), {}};
    ASSIGN_OR_RETURN(
        r.scores, core::ScoreReconstructions(images.cast<double>(), ds_.test.stimuli, ds_.image));
    ASSIGN_OR_RETURN(const std::string png,
                     core::ContactSheetPng({ds_.test.stimuli.cast<float>(), images}, ds_.image));
    RETURN_IF_ERROR(core::WriteFile(o_.out_dir + "/" + r.file, png));
    std::printf("%-8s %-62s PCC %.3f SSIM %.3f identification %.3f / %.3f\n", features.c_str(),
                method.c_str(), r.scores.pcc, r.scores.ssim, r.scores.identification_pcc,
                r.scores.identification_ssim);
    std::fflush(stdout);
    rows_.push_back(std::move(r));
    return absl::OkStatus();
  }

  // Every layer set and variant on `targets` (norm correction as given),
  // the pixel variants and, with a prior, the generator's.
  absl::Status Invert(const core::FeatureNetwork& net, const core::LayerFeatures& targets,
                      const std::string& features, const std::string& note,
                      const core::GeneratorPrior* prior) {
    std::vector<Variant> variants(std::begin(kVariants), std::end(kVariants));
    if (prior != nullptr)
      variants.insert(variants.end(), std::begin(kPriorVariants), std::end(kPriorVariants));
    for (const auto& [set_name, layers] : LayerSets()) {
      for (const Variant& v : variants) {
        core::InversionOptions io;
        io.optimizer = v.optimizer;
        io.tv_weight = v.tv_weight;
        io.iterations = o_.iterations;
        io.start_value = static_cast<float>(ds_.train.stimuli.mean());
        if (absl::StartsWith(v.name, "DGN")) io.prior = prior;
        ASSIGN_OR_RETURN(const core::InversionResult r,
                         core::InvertFeatures(net, Select(targets, layers), ds_.image, io));
        RETURN_IF_ERROR(Add(features, absl::StrCat(v.name, "; ", set_name, note), r.images));
      }
    }
    return absl::OkStatus();
  }

  void SetLayers(std::vector<std::string> all) { all_ = std::move(all); }
  std::vector<std::pair<std::string, std::vector<std::string>>> LayerSets() const {
    return {{"conv1", {"conv1"}},
            {"conv1-conv3", {"conv1", "conv2", "conv3"}},
            {absl::StrCat("all (", all_.front(), "-", all_.back(), ")"), all_}};
  }

  std::string Table() const {
    std::string t =
        "| features | method | PCC | SSIM-11g | identification (PCC) | identification (SSIM) | "
        "sheet |\n|---|---|---|---|---|---|---|\n";
    for (const Row& r : rows_)
      absl::StrAppend(&t, "| ", r.features, " | ", r.method, " | ",
                      absl::StrFormat("%.3f ± %.3f | %.3f ± %.3f | %.3f | %.3f", r.scores.pcc,
                                      r.scores.pcc_sd, r.scores.ssim, r.scores.ssim_sd,
                                      r.scores.identification_pcc, r.scores.identification_ssim),
                      " | [", r.file, "](", r.file, ") |\n");
    return t;
  }

 private:
  const ShenEvaluateOptions& o_;
  const core::Dataset& ds_;
  std::vector<std::string> all_;
  std::vector<Row> rows_;
};

// Ridge to pixels (the README's pipeline) and the mean training image.
absl::Status AddBaselines(Evaluation* e, ScratchRepository* scratch, const core::Dataset& ds) {
  core::TrainRequest req;
  req.model_name = "ridge";
  core::PixelsOptions pixels;
  pixels.ridge.ridge.regression.alpha = 1000;
  req.method = std::make_shared<core::PixelsMethod>(pixels);
  ASSIGN_OR_RETURN(const auto pipeline, scratch->Train(ds, req));
  ASSIGN_OR_RETURN(const PipelineOutputs out, RunPipeline(*pipeline, ds.test.betas));
  RETURN_IF_ERROR(e->Add("—", "ridge to pixels (alpha 1000, z-scored voxels)", out.images));
  const Eigen::RowVectorXf mean = ds.train.stimuli.colwise().mean().cast<float>();
  return e->Add("—", "mean training image", mean.replicate(ds.test.stimuli.rows(), 1));
}

// The served model: its images, and its decoded features by layer.
absl::StatusOr<core::LayerFeatures> TrainServed(
    Evaluation* e, ScratchRepository* scratch, const core::Dataset& ds,
    const ShenEvaluateOptions& o, const std::vector<core::ModelManifest::FeatureLayer>& layers) {
  core::TrainRequest req;
  req.model_name = "shen";
  core::ShenOptions so;
  so.network = o.network;
  so.inversion.iterations = o.iterations;
  req.method = std::make_shared<core::ShenMethod>(so);
  ASSIGN_OR_RETURN(const auto pipeline, scratch->Train(ds, req));
  ASSIGN_OR_RETURN(const PipelineOutputs out, RunPipeline(*pipeline, ds.test.betas));
  RETURN_IF_ERROR(
      e->Add("decoded", "served model (pixels, L-BFGS; all; norm-corrected)", out.images));
  core::LayerFeatures decoded;
  Eigen::Index at = 0;
  for (const auto& l : layers) {
    decoded[l.name] = out.features.middleCols(at, l.size);
    at += l.size;
  }
  return decoded;
}

}  // namespace

absl::Status RunShenEvaluate(const ShenEvaluateOptions& o) {
  core::Stopwatch watch;
  ASSIGN_OR_RETURN(const core::Dataset ds,
                   core::LoadDataset(core::Digit69DatasetOptions(o.data_root)));
  ASSIGN_OR_RETURN(std::vector<std::string> all,
                   core::StoredFeatureNetworkLayers(o.repo, o.network, 0));
  all.pop_back();  // the class scores
  ASSIGN_OR_RETURN(const core::StoredFeatureNetwork net,
                   core::LoadStoredFeatureNetwork(o.repo, o.network, 0, ds, all));
  Evaluation e(o, ds);
  e.SetLayers(all);
  ASSIGN_OR_RETURN(auto scratch, ScratchRepository::Create(o.repo, "shen-evaluate"));
  RETURN_IF_ERROR(AddBaselines(&e, scratch.get(), ds));
  ASSIGN_OR_RETURN(const core::LayerFeatures truth,
                   net.network->Extract(ds.test.stimuli.cast<float>(), all));
  ASSIGN_OR_RETURN(const PriorGenerator dgn, TrainPriorGenerator(*net.network, ds, o));
  RETURN_IF_ERROR(e.Invert(*net.network, truth, "true", "", &dgn.prior));
  ASSIGN_OR_RETURN(const core::LayerFeatures decoded,
                   TrainServed(&e, scratch.get(), ds, o, net.layers));
  core::LayerFeatures corrected;
  for (const auto& l : net.layers)
    corrected[l.name] = core::CorrectFeatureNorm(decoded.at(l.name), l.shape,
                                                 net.network->statistics(l.name)->psi_mean);
  RETURN_IF_ERROR(e.Invert(*net.network, corrected, "decoded", "; norm-corrected", &dgn.prior));
  RETURN_IF_ERROR(e.Invert(*net.network, decoded, "decoded", "; no norm correction", &dgn.prior));
  const std::string text = absl::StrCat(
      "# Deep image reconstruction (Shen et al. 2019) on digit69\n\nWritten by `", o.command,
      "` in ", static_cast<int>(absl::ToDoubleSeconds(watch.Elapsed())), " s on ",
      core::CpuModelName(), ". Feature network ", net.id, "; ", o.iterations,
      " iterations per image from a uniform image at the training stimuli's mean pixel. The "
      "10 test trials of the 90/10 split; mean ± SD over them; identification is 2-way, by "
      "pixel PCC and by SSIM-11g. TRUE rows invert the features of the test stimuli themselves; "
      "DECODED rows the features the served `shen` model decodes from the test betas (FastL2LiR "
      "ridge, alpha 100, the 500 voxels most correlated with each unit, z-scored voxels), with "
      "and without norm correction (each layer's psi set to its corpus mean). Each sheet shows "
      "the stimuli above the reconstructions.\n\n",
      e.Table(),
      "\nHYPER (GAN latent), from docs/results/gan/gan_tables.md (`v2p-lab gan evaluate`, not "
      "re-run here): PCC 0.764 ± 0.051, SSIM-11g 0.561 ± 0.101, identification 1.000 (PCC).\n\n"
      "DGN prior rows optimise the condition of a DeCNN generator (fc6 -> image, ",
      o.prior_epochs,
      " epochs on X_prior and MNIST's sixes and nines, never the stimuli), clamped to the range "
      "its training conditions took, from their mean; the image is the generator's.\n");
  RETURN_IF_ERROR(core::WriteFile(o.out_dir + "/shen_tables.md", text));
  std::printf("wrote %s/shen_tables.md\n", o.out_dir.c_str());
  return absl::OkStatus();
}

}  // namespace v2p::client
