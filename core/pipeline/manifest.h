// What a trained model is: the facts every process needs without loading
// its weights (voxel count, image shape, stages, recorded evaluation).
// Stored as manifest.txt in the model's version directory, one
// "key: value" per line; the version is the directory's name.
#ifndef V2P_CORE_PIPELINE_MANIFEST_H_
#define V2P_CORE_PIPELINE_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/data/image.h"

namespace v2p::core {

struct ModelManifest {
  static constexpr int kFormatVersion = 1;

  std::string name;
  int64_t version = 0;  // filled from the directory name when read
  std::string dataset;
  absl::Time create_time;
  int num_voxels = 0;
  ImageShape image;
  // Stored value of white in the training stimuli (the dataset's declared
  // or inferred pixel_max); 0 in models trained before it was recorded.
  double pixel_max = 0;
  // The method that fitted it and loads its stages (core/methods), e.g.
  // "pixels", "features", "hyper", "dand".
  std::string method;
  std::string decoder;  // "ridge" or "smr" (both served as a linear map)
  // "identity"; for a features target "none", or "stored" for a generator
  // from <repo>/generators copied into kGeneratorDir; "gan" for the GAN
  // of a latent target, kept there too.
  std::string generator;
  // "pixels", or "features": the pipeline returns decoded CNN features of
  // `feature_layers` (name and shape, in output order) of the feature
  // network stored with the model; or "latent" (HYPER): the decoded GAN
  // latent (one layer "latent") and the GAN's image of it.
  std::string target = "pixels";
  // "name/version" of the feature network (features) or GAN (latent)
  std::string feature_network;
  struct FeatureLayer {
    std::string name;
    std::vector<int64_t> shape;
    int64_t size = 0;
  };
  std::vector<FeatureLayer> feature_layers;
  // Number of units in kTopUnitsFile (0: no decodability was measured).
  int64_t top_k_units = 0;
  // Units of the decoded features that condition the generator, listed in
  // kGeneratorDir/kConditionUnitsFile (0: all of them, in order).
  int64_t generator_condition_units = 0;
  int64_t num_outputs() const;
  bool clip_output = true;
  std::string description;  // one line
  // Wall seconds of the fit itself: the decoder (DAND's with its GAN),
  // without loading, evaluation, a generator trained after it, or the
  // commit. 0 when unknown (manifests written before it was recorded).
  double fit_seconds = 0;

  struct Evaluation {
    std::string split;
    int num_samples = 0;
    std::string ssim_definition;
    std::map<std::string, double> metrics;
    std::map<std::string, double> baseline_metrics;
    // Penalties chosen by k-fold cross-validation on the fitted trials (e.g.
    // "ridge.alpha"): the grid, each value's held-out error and the choice.
    // Stored as "hyperparameter.<name>: chosen C folds K grid v:e v:e ...".
    struct Hyperparameter {
      std::string name;
      double chosen = 0;
      int folds = 0;
      std::vector<double> grid;
      std::vector<double> error;  // held-out mean squared error per grid value
    };
    std::vector<Hyperparameter> hyperparameters;
  } evaluation;
};

// Files inside a model version directory.
inline constexpr char kManifestFile[] = "manifest.txt";
inline constexpr char kSpecFile[] = "pipeline_spec.pbtxt";
// 1 x pixels float32: the mean training stimulus (the baseline image).
inline constexpr char kMeanImageFile[] = "mean_image.npy";
// A features pipeline keeps a copy of its feature network here.
inline constexpr char kFeatureNetworkDir[] = "feature_network";
// A features pipeline with generator "stored" keeps a copy of it here.
inline constexpr char kGeneratorDir[] = "generator";
// Features target: 1 x outputs float32, each unit's held-out PCC by k-fold
// CV on the training trials; and 1 x top_k_units float64, the indices (into
// the concatenated outputs) of the best decoded units, best first.
inline constexpr char kUnitDecodabilityFile[] = "unit_decodability.npy";
inline constexpr char kTopUnitsFile[] = "top_units.npy";
// Inside kGeneratorDir: 1 x k float64 indices (into the decoded outputs) of
// the units the generator takes, in its input order.
inline constexpr char kConditionUnitsFile[] = "condition_units.npy";

absl::Status WriteManifest(const std::string& path, const ModelManifest& manifest);
// The method of a manifest written before methods were recorded, from its
// target and generator.
std::string LegacyMethodName(const ModelManifest& manifest);

// DATA_LOSS names the file and line of a malformed or incomplete manifest.
absl::StatusOr<ModelManifest> ReadManifest(const std::string& path);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_MANIFEST_H_
