// Trains a pipeline on a dataset's train split, scores it on a held-out
// split (and the mean-image reference), and commits it as a new model
// version. One code path for the local `v2p train` and the worker's
// long-running jobs: the hooks add progress, cancellation, checkpoints and
// a last check before committing.
#ifndef V2P_CORE_PIPELINE_TRAINER_H_
#define V2P_CORE_PIPELINE_TRAINER_H_

#include <cstdint>
#include <functional>
#include <map>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/decoding/ridge_cv.h"
#include "core/decoding/ridge_decoder.h"
#include "core/decoding/smr.h"
#include "core/generation/gan.h"
#include "core/generation/icg.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/model_repository.h"

namespace v2p::core {

// Plain options converted from a PipelineSpec at the process edge.
struct PipelineOptions {
  enum class Generator { kIdentity };
  // kGanLatent (HYPER): decode the latent of the stored GAN generator_name
  // (the stimuli's latents found by inverting it) and draw its image.
  // kDand (Güçlütürk et al. 2017): whitened principal components of
  // feature_layers, decoded by MAP; a paired GAN trained in the job draws
  // the image (dand_* below).
  enum class Target { kPixels, kFeatures, kGanLatent, kDand };
  enum class Decoder { kRidge, kSmr };

  Target target = Target::kPixels;
  // Features target: a network in <repo>/feature_networks (version 0 =
  // latest) and the layers to decode, in output order.
  std::string feature_network;
  int64_t feature_network_version = 0;
  std::vector<std::string> feature_layers;
  // Per-unit decodability by k-fold CV on the fitted trials (features
  // target only; < 2 skips it) and how many of the best units to keep
  // (0: all, ranked).
  int decodability_folds = 5;
  int top_k_units = 0;
  // Features target: a generator in <repo>/generators (version 0 = latest)
  // turns the decoded features into an image; empty = features only.
  std::string generator_name;
  int64_t generator_version = 0;
  // Features target: train a generator in the job instead (ICG or a
  // baseline, generator_training.kind) on the dataset's unpaired images
  // and, unless excluded, the fitted trials' stimuli. Conditioned on the
  // generator_top_k best decodable units (0: every decoded unit).
  // DAND: components kept (explained variance), ridge term of the MAP
  // decoder's least squares, the paired GAN's training.
  double dand_explained_variance = 0.9;
  // Pixels target, when > 0: decode the principal components of the fitted
  // stimuli that explain this fraction of their variance, and serve the
  // ridge map composed with their inverse (the eigenface baseline).
  double pixel_components_variance = 0;
  double dand_ridge = 1.0;
  GanOptions dand_generator;
  bool train_generator = false;
  IcgOptions generator_training;
  // kGanLatent: train the GAN in the job (on GeneratorTrainingImages of the
  // fitted trials) instead of loading generator_name.
  bool train_gan = false;
  GanOptions gan_training;
  int generator_top_k = 0;
  bool generator_uses_training_stimuli = true;

  Decoder decoder = Decoder::kRidge;
  RidgeDecoder::Options ridge;
  // Ridge decoders: choose ridge.regression.alpha by alpha_cv.folds-fold
  // CV on the fitted trials from alpha_cv.grid (ridge_cv.h), recorded in
  // the manifest as hyperparameter "ridge.alpha".
  bool choose_alpha = false;
  RidgeCvOptions alpha_cv;
  SmrOptions smr;
  std::string smr_variant = "SMR";
  // SMR on the n voxels most correlated with the targets (0: all).
  int smr_voxels = 0;
  Generator generator = Generator::kIdentity;
  bool clip_output = true;
  std::string note;  // free text from the spec
};

struct TrainRequest {
  std::string model_name;
  PipelineOptions pipeline;
  // The spec as the user wrote it, stored verbatim with the model.
  std::string spec_text;
  // Fraction in [0, 0.5] of the training trials held out (chosen by
  // `seed`) to score the model; 0 scores it on the test split.
  double validation_split = 0;
  uint64_t seed = 0;
};

struct TrainingProgress {
  // kTrainingGenerator: step/total_steps count the generator's epochs.
  enum class Phase { kFitting, kTrainingGenerator, kEvaluating, kSaving };
  Phase phase = Phase::kFitting;
  int64_t step = 0;  // steps completed
  int64_t total_steps = 0;
  double loss = 0;  // objective of the last step
  int64_t resumed_from_step = 0;
};

struct TrainHooks {
  std::function<void(const TrainingProgress&)> on_progress;
  // Checked between steps; true stops training with CANCELLED.
  std::function<bool()> is_cancelled;
  // When set, each finished step is saved here and steps found here are
  // not fitted again (resumption after a lost worker).
  std::string checkpoint_dir;
  // Last word before the model is committed (e.g. "do I still hold the
  // job's lease?"); an error aborts without committing.
  std::function<absl::Status()> before_commit;
};

// One line naming the stages and their settings.
std::string DescribePipeline(const PipelineOptions& options, ImageShape image);

// Returns the committed manifest (with its new version). INVALID_ARGUMENT
// for a bad name, split or a dataset the pipeline cannot use; CANCELLED
// when hooks.is_cancelled fired (nothing is committed).
absl::StatusOr<ModelManifest> TrainModel(const Dataset& dataset,
                                         const TrainRequest& request,
                                         ModelRepository& repository,
                                         const TrainHooks& hooks = {});

// Feature-decoding scores: per layer the mean over samples of the Pearson
// correlation between decoded and true feature vectors ("feature_pcc.L")
// and the NMSE, sum ||pred - true||^2 / sum ||true - train mean||^2
// ("nmse.L"), and 2-way identification by that correlation
// ("identification.L"); "feature_pcc" averages the layers, "nmse" pools
// them.
std::map<std::string, double> ScoreFeatures(
    const Eigen::MatrixXd& predicted, const Eigen::MatrixXd& truth,
    const Eigen::RowVectorXd& train_mean,
    const std::vector<ModelManifest::FeatureLayer>& layers);

// Indices (ascending) of the n voxels with the largest mean squared
// correlation with the targets; all voxels when n <= 0 or n >= D.
std::vector<int> SelectVoxelsByCorrelation(const Eigen::MatrixXd& x,
                                           const Eigen::MatrixXd& h, int n);

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
void SplitForValidation(const DatasetSplit& train, double fraction,
                        uint64_t seed, DatasetSplit* fit,
                        DatasetSplit* validation);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_TRAINER_H_
