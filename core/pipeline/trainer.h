// Trains a method on a dataset's train split, scores it on a held-out
// split (and the mean-image reference), and commits it as a new model
// version. One code path for every method, for the local `v2p train` and
// for the worker's long-running jobs: the hooks add progress,
// cancellation, checkpoints and a last check before committing.
#ifndef V2P_CORE_PIPELINE_TRAINER_H_
#define V2P_CORE_PIPELINE_TRAINER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/method.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/train_hooks.h"

namespace v2p::core {

struct TrainRequest {
  std::string model_name;
  // What to fit (core/methods; built from a spec at the process edge).
  std::shared_ptr<const Method> method;
  // Served images clipped to [0, 1].
  bool clip_output = true;
  std::string note;  // free text from the spec, appended to the description
  // The spec as the user wrote it, stored verbatim with the model.
  std::string spec_text;
  // Fraction in [0, 0.5] of the training trials held out (chosen by
  // `seed`) to score the model; 0 scores it on the test split.
  double validation_split = 0;
  uint64_t seed = 0;
};

// One line naming the stages and their settings (the manifest's
// description): the method's, or `fitted` (its description after the fit)
// when given, with clipping and the spec's note.
std::string DescribeTraining(const TrainRequest& request, ImageShape image,
                             const std::string& fitted = "");

// Fits request.method, scores the fitted pipeline on the held-out split
// through the same Run() the worker serves (images against the mean
// training image; decoded features or latents against their truth), and
// commits the method's files with the manifest, the spec and the mean
// image. Returns the committed manifest (with its new version).
// INVALID_ARGUMENT for a bad name, split or a dataset the method cannot
// use; CANCELLED when hooks.is_cancelled fired (nothing is committed).
absl::StatusOr<ModelManifest> TrainModel(const Dataset& dataset, const TrainRequest& request,
                                         ModelRepository& repository, const TrainHooks& hooks = {});

// Feature-decoding scores: per layer the mean over samples of the Pearson
// correlation between decoded and true feature vectors ("feature_pcc.L")
// and the NMSE, sum ||pred - true||^2 / sum ||true - train mean||^2
// ("nmse.L"), and 2-way identification by that correlation
// ("identification.L"); "feature_pcc" averages the layers, "nmse" pools
// them.
std::map<std::string, double> ScoreFeatures(const Eigen::MatrixXd& predicted,
                                            const Eigen::MatrixXd& truth,
                                            const Eigen::RowVectorXd& train_mean,
                                            const std::vector<ModelManifest::FeatureLayer>& layers);

// Indices (ascending) of the n voxels with the largest mean squared
// correlation with the targets; all voxels when n <= 0 or n >= D.
std::vector<int> SelectVoxelsByCorrelation(const Eigen::MatrixXd& x, const Eigen::MatrixXd& h,
                                           int n);

// A generator's training images (rows of pixels in [0, 1]) and where they
// came from, in words: the dataset's unpaired images plus, with with_fit,
// the fitted trials' stimuli; for a dataset without unpaired images, the
// fitted stimuli shifted by 0 or +-max(1, side / 14) pixels each way (and
// mirrored when the dataset is mirror_symmetric). INVALID_ARGUMENT, saying
// what the dataset has, below min_images.
struct GeneratorImages {
  Eigen::MatrixXf images;
  std::string source;
};
absl::StatusOr<GeneratorImages> GeneratorTrainingImages(const Dataset& dataset,
                                                        const DatasetSplit& fit, bool with_fit,
                                                        int min_images);

// The fold (0..k-1) of each trial for k-fold cross-validation: within each
// label (all trials alike when there are no labels), the trials in stored
// order are cut into k contiguous blocks, so that every fold holds each
// class in proportion and trials close in time stay together.
std::vector<int> ContiguousFolds(const DatasetSplit& trials, int k);

// Splits `train` into (fit, validation) with `fraction` of the trials in
// validation, chosen by a Fisher-Yates shuffle seeded with `seed`
// (std::mt19937_64, fully specified, so the same on every platform).
void SplitForValidation(const DatasetSplit& train, double fraction, uint64_t seed,
                        DatasetSplit* fit, DatasetSplit* validation);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_TRAINER_H_
