#include "experiments/feature_commands.h"

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/base/files.h"
#include "core/base/machine.h"
#include "core/base/status_macros.h"
#include "core/data/dataset.h"
#include "core/data/image_corpus.h"
#include "core/decoding/smr.h"
#include "core/features/feature_network.h"
#include "core/pipeline/decoder_comparison.h"
#include "core/pipeline/model_repository.h"
#include "workers/spec_files.h"

namespace v2p::client {

namespace {

// Held-out accuracy per corpus source and overall, printed and kept in the
// network's notes with what it was trained on.
absl::Status RecordAccuracy(const FeaturesTrainOptions& options, const core::FeatureCorpus& corpus,
                            core::FeatureNetwork& network, FeaturesTrainResult* result) {
  std::printf("held-out accuracy:\n");
  for (const auto& s : corpus.sources) {
    ASSIGN_OR_RETURN(const double acc, network.Accuracy(corpus.test, s.first_class, s.end_class));
    std::printf("  %-14s %6.2f%%  (%d images)\n", s.name.c_str(), 100 * acc, s.num_test);
    network.notes()[absl::StrCat("test_accuracy.", s.name)] = absl::StrFormat("%.4f", acc);
    if (s.name == "mnist") result->mnist_accuracy = acc;
  }
  ASSIGN_OR_RETURN(result->overall_accuracy, network.Accuracy(corpus.test));
  std::printf("  %-14s %6.2f%%  (%d images)\n", "all", 100 * result->overall_accuracy,
              corpus.test.size());
  network.notes()["test_accuracy.all"] = absl::StrFormat("%.4f", result->overall_accuracy);
  network.notes()["epochs"] = absl::StrCat(options.epochs);
  network.notes()["seed"] = absl::StrCat(options.seed);
  network.notes()["trained_on"] = absl::StrJoin(
      corpus.sources, ",", [](std::string* out, const core::FeatureCorpus::Source& s) {
        absl::StrAppend(out, s.name, "(", s.num_train, ")");
      });
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FeaturesTrainResult> RunFeaturesTrain(const FeaturesTrainOptions& options) {
  RETURN_IF_ERROR(core::ValidateModelName(options.name));
  ASSIGN_OR_RETURN(auto repo, core::OpenFeatureNetworkRepository(options.repo, /*create=*/true));
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(core::FeatureCorpus corpus,
                   core::LoadFeatureCorpus(options.data_root, options.fashion_dir, 28,
                                           options.max_fashion_train));
  std::printf("corpus: %d training and %d held-out images, %d classes\n", corpus.train.size(),
              corpus.test.size(), corpus.train.num_classes);
  for (const auto& s : corpus.sources)
    std::printf("  %-14s classes %2d-%2d  train %6d  held out %6d\n", s.name.c_str(), s.first_class,
                s.end_class - 1, s.num_train, s.num_test);
  if (corpus.sources.size() < 4)
    std::printf(
        "  (Fashion-MNIST %s)\n",
        options.fashion_dir.empty()
            ? "left out"
            : ("not found in " + options.fashion_dir + ": install dataset-fashion-mnist").c_str());

  core::FeatureNetworkTrainOptions train;
  train.epochs = options.epochs;
  train.seed = options.seed;
  train.progress_every = 100;
  train.on_progress = [&](int epoch, int64_t batch, int64_t batches, double loss) {
    std::printf("  epoch %d/%d  batch %5lld/%lld  loss %.4f  (%.0f s)\n", epoch + 1, options.epochs,
                static_cast<long long>(batch), static_cast<long long>(batches), loss,
                absl::ToDoubleSeconds(absl::Now() - start));
    std::fflush(stdout);
  };
  ASSIGN_OR_RETURN(auto network, core::FeatureNetwork::Train(corpus.train, train));

  FeaturesTrainResult result;
  RETURN_IF_ERROR(RecordAccuracy(options, corpus, *network, &result));

  // Statistics over a spread of training images (every k-th).
  const int stride = std::max(
      1, corpus.train.size() /
             std::max(1, options.statistics_images * static_cast<int>(corpus.sources.size())));
  Eigen::MatrixXf sample((corpus.train.size() + stride - 1) / stride, corpus.train.images.cols());
  for (int i = 0, r = 0; i < corpus.train.size(); i += stride, ++r)
    sample.row(r) = corpus.train.images.row(i);
  RETURN_IF_ERROR(network->ComputeStatistics(sample));

  ASSIGN_OR_RETURN(result.version, repo->CommitVersion(options.name, [&](const std::string& dir) {
    return network->Save(dir);
  }));
  result.dir = repo->VersionDir(options.name, result.version);
  std::printf("layers:");
  for (const auto& l : network->layers())
    std::printf(" %s[%s]", l.name.c_str(), absl::StrJoin(l.shape, "x").c_str());
  std::printf("\nsaved feature network %s version %lld in %s (%.0f s)\n", options.name.c_str(),
              static_cast<long long>(result.version), result.dir.c_str(),
              absl::ToDoubleSeconds(absl::Now() - start));
  return result;
}

absl::Status RunFeaturesShow(const std::string& repo_root, const std::string& name) {
  ASSIGN_OR_RETURN(auto repo, core::OpenFeatureNetworkRepository(repo_root, false));
  if (name.empty()) {
    for (const auto& n : repo->ListModels()) {
      ASSIGN_OR_RETURN(auto versions, repo->ListVersions(n));
      std::printf("%s  versions %s\n", n.c_str(), absl::StrJoin(versions, ",").c_str());
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const int64_t version, repo->ResolveVersion(name, 0));
  ASSIGN_OR_RETURN(const std::string dir, repo->VerifiedVersionDir(name, version));
  ASSIGN_OR_RETURN(auto network, core::FeatureNetwork::Load(dir));
  std::printf("%s version %lld: %s, input %dx%dx%d, %zu classes\n", name.c_str(),
              static_cast<long long>(version), network->architecture().c_str(),
              network->input_shape().height, network->input_shape().width,
              network->input_shape().channels, network->class_names().size());
  for (const auto& l : network->layers()) {
    const auto* s = network->statistics(l.name);
    std::printf("  %-6s %-10s %7lld units", l.name.c_str(), absl::StrJoin(l.shape, "x").c_str(),
                static_cast<long long>(l.size));
    if (s != nullptr) std::printf("  mean norm %.3f (sd %.3f)", s->norm_mean, s->norm_sd);
    if (s != nullptr && s->has_psi)
      std::printf("  Shen psi %.4f (sd %.4f)", s->psi_mean, s->psi_sd);
    std::printf("\n");
  }
  for (const auto& [k, v] : network->notes()) std::printf("  %s: %s\n", k.c_str(), v.c_str());
  return absl::OkStatus();
}

namespace {

// The comparison as a Markdown table with everything needed to read it:
// the command, machine, targets, folds, penalty grids, names and caveats.
std::string CompareTableMarkdown(const FeaturesCompareOptions& o,
                                 const core::DecoderComparisonOptions& c,
                                 const std::vector<core::DecoderComparisonRow>& rows,
                                 const std::string& dataset_name, int64_t version, Eigen::Index n,
                                 Eigen::Index k, double minutes) {
  std::string md = absl::StrCat(
      "# ", dataset_name, ": feature-decoding NMSE, in the style of Du et al. (2020) Table 2\n\n",
      "Written by `", o.command, "` on ",
      absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone()), " (", core::CpuModelName(),
      ", ", std::thread::hardware_concurrency(), " hardware threads; ",
      absl::StrFormat("%.1f", minutes), " min).\n\n", "- Targets: ", o.layers,
      " of the project's feature network ", o.network, "/", version, " (", k,
      " units), computed from the ", n, " ", dataset_name,
      " stimuli (training and test trials pooled).\n", "- ", c.folds,
      " outer folds (trials shuffled with seed ", c.seed,
      "); each decoder is fitted on the other folds and scored on the held-out one. "
      "NMSE = sum of squared errors / sum of squared deviations from the fitted trials' mean, "
      "over held-out trials and units; mean ± sd (n − 1) over folds.\n",
      "- Penalties by ", c.inner_folds, "-fold CV inside each outer training set: ridge alpha in {",
      absl::StrJoin(c.ridge_alphas, ", "), "}, SMR lambda1 in {",
      absl::StrJoin(c.lambda1_grid, ", "),
      "} (lambda = 1e-3, as the paper). A sparse variant (graphical lasso, the diagonal "
      "penalised too) reuses the lambda1 its non-sparse counterpart chose in that fold and "
      "chooses its l1 weights separately by ",
      c.l1_inner_folds,
      "-fold inner CV (each graphical-lasso fit costs seconds), as the paper does: lambda2 (on "
      "Ω⁻¹) in {",
      absl::StrJoin(c.l1_grid, ", "),
      "} with lambda3 at the middle value, then "
      "lambda3 (on Σr⁻¹ and Σc⁻¹) in the same set with that lambda2; a weight on a precision "
      "the variant fixes to I is 0. Its penalties read lambda1 / lambda2 / lambda3.\n",
      "- SMR and the second ridge row use the ", c.n_voxels,
      " voxels most correlated with the units in the fitted trials; SMR runs ", c.max_iterations,
      " alternating iterations. As in Du et al., the letters after SMR- name the precisions "
      "that are learned (O: output noise Ω⁻¹, I: input/voxels Σr⁻¹, T: tasks/units Σc⁻¹); the "
      "others are fixed to I, and SMR learns all three.\n",
      "- Ω⁻¹ (", k, " × ", k,
      ") is estimated from in-sample residuals of the fitted trials "
      "(about ",
      n * (c.folds - 1) / c.folds * (c.inner_folds - 1) / c.inner_folds, " per inner fit, ",
      n * (c.folds - 1) / c.folds, " per outer fit) with ", c.n_voxels,
      " voxels, more voxels than "
      "trials: the residuals are smaller than held-out ones and R'R has rank at most the "
      "trial count, so the paper's closed form (R'R/N)⁻¹ does not exist. Ours adds an "
      "inverse-Wishart term, Ω⁻¹ = ((R'R + g I)/N)⁻¹ with g = 0.1 × the ridge start's mean "
      "residual variance (core/decoding/smr.h), which keeps it finite but cannot undo the "
      "in-sample shrinkage.\n",
      "- Outer folds run ", std::min<int>(c.folds, std::thread::hardware_concurrency()),
      " at a time; fit time is summed over folds (CV included).\n\n",
      "| decoder | NMSE (mean ± sd) | per fold | penalties per fold | fit time (s) |\n",
      "|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    std::vector<std::string> folds, pens;
    for (double v : r.nmse) folds.push_back(absl::StrFormat("%.3f", v));
    for (const core::ChosenPenalties& p : r.penalty) pens.push_back(p.ToString());
    absl::StrAppend(&md, "| ", r.decoder, " | ", absl::StrFormat("%.3f ± %.3f", r.mean(), r.sd()),
                    " | ", absl::StrJoin(folds, " "), " | ", absl::StrJoin(pens, ", "), " | ",
                    absl::StrFormat("%.0f", r.seconds), " |\n");
  }
  return md;
}

}  // namespace

absl::Status RunFeaturesCompare(const FeaturesCompareOptions& o) {
  ASSIGN_OR_RETURN(const auto description, worker::ReadDatasetDescription(o.dataset));
  ASSIGN_OR_RETURN(
      const core::DatasetOptions dataset_options,
      worker::ToDatasetOptions(description, worker::DescriptionDataRoot(o.dataset, o.data_root)));
  ASSIGN_OR_RETURN(const core::Dataset dataset, core::LoadDataset(dataset_options));
  ASSIGN_OR_RETURN(auto nets, core::OpenFeatureNetworkRepository(o.repo, false));
  ASSIGN_OR_RETURN(const int64_t version, nets->ResolveVersion(o.network, 0));
  ASSIGN_OR_RETURN(const std::string net_dir, nets->VerifiedVersionDir(o.network, version));
  ASSIGN_OR_RETURN(auto network, core::FeatureNetwork::Load(net_dir));
  const std::vector<std::string> layers = absl::StrSplit(o.layers, ',', absl::SkipEmpty());
  if (layers.empty()) return absl::InvalidArgumentError("features compare needs --layers");

  // Every trial with a stimulus: the train and test splits pooled.
  const core::DatasetSplit& tr = dataset.train;
  const core::DatasetSplit& te = dataset.test;
  const bool with_test = te.stimuli.rows() == te.betas.rows() && te.betas.rows() > 0;
  const Eigen::Index n = tr.betas.rows() + (with_test ? te.betas.rows() : 0);
  Eigen::MatrixXd x(n, tr.betas.cols()), stimuli(n, tr.stimuli.cols());
  x.topRows(tr.betas.rows()) = tr.betas;
  stimuli.topRows(tr.betas.rows()) = tr.stimuli;
  if (with_test) {
    x.bottomRows(te.betas.rows()) = te.betas;
    stimuli.bottomRows(te.betas.rows()) = te.stimuli;
  }
  ASSIGN_OR_RETURN(const Eigen::MatrixXf units,
                   network->ExtractConcatenated(stimuli.cast<float>(), layers));
  const Eigen::MatrixXd h = units.cast<double>();
  const Eigen::Index k = h.cols();

  core::DecoderComparisonOptions c;
  c.folds = o.folds;
  c.seed = o.seed;
  c.n_voxels = o.n_voxels;
  c.max_iterations = o.iterations;
  c.threads = 0;  // outer folds on every hardware thread
  if (o.variants.empty()) {
    for (const auto& v : core::SmrOptions::VariantNames()) c.variants.push_back(v);
    for (const auto& v : core::SmrOptions::VariantNames()) c.variants.push_back("sparse-" + v);
  } else {
    c.variants = absl::StrSplit(o.variants, ',', absl::SkipEmpty());
  }
  std::printf(
      "comparing %zu decoders on %s: %lld trials x %lld voxels -> %s of %s/%lld "
      "(%lld units), %d folds\n",
      c.variants.size() + 2, dataset.name.c_str(), static_cast<long long>(n),
      static_cast<long long>(x.cols()), o.layers.c_str(), o.network.c_str(),
      static_cast<long long>(version), static_cast<long long>(k), c.folds);
  c.on_fold = [](const std::string& name, int fold, double nmse, const core::ChosenPenalties& p) {
    std::printf("  %-28s fold %d: NMSE %.4f (penalty %s)\n", name.c_str(), fold + 1, nmse,
                p.ToString().c_str());
    std::fflush(stdout);
  };
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(const auto rows, core::CompareFeatureDecoders(x, h, c));
  const double minutes = absl::ToDoubleMinutes(absl::Now() - start);

  const std::string md = CompareTableMarkdown(o, c, rows, dataset.name, version, n, k, minutes);
  std::printf("\n%s", md.c_str());
  if (!o.out.empty()) {
    RETURN_IF_ERROR(core::WriteFile(o.out, md));
    std::printf("\nwrote %s\n", o.out.c_str());
  }
  return absl::OkStatus();
}

}  // namespace v2p::client
