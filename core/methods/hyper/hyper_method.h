// HYPER (Dado, Güçlütürk, Ambrogioni, Ras, Bosch, van Gerven & Güçlü 2022,
// "Hyperrealistic neural decoding for reconstructing faces from fMRI
// activations via the GAN latent space", Scientific Reports 12: 141):
// ridge from betas to the latent of a GAN, and the GAN's image of the
// decoded latent. No GAN drew these stimuli, so the fitted latents are
// found by inverting the GAN (gan.h). The GAN is a stored one or one
// trained in the job on the dataset's images. Manifest name "hyper".
#ifndef V2P_CORE_METHODS_HYPER_HYPER_METHOD_H_
#define V2P_CORE_METHODS_HYPER_HYPER_METHOD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/generation/gan.h"
#include "core/methods/fitting.h"
#include "core/pipeline/method.h"

namespace v2p::core {

struct HyperOptions {
  RidgeFitOptions ridge;
  // A GAN in <repo>/generators (version 0 = latest), or, with train_gan,
  // one trained in the job on GeneratorTrainingImages of the fitted trials.
  std::string generator_name;
  int64_t generator_version = 0;
  bool train_gan = false;
  GanOptions gan_training;
};

class HyperMethod : public Method {
 public:
  static constexpr char kName[] = "hyper";
  explicit HyperMethod(HyperOptions options) : options_(std::move(options)) {}

  std::string name() const override { return kName; }
  std::string Describe(ImageShape image) const override;
  absl::StatusOr<FittedMethod> Fit(const FitContext& context) const override;
  std::vector<std::string> stored_generators() const override;

  static absl::StatusOr<PipelineStages> Load(const std::string& dir, const ModelManifest& m);

 private:
  HyperOptions options_;
};

// HYPER's latent similarity: the mean over rows of the cosine between
// decoded and true latents, and of 1 / (1 + Euclidean distance); added to
// the evaluation as "latent_cosine" and "latent_euclidean" with the
// training mean as the baseline (shared with DAND, whose latents are
// components).
void AddLatentScores(const Eigen::MatrixXd& predicted, const Eigen::MatrixXd& truth,
                     const Eigen::RowVectorXd& train_mean, ModelManifest::Evaluation* e);

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_HYPER_HYPER_METHOD_H_
