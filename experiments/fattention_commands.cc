#include "experiments/fattention_commands.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/data/regions.h"
#include "core/evaluation/contact_sheet.h"
#include "core/evaluation/report.h"
#include "core/methods/fattention/fattention_method.h"
#include "core/methods/pixels/pixels_method.h"
#include "experiments/evaluation_support.h"

namespace v2p::client {
namespace {

struct Variant {
  std::string name;
  core::MethodParameters parameters;  // over the network and seed
};

std::vector<Variant> Variants() {
  return {{"full (0.7 A.F + 0.3 F, loop, unpaired)", {}},
          {"no attention (lambda 0, mu 1)", {{"lambda", "0"}, {"mu", "1"}}},
          {"no loop loss", {{"loop_weight", "0"}}},
          {"neither", {{"lambda", "0"}, {"mu", "1"}, {"loop_weight", "0"}}}};
}

struct Row {
  std::string name;
  core::ImageScores scores;
  double attention_iou = NAN, attention_pcc = NAN;
  Eigen::MatrixXf images;
};

absl::StatusOr<core::TrainRequest> Request(const FAttentionEvaluateOptions& o, const Variant& v) {
  core::MethodParameters p = v.parameters;
  p["network"] = o.network;
  p["seed"] = absl::StrCat(o.seed);
  core::TrainRequest r;
  r.model_name = "fattention";
  ASSIGN_OR_RETURN(r.method, core::FAttentionMethod::Create(p));
  return r;
}

core::TrainRequest RidgeRequest() {
  core::PixelsOptions pixels;
  pixels.ridge.ridge = {{1e3, 0, 0}, true};
  core::TrainRequest r;
  r.model_name = "ridge";
  r.method = std::make_shared<core::PixelsMethod>(pixels);
  return r;
}

// Trains `request` on `d` in a scratch repository and scores its test split.
absl::StatusOr<Row> TrainAndScore(const FAttentionEvaluateOptions& o, const core::Dataset& d,
                                  const core::TrainRequest& request, const std::string& name,
                                  const std::string& tag) {
  ASSIGN_OR_RETURN(auto scratch, ScratchRepository::Create(o.repo, tag));
  ASSIGN_OR_RETURN(auto pipeline, scratch->Train(d, request));
  ASSIGN_OR_RETURN(const PipelineOutputs out, RunPipeline(*pipeline, d.test.betas));
  Row row;
  row.name = name;
  row.images = out.images;
  ASSIGN_OR_RETURN(row.scores, core::ScoreReconstructions(out.images.cast<double>(), d.test.stimuli,
                                                          d.image, d.test.labels));
  const auto& metrics = pipeline->manifest().evaluation.metrics;
  if (metrics.count("attention_iou")) row.attention_iou = metrics.at("attention_iou");
  if (metrics.count("attention_pcc")) row.attention_pcc = metrics.at("attention_pcc");
  return row;
}

std::string Cell(double v) { return std::isnan(v) ? "—" : absl::StrFormat("%.3f", v); }

std::string SplitTable(const std::vector<Row>& rows) {
  std::string md =
      "| method | PCC | SSIM-11g | identification (PCC) | identification (SSIM, pairwise) | "
      "attention IoU | attention PCC |\n|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    absl::StrAppend(&md, "| ", r.name, " | ", Cell(r.scores.pcc), " | ", Cell(r.scores.ssim), " | ",
                    Cell(r.scores.identification_pcc), " | ", Cell(r.scores.identification_ssim),
                    " | ", Cell(r.attention_iou), " | ", Cell(r.attention_pcc), " |\n");
  }
  return md;
}

// The 90/10 split: four variants, ridge and the mean image, and the sheet.
absl::StatusOr<std::string> SplitSection(const FAttentionEvaluateOptions& o,
                                         const core::Dataset& d) {
  std::vector<Row> rows;
  core::Stopwatch watch;
  for (const Variant& v : Variants()) {
    ASSIGN_OR_RETURN(const core::TrainRequest r, Request(o, v));
    ASSIGN_OR_RETURN(Row row, TrainAndScore(o, d, r, v.name, absl::StrCat("fa-", getpid())));
    std::printf("%s: PCC %.3f, SSIM-11g %.3f, identification %.3f / %.3f (%.0f s)\n",
                v.name.c_str(), row.scores.pcc, row.scores.ssim, row.scores.identification_pcc,
                row.scores.identification_ssim, absl::ToDoubleSeconds(watch.Elapsed()));
    std::fflush(stdout);
    rows.push_back(std::move(row));
  }
  ASSIGN_OR_RETURN(Row ridge, TrainAndScore(o, d, RidgeRequest(), "ridge to pixels (alpha 1e3)",
                                            absl::StrCat("fa-ridge-", getpid())));
  rows.push_back(std::move(ridge));
  Row mean;
  mean.name = "mean training image";
  mean.images = core::MeanImageBaseline(d.train.stimuli, d.test.betas.rows()).cast<float>();
  ASSIGN_OR_RETURN(mean.scores,
                   core::ScoreReconstructions(mean.images.cast<double>(), d.test.stimuli, d.image));
  rows.push_back(std::move(mean));
  std::vector<Eigen::MatrixXf> sheet = {d.test.stimuli.cast<float>()};
  for (const Row& r : rows) sheet.push_back(r.images);
  ASSIGN_OR_RETURN(const std::string png, core::ContactSheetPng(sheet, d.image));
  RETURN_IF_ERROR(core::WriteFile(o.out_dir + "/fattention_digit69.png", png));
  return absl::StrCat(
      "## digit69, the standard 90/10 split (10 test images)\n\n", SplitTable(rows),
      "\nContact sheet `fattention_digit69.png`: the test stimuli, then one row per method in "
      "the table's order.\n");
}

std::pair<double, double> MeanSd(const std::vector<double>& v) {
  double mean = 0, ss = 0;
  for (double x : v) mean += x / v.size();
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, v.size() > 1 ? std::sqrt(ss / (v.size() - 1)) : 0.0};
}

// k-fold cross-validation of the four variants over all trials of `all`.
absl::StatusOr<std::string> CvSection(const FAttentionEvaluateOptions& o,
                                      const core::Dataset& all) {
  const std::vector<int> fold = core::ContiguousFolds(all.train, o.folds);
  const auto n = static_cast<int>(all.train.betas.rows());
  std::map<std::string, std::map<std::string, std::vector<double>>> by_variant;
  core::Stopwatch watch;
  for (int k = 0; k < o.folds; ++k) {
    std::vector<Eigen::Index> train_rows, test_rows;
    for (int i = 0; i < n; ++i) (fold[i] == k ? test_rows : train_rows).push_back(i);
    core::Dataset d = all;
    d.train = core::SplitRows(all.train, train_rows);
    d.test = core::SplitRows(all.train, test_rows);
    for (const Variant& v : Variants()) {
      ASSIGN_OR_RETURN(const core::TrainRequest r, Request(o, v));
      ASSIGN_OR_RETURN(const Row row,
                       TrainAndScore(o, d, r, v.name, absl::StrCat("fa-cv-", getpid(), "-", k)));
      auto& s = by_variant[v.name];
      s["pcc"].push_back(row.scores.pcc);
      s["ssim"].push_back(row.scores.ssim);
      s["id_pcc"].push_back(row.scores.identification_pcc);
      s["id_ssim"].push_back(row.scores.identification_ssim);
      s["iou"].push_back(row.attention_iou);
      std::printf("fold %d/%d, %s: PCC %.3f, SSIM-11g %.3f, identification (SSIM) %.3f (%.0f s)\n",
                  k + 1, o.folds, v.name.c_str(), row.scores.pcc, row.scores.ssim,
                  row.scores.identification_ssim, absl::ToDoubleSeconds(watch.Elapsed()));
      std::fflush(stdout);
    }
  }
  std::string md = absl::StrCat(
      "## ", o.folds, "-fold cross-validation over all ", n, " trials of 69dataset2.mat\n\n",
      "Folds are contiguous blocks within each digit; mean ± SD over folds.\n\n",
      "| method | PCC | SSIM-11g | identification (PCC) | identification (SSIM, pairwise) | "
      "attention IoU |\n|---|---|---|---|---|---|\n");
  for (const Variant& v : Variants()) {
    absl::StrAppend(&md, "| ", v.name);
    for (const char* key : {"pcc", "ssim", "id_pcc", "id_ssim", "iou"}) {
      const auto [mean, sd] = MeanSd(by_variant[v.name][key]);
      absl::StrAppendFormat(&md, " | %.3f ± %.3f", mean, sd);
    }
    absl::StrAppend(&md, " |\n");
  }
  return md;
}

// The dataset with only `columns` of its betas.
core::Dataset WithColumns(const core::Dataset& d, const std::vector<int>& columns) {
  core::Dataset out = d;
  const Eigen::VectorXi idx = Eigen::Map<const Eigen::VectorXi>(columns.data(), columns.size());
  out.train.betas = d.train.betas(Eigen::all, idx);
  out.test.betas = d.test.betas(Eigen::all, idx);
  return out;
}

// The region study: the full method and ridge from V1's voxels only and
// from V2-V3's only (the masks that ship with 69dataset2.mat).
absl::StatusOr<std::string> RegionSection(const FAttentionEvaluateOptions& o,
                                          const core::Dataset& d) {
  ASSIGN_OR_RETURN(const auto regions, core::ReadRegionsOfInterest(
                                           o.data_root + "/digit69/69dataset2.mat",
                                           "region_of_interest_label", "region_of_interest_mask"));
  if (regions.empty() || static_cast<int>(regions[0].columns.size()) != d.train.betas.cols())
    return absl::FailedPreconditionError(
        "69dataset2.mat's primary region is not the betas' voxels");
  std::string md =
      "## Region study (90/10 split): V1 voxels only against V2-V3 only\n\n"
      "| voxels | count | method | PCC | SSIM-11g | identification (PCC) | "
      "identification (SSIM, pairwise) | attention IoU |\n|---|---|---|---|---|---|---|---|\n";
  const std::vector<std::pair<std::string, std::vector<std::string>>> sets = {
      {"V1", {"V1"}}, {"V2-V3", {"V2", "V3"}}};
  for (const auto& [label, parts] : sets) {
    const std::vector<int> columns = core::RegionColumns(regions, parts);
    const core::Dataset sub = WithColumns(d, columns);
    ASSIGN_OR_RETURN(const core::TrainRequest full, Request(o, Variants()[0]));
    for (const auto& [name, request] :
         {std::pair<std::string, core::TrainRequest>{"F-attention (full)", full},
          {"ridge to pixels", RidgeRequest()}}) {
      ASSIGN_OR_RETURN(const Row r,
                       TrainAndScore(o, sub, request, name, absl::StrCat("fa-roi-", getpid())));
      absl::StrAppend(&md, "| ", label, " | ", columns.size(), " | ", name, " | ",
                      Cell(r.scores.pcc), " | ", Cell(r.scores.ssim), " | ",
                      Cell(r.scores.identification_pcc), " | ", Cell(r.scores.identification_ssim),
                      " | ", Cell(r.attention_iou), " |\n");
      std::printf("%s (%zu voxels), %s: PCC %.3f, SSIM-11g %.3f, identification (SSIM) %.3f\n",
                  label.c_str(), columns.size(), name.c_str(), r.scores.pcc, r.scores.ssim,
                  r.scores.identification_ssim);
      std::fflush(stdout);
    }
  }
  return absl::StrCat(md,
                      "\nThe betas' columns are taken as the primary mask's voxels in MATLAB's "
                      "column-major order (core/data/regions.h).\n");
}

core::DatasetOptions AllTrials(const std::string& data_root) {
  core::DatasetOptions o;
  o.name = "digit69 (all 100 trials)";
  o.file = data_root + "/digit69/69dataset2.mat";
  o.train = {"Y", "X", "stimulus_label"};
  o.image = {28, 28, 1};
  o.layout = core::ImageLayout::kColumnMajor;
  o.pixel_max = 255;
  o.unpaired_images = "X_prior";
  o.test_trials.ranges = {{100, 100}};  // a test split is required; pooled back below
  return o;
}

}  // namespace

absl::Status RunFAttentionEvaluate(const FAttentionEvaluateOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  core::DatasetOptions split = core::Digit69DatasetOptions(o.data_root);
  ASSIGN_OR_RETURN(core::Dataset d, core::LoadDataset(split));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf prior, Digit69XPrior(o.data_root));
  d.unpaired = prior.cast<double>();
  const std::string header = absl::StrCat(
      "Produced by `", o.command, "` (feature network ", o.network, ", seed ", o.seed,
      "); unpaired images: X_prior (2000 sixes and nines never shown in the scanner). "
      "Identification is 2-way; the SSIM one compares each reconstruction with its own and "
      "another test stimulus by SSIM-11g, as the paper's pairwise-SSIM identification.\n\n");
  // Each section its own file, so that sections can be run apart.
  std::string md;
  auto section = [&](const std::string& file, const std::string& title,
                     const std::string& body) -> absl::Status {
    absl::StrAppend(&md, body, "\n");
    return core::WriteFile(o.out_dir + "/" + file, absl::StrCat("# ", title, "\n\n", header, body));
  };
  if (absl::StrContains(o.sections, "split")) {
    ASSIGN_OR_RETURN(const std::string split_md, SplitSection(o, d));
    RETURN_IF_ERROR(section("fattention_tables.md",
                            "Foreground attention with Loop-Enc-Dec on digit69", split_md));
  }
  if (absl::StrContains(o.sections, "cv") && o.folds > 0) {
    ASSIGN_OR_RETURN(core::Dataset all, core::LoadDataset(AllTrials(o.data_root)));
    all.train = core::ConcatenateSplits(all.train, all.test);
    all.test = core::DatasetSplit();
    ASSIGN_OR_RETURN(const std::string cv_md, CvSection(o, all));
    RETURN_IF_ERROR(
        section("fattention_cv.md", "Foreground attention: cross-validated ablations", cv_md));
  }
  if (absl::StrContains(o.sections, "regions")) {
    ASSIGN_OR_RETURN(const std::string region_md, RegionSection(o, d));
    RETURN_IF_ERROR(
        section("fattention_regions.md", "Foreground attention: the region study", region_md));
  }
  std::printf(
      "\n%s\nwrote under %s: fattention_tables.md (+ fattention_digit69.png), "
      "fattention_cv.md, fattention_regions.md (as the sections asked)\n",
      md.c_str(), o.out_dir.c_str());
  return absl::OkStatus();
}

}  // namespace v2p::client
