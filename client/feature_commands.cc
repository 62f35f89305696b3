#include "client/feature_commands.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/base/status_macros.h"
#include "core/data/image_corpus.h"
#include "core/features/feature_network.h"
#include "core/pipeline/model_repository.h"

namespace v2p::client {

absl::StatusOr<FeaturesTrainResult> RunFeaturesTrain(
    const FeaturesTrainOptions& options) {
  RETURN_IF_ERROR(core::ValidateModelName(options.name));
  ASSIGN_OR_RETURN(auto repo, core::OpenFeatureNetworkRepository(
                                  options.repo, /*create=*/true));
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(core::FeatureCorpus corpus,
                   core::LoadFeatureCorpus(options.data_root,
                                           options.fashion_dir, 28,
                                           options.max_fashion_train));
  std::printf("corpus: %d training and %d held-out images, %d classes\n",
              corpus.train.size(), corpus.test.size(),
              corpus.train.num_classes);
  for (const auto& s : corpus.sources)
    std::printf("  %-14s classes %2d-%2d  train %6d  held out %6d\n",
                s.name.c_str(), s.first_class, s.end_class - 1, s.num_train,
                s.num_test);
  if (corpus.sources.size() < 4)
    std::printf("  (Fashion-MNIST %s)\n",
                options.fashion_dir.empty()
                    ? "left out"
                    : ("not found in " + options.fashion_dir +
                       ": install dataset-fashion-mnist").c_str());

  core::FeatureNetworkTrainOptions train;
  train.epochs = options.epochs;
  train.seed = options.seed;
  train.progress_every = 100;
  train.on_progress = [&](int epoch, int64_t batch, int64_t batches,
                          double loss) {
    std::printf("  epoch %d/%d  batch %5lld/%lld  loss %.4f  (%.0f s)\n",
                epoch + 1, options.epochs, static_cast<long long>(batch),
                static_cast<long long>(batches), loss,
                absl::ToDoubleSeconds(absl::Now() - start));
    std::fflush(stdout);
  };
  ASSIGN_OR_RETURN(auto network,
                   core::FeatureNetwork::Train(corpus.train, train));

  FeaturesTrainResult result;
  std::printf("held-out accuracy:\n");
  for (const auto& s : corpus.sources) {
    ASSIGN_OR_RETURN(const double acc, network->Accuracy(corpus.test,
                                                         s.first_class,
                                                         s.end_class));
    std::printf("  %-14s %6.2f%%  (%d images)\n", s.name.c_str(), 100 * acc,
                s.num_test);
    network->notes()[absl::StrCat("test_accuracy.", s.name)] =
        absl::StrFormat("%.4f", acc);
    if (s.name == "mnist") result.mnist_accuracy = acc;
  }
  ASSIGN_OR_RETURN(result.overall_accuracy, network->Accuracy(corpus.test));
  std::printf("  %-14s %6.2f%%  (%d images)\n", "all", 100 * result.overall_accuracy,
              corpus.test.size());
  network->notes()["test_accuracy.all"] =
      absl::StrFormat("%.4f", result.overall_accuracy);
  network->notes()["epochs"] = absl::StrCat(options.epochs);
  network->notes()["seed"] = absl::StrCat(options.seed);
  network->notes()["trained_on"] = absl::StrJoin(
      corpus.sources, ",",
      [](std::string* out, const core::FeatureCorpus::Source& s) {
        absl::StrAppend(out, s.name, "(", s.num_train, ")");
      });

  // Statistics over a spread of training images (every k-th).
  const int stride = std::max(
      1, corpus.train.size() /
             std::max(1, options.statistics_images *
                             static_cast<int>(corpus.sources.size())));
  Eigen::MatrixXf sample(
      (corpus.train.size() + stride - 1) / stride, corpus.train.images.cols());
  for (int i = 0, r = 0; i < corpus.train.size(); i += stride, ++r)
    sample.row(r) = corpus.train.images.row(i);
  RETURN_IF_ERROR(network->ComputeStatistics(sample));

  ASSIGN_OR_RETURN(result.version,
                   repo->CommitVersion(options.name, [&](const std::string& dir) {
                     return network->Save(dir);
                   }));
  result.dir = repo->VersionDir(options.name, result.version);
  std::printf("layers:");
  for (const auto& l : network->layers())
    std::printf(" %s[%s]", l.name.c_str(), absl::StrJoin(l.shape, "x").c_str());
  std::printf("\nsaved feature network %s version %lld in %s (%.0f s)\n",
              options.name.c_str(), static_cast<long long>(result.version),
              result.dir.c_str(), absl::ToDoubleSeconds(absl::Now() - start));
  return result;
}

absl::Status RunFeaturesShow(const std::string& repo_root,
                             const std::string& name) {
  ASSIGN_OR_RETURN(auto repo,
                   core::OpenFeatureNetworkRepository(repo_root, false));
  if (name.empty()) {
    for (const auto& n : repo->ListModels()) {
      ASSIGN_OR_RETURN(auto versions, repo->ListVersions(n));
      std::printf("%s  versions %s\n", n.c_str(),
                  absl::StrJoin(versions, ",").c_str());
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const int64_t version, repo->ResolveVersion(name, 0));
  ASSIGN_OR_RETURN(auto network,
                   core::FeatureNetwork::Load(repo->VersionDir(name, version)));
  std::printf("%s version %lld: %s, input %dx%dx%d, %zu classes\n",
              name.c_str(), static_cast<long long>(version),
              network->architecture().c_str(), network->input_shape().height,
              network->input_shape().width, network->input_shape().channels,
              network->class_names().size());
  for (const auto& l : network->layers()) {
    const auto* s = network->statistics(l.name);
    std::printf("  %-6s %-10s %7lld units", l.name.c_str(),
                absl::StrJoin(l.shape, "x").c_str(),
                static_cast<long long>(l.size));
    if (s != nullptr) std::printf("  mean norm %.3f (sd %.3f)", s->norm_mean, s->norm_sd);
    std::printf("\n");
  }
  for (const auto& [k, v] : network->notes())
    std::printf("  %s: %s\n", k.c_str(), v.c_str());
  return absl::OkStatus();
}

}  // namespace v2p::client
