// DCGAN-style generators for the two GAN decoders:
//   HYPER: Dado T, Güçlütürk Y, Ambrogioni L, Ras G, Bosch S, van Gerven M,
//     Güçlü U (2022). Hyperrealistic neural decoding for reconstructing
//     faces from fMRI activations via the GAN latent space. Sci Rep 12:141.
//     An unconditional generator G(z), z ~ N(0, I), trained adversarially
//     on a corpus; reconstruction = G(latent decoded from the betas).
//   DAND: Güçlütürk Y, Güçlü U, Seeliger K, Bosch S, van Lier R, van Gerven
//     MAJ (2017). Reconstructing perceived faces from brain activations with
//     deep adversarial neural decoding. NeurIPS 2017 (§2.2). A generator
//     from latent features (PCA components) to the image, trained on pairs
//     by L_gen = lambda_adv L_adv + lambda_sti L_sti + lambda_fea L_fea
//     against a discriminator; L_fea compares the generated and the real
//     image through a layer of a feature network (the paper: relu3_3 of
//     VGG-16; ours: conv3 of our AlexNet-style network by default). The
//     paper's weights balance VGG-16 activations of 224 x 224 images and do
//     not carry over; examples/digit69_dand.pbtxt sets lambda_fea = 1, which
//     puts the conv3 term at about the size of the pixel term when training
//     starts (lambda_fea = 0 is the pixel-only ablation).
//
// Networks (image side s = 28 or 64; 2 or 4 halvings): generator dense(z)
// -> the smallest map, batch norm and ReLU, transposed convs 4x4 stride 2
// with batch norm and ReLU, tanh rescaled to [0, 1]; discriminator convs
// 4x4 stride 2 with leaky ReLU 0.2 (batch norm after the first), a dense
// logit (sigmoid inside the binary cross-entropy). Adam (beta1 0.5) for
// both, one discriminator step then one generator step per batch.
#ifndef V2P_CORE_GENERATION_GAN_H_
#define V2P_CORE_GENERATION_GAN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"
#include "core/generation/generator.h"

namespace v2p::core {

class FeatureNetwork;

struct GanEpoch {
  int epoch = 0;             // 1-based
  double discriminator = 0;  // mean L_dis per batch
  double adversarial = 0;    // mean L_adv of the generator
  double stimulus = 0;       // mean per-image squared error (paired only)
  double feature = 0;        // mean L_fea (paired, with a feature network)
};

struct GanOptions {
  int latent_size = 32;  // unconditional; paired: the inputs' width
  int base_channels = 32;
  int epochs = 20;
  int batch_size = 64;
  double learning_rate = 2e-4;
  // Paired (DAND) generator loss weights. Our defaults, chosen on digit69
  // X_prior: the pixel loss (a per-image sum) dominates, the adversarial
  // term sharpens.
  double lambda_adv = 1.0;
  double lambda_sti = 1.0;
  // The feature loss: per-image sum of squared differences between the
  // activations of `feature_layer` for the generated and the real image,
  // weighted by lambda_fea; off when 0 or without a network. Not owned;
  // must outlive Train(). Paired training only.
  double lambda_fea = 0;
  const FeatureNetwork* feature_network = nullptr;
  std::string feature_layer = "conv3";
  uint64_t seed = 1;
  std::function<void(const GanEpoch&)> on_epoch;
  std::function<bool()> is_cancelled;
};

class GanGenerator;

class GanTrainer {
 public:
  // Unconditional (HYPER): images n x pixels in [0, 1]. INVALID_ARGUMENT
  // for a shape other than 28x28 or 64x64 grey, non-finite values or sizes
  // <= 0.
  static absl::StatusOr<std::unique_ptr<GanTrainer>> Create(const Eigen::MatrixXf& images,
                                                            ImageShape shape,
                                                            const GanOptions& options);
  // Paired (DAND): inputs n x k are the generator's input for each image.
  static absl::StatusOr<std::unique_ptr<GanTrainer>> CreatePaired(const Eigen::MatrixXf& images,
                                                                  const Eigen::MatrixXf& inputs,
                                                                  ImageShape shape,
                                                                  const GanOptions& options);
  ~GanTrainer();
  // CANCELLED when is_cancelled fires between batches.
  absl::Status Train();
  std::unique_ptr<GanGenerator> Finish();

 private:
  GanTrainer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// G(z). Immutable; Generate() is thread-safe.
class GanGenerator : public Generator {
 public:
  ~GanGenerator() override;
  static absl::StatusOr<std::unique_ptr<GanGenerator>> Load(const std::string& dir);
  // Writes gan.txt and generator.pt.
  absl::Status Save(const std::string& dir) const;

  ImageShape image_shape() const override;
  int input_size() const override;
  std::string Describe() const override;
  absl::StatusOr<Eigen::MatrixXf> Generate(const Eigen::MatrixXf& latents) const override;

  // Latents whose images match `images` (n x pixels): z starts at 0 and
  // Adam minimises ||G(z) - y||^2 + prior ||z||^2 per image for `steps`
  // steps (HYPER needs latents for real stimuli that no GAN drew).
  absl::StatusOr<Eigen::MatrixXf> Invert(const Eigen::MatrixXf& images, int steps = 300,
                                         double learning_rate = 0.05, double prior = 1e-2) const;

 private:
  friend class GanTrainer;
  GanGenerator();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// DAND's served generator: a paired GAN whose input is the posterior mean
// of the latent features, and which draws samples from the posterior
// N(mean, C) when asked (Güçlütürk et al. 2017, Eq. 8: C = (B Sigma^-1 B'
// + I)^-1, the same for every response). Immutable.
class PosteriorGanGenerator : public Generator {
 public:
  // chol: k x k lower-triangular factor of C, k = gan's input size.
  static absl::StatusOr<std::unique_ptr<PosteriorGanGenerator>> Create(
      std::unique_ptr<GanGenerator> gan, Eigen::MatrixXd chol);
  // The GAN's files plus posterior_chol.npy.
  static absl::StatusOr<std::unique_ptr<PosteriorGanGenerator>> Load(const std::string& dir);
  absl::Status Save(const std::string& dir) const;

  ImageShape image_shape() const override { return gan_->image_shape(); }
  int input_size() const override { return gan_->input_size(); }
  std::string Describe() const override;
  absl::StatusOr<Eigen::MatrixXf> Generate(const Eigen::MatrixXf& mean) const override {
    return gan_->Generate(mean);
  }
  bool stochastic() const override { return true; }
  // G(mean + eps L'), eps ~ N(0, I) (std::mt19937_64 seeded).
  absl::StatusOr<std::vector<Eigen::MatrixXf>> Sample(const Eigen::MatrixXf& mean, int samples,
                                                      uint64_t seed) const override;

 private:
  PosteriorGanGenerator(std::unique_ptr<GanGenerator> gan, Eigen::MatrixXd chol)
      : gan_(std::move(gan)), chol_(std::move(chol)) {}
  std::unique_ptr<GanGenerator> gan_;
  Eigen::MatrixXd chol_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_GENERATION_GAN_H_
