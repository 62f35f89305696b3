// `v2p features ...`: train our AlexNet-style feature network on the
// shipped corpora and store it in the model repository; list and describe
// stored networks. Library functions so that tests run what the CLI runs.
#ifndef V2P_EXPERIMENTS_FEATURE_COMMANDS_H_
#define V2P_EXPERIMENTS_FEATURE_COMMANDS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace v2p::client {

struct FeaturesTrainOptions {
  std::string repo;  // model repository (created when missing)
  std::string name = "alexnet28";
  std::string data_root = "../shared/data";
  std::string fashion_dir = "/usr/share/datasets/fashion-mnist";
  int epochs = 6;
  // Fashion-MNIST training images used (of 60,000); 0 = all.
  int max_fashion_train = 20000;
  // Images per source used for the per-layer statistics.
  int statistics_images = 4000;
  uint64_t seed = 1;
};

struct FeaturesTrainResult {
  int64_t version = 0;
  std::string dir;
  double mnist_accuracy = 0;  // on the held-out MNIST images
  double overall_accuracy = 0;
};

// Prints per-source held-out accuracy and the stored location.
absl::StatusOr<FeaturesTrainResult> RunFeaturesTrain(const FeaturesTrainOptions& options);

struct FeaturesCompareOptions {
  std::string repo;  // holds the feature network
  std::string network = "alexnet28";
  std::string layers = "fc6";  // comma-separated
  std::string dataset;         // dataset description (.pbtxt)
  std::string data_root = "../shared/data";
  std::string out;      // Markdown table written here
  std::string command;  // as typed, recorded in the file
  int folds = 5;
  int n_voxels = 200;
  int iterations = 10;
  // Comma-separated SMR variants; empty: all seven, then their sparse forms.
  std::string variants;
  uint64_t seed = 0;
};

// Du et al. (2020) Table 2 for a dataset's trials (train and test pooled):
// NMSE mean +/- sd over outer folds for ridge and every SMR variant,
// sparse and non-sparse, decoding `layers` of a stored network; penalties
// by inner CV (core/pipeline/decoder_comparison.h). Prints each fold as
// it finishes and writes the table to `out`.
absl::Status RunFeaturesCompare(const FeaturesCompareOptions& options);

// Lists stored networks, or describes one (layers, shapes, accuracies).
absl::Status RunFeaturesShow(const std::string& repo, const std::string& name);

}  // namespace v2p::client

#endif  // V2P_EXPERIMENTS_FEATURE_COMMANDS_H_
