// A reconstruction method: what it fits on a dataset's trials, the stages
// it serves, and the files it keeps in a model version. TrainModel()
// (trainer.h) runs any method the same way: Fit, then the shared
// evaluation through the served Pipeline, then the shared commit; loading a
// version for serving goes through the method's StageLoader, found by the
// name recorded in the manifest (core/methods/registry.h). A method is one
// folder under core/methods/ and one registration line.
#ifndef V2P_CORE_PIPELINE_METHOD_H_
#define V2P_CORE_PIPELINE_METHOD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/decoding/decoder.h"
#include "core/generation/generator.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/refiner.h"
#include "core/pipeline/train_hooks.h"

namespace v2p::core {

// The stages a Pipeline runs: betas -> decoder -> (generator) ->
// (refiner) -> image.
struct PipelineStages {
  std::unique_ptr<const Decoder> decoder;
  // Null with no refiner: the decoded targets are the result (a features
  // pipeline).
  std::unique_ptr<const Generator> generator;
  // When not empty, the decoded outputs the generator takes, in its order.
  std::vector<int> condition_units;
  // Optional: refines the generator's images (or makes them, with no
  // generator) given the decoded targets; timed as the "refine" stage.
  std::unique_ptr<const Refiner> refiner;
};

struct FitContext {
  const Dataset* dataset = nullptr;
  const DatasetSplit* fit = nullptr;   // the trials fitted
  const DatasetSplit* eval = nullptr;  // the trials scored (for their targets)
  // Root of the repository holding stored feature networks and generators.
  std::string repository_root;
  const TrainHooks* hooks = nullptr;
  uint64_t seed = 0;
};

using Hyperparameter = ModelManifest::Evaluation::Hyperparameter;

// What Fit hands to the shared evaluation and commit.
struct FittedMethod {
  PipelineStages stages;
  // The manifest fields the method owns: decoder, generator, target,
  // feature_network, feature_layers, top_k_units, generator_condition_units
  // and fit_seconds (the fit itself); description when the fit chose
  // settings that Describe() did not know. The trainer fills the rest.
  ModelManifest manifest;
  // The decoded space's truth for the fitted and the scored trials when it
  // is not pixels (features, latents): scored per manifest.feature_layers.
  Eigen::MatrixXd fit_targets, eval_targets;
  std::vector<Hyperparameter> hyperparameters;
  // Scores of the method's own, given the decoded eval targets (optional).
  std::function<void(const Eigen::MatrixXd& predicted, const Eigen::MatrixXd& truth,
                     const Eigen::RowVectorXd& train_mean, ModelManifest::Evaluation*)>
      add_scores;
  // Writes the method's files besides the decoder's into a new version
  // directory (optional); runs while the stages are alive.
  std::function<absl::Status(const std::string& dir)> save;
};

class Method {
 public:
  virtual ~Method() = default;
  // The registry name, recorded in the manifest ("pixels", "hyper", ...).
  virtual std::string name() const = 0;
  // One line naming the stages and their settings.
  virtual std::string Describe(ImageShape image) const = 0;
  // INVALID_ARGUMENT for a dataset or stored part the method cannot use;
  // CANCELLED when hooks->is_cancelled fired.
  virtual absl::StatusOr<FittedMethod> Fit(const FitContext& context) const = 0;
  // Names of generators in <repo>/generators the fit reads.
  virtual std::vector<std::string> stored_generators() const { return {}; }
};

// Reads the stages of a version directory written by a method's fit.
using StageLoader =
    std::function<absl::StatusOr<PipelineStages>(const std::string& dir, const ModelManifest&)>;

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_METHOD_H_
