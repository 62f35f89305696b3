// Fitting steps several methods share: a ridge decoder fitted in
// checkpointed steps (its alpha optionally chosen by cross-validation), SMR
// on the best-correlated voxels, a stored feature network's layer targets,
// and progress for a generator's epochs.
#ifndef V2P_CORE_METHODS_FITTING_H_
#define V2P_CORE_METHODS_FITTING_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/decoding/ridge_cv.h"
#include "core/decoding/ridge_decoder.h"
#include "core/decoding/smr.h"
#include "core/features/feature_network.h"
#include "core/pipeline/method.h"

namespace v2p::core {

struct RidgeFitOptions {
  RidgeDecoder::Options ridge;
  // Choose ridge.regression.alpha by alpha_cv.folds-fold CV on the fitted
  // trials from alpha_cv.grid (ridge_cv.h), recorded as hyperparameter
  // "ridge.alpha".
  bool choose_alpha = false;
  RidgeCvOptions alpha_cv;
};

// "ridge(alpha=1000, n_feat=all" plus ", z-scored voxels" etc. when
// with_preprocessing; the caller closes the parenthesis.
std::string RidgeText(const RidgeFitOptions& o, bool with_preprocessing);

// The ridge fit in checkpointed steps (hooks.checkpoint_dir), one progress
// step each; when o->choose_alpha, alpha is chosen first (one progress step
// per CV fit), written into *o and appended to *chosen.
absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitRidge(const DatasetSplit& fit,
                                                       const Eigen::MatrixXd& targets,
                                                       RidgeFitOptions* o, const TrainHooks& hooks,
                                                       std::vector<Hyperparameter>* chosen);

struct SmrFitOptions {
  SmrOptions smr;
  std::string variant = "SMR";
  int voxels = 0;  // the n voxels most correlated with the targets (0: all)
};

// SMR (Du et al. 2020) on the voxels most correlated with the targets; the
// other voxels get weight 0. One progress step per outer iteration.
absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitSmr(const DatasetSplit& fit,
                                                     const Eigen::MatrixXd& targets,
                                                     const SmrFitOptions& o,
                                                     const TrainHooks& hooks);

// A network of <root>/feature_networks (version 0 = latest) checked against
// the dataset's channels, with the named layers' shapes.
struct StoredFeatureNetwork {
  std::unique_ptr<FeatureNetwork> network;
  std::string dir;  // its version directory
  std::string id;   // "name/version"
  std::vector<ModelManifest::FeatureLayer> layers;
};
absl::StatusOr<StoredFeatureNetwork> LoadStoredFeatureNetwork(
    const std::string& root, const std::string& name, int64_t version, const Dataset& dataset,
    const std::vector<std::string>& layers);

// Every layer of a stored network, input to output.
absl::StatusOr<std::vector<std::string>> StoredFeatureNetworkLayers(const std::string& root,
                                                                    const std::string& name,
                                                                    int64_t version);

// Features of `layers` for each stimulus row (images of `shape`, resized to
// the network's input), concatenated in order.
absl::StatusOr<Eigen::MatrixXd> LayerTargets(const FeatureNetwork& network,
                                             const Eigen::MatrixXd& stimuli, ImageShape shape,
                                             const std::vector<std::string>& layers);

// Reports the start of the kTrainingGenerator phase (at `resumed_from`
// epochs, those a checkpoint holds) and returns the per-epoch reporter
// (epoch, loss) for the generator's on_epoch.
std::function<void(int, double)> GeneratorProgress(const TrainHooks& hooks, int epochs,
                                                   int resumed_from = 0);

// Copies a directory tree (a stored network or generator) into a model
// version; INTERNAL naming `what` on failure.
absl::Status CopyTree(const std::string& from, const std::string& to, const std::string& what);

// Reads 1 x k float64 indices written by WriteIndices; DATA_LOSS unless it
// holds `expected` of them.
absl::StatusOr<std::vector<int>> ReadIndices(const std::string& path, int64_t expected);
absl::Status WriteIndices(const std::string& path, const std::vector<int>& indices);

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_FITTING_H_
