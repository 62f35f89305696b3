// MAP posterior decoding of latent features from responses, after
//   Güçlütürk Y, Güçlü U, Seeliger K, Bosch S, van Lier R, van Gerven MAJ
//   (2017). Reconstructing perceived faces from brain activations with deep
//   adversarial neural decoding. NeurIPS 2017 (§2.1, Eqs. 5-9).
//
// A linear Gaussian encoding model inverted by Bayes' rule. Latents z
// (standardised features, k of them) have the prior N(0, I); responses y
// (v voxels) follow y = B'z + mu + e, e ~ N(0, Sigma), Sigma diagonal.
// B (k x v), mu and Sigma are fitted by least squares on training pairs,
// both sides centred: B regresses y - ybar on z - zbar and mu = ybar -
// B'zbar (Sigma: each voxel's residual variance). z is whitened over the
// generator's images, not over the fitting trials, so zbar is not 0; a fit
// on uncentred z would shrink B along zbar and bias every decoded latent
// towards 0. The posterior of z given y is Gaussian with
//   covariance C = (B Sigma^-1 B' + I)^-1                    (Eq. 8)
//   mean       m = C B Sigma^-1 (y - mu)                     (Eq. 9)
// so the mean is a linear map of y, served like any other linear decoder,
// and samples are m + L eps with L L' = C.
#ifndef V2P_CORE_DECODING_MAP_DECODER_H_
#define V2P_CORE_DECODING_MAP_DECODER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"

namespace v2p::core {

struct MapDecoderOptions {
  // Ridge term added to z'z when fitting B (0: ordinary least squares,
  // which needs more trials than latents).
  double ridge = 0;
  // Floor on each voxel's noise variance, relative to the mean variance of
  // the responses (guards voxels the latents explain perfectly).
  double min_noise_fraction = 1e-6;
};

class MapDecoder {
 public:
  // latents: n x k (standardised), responses: n x v. INVALID_ARGUMENT for
  // mismatched rows, non-finite values, or n <= k + 1 without a ridge term.
  static absl::StatusOr<std::unique_ptr<MapDecoder>> Fit(const Eigen::MatrixXd& latents,
                                                         const Eigen::MatrixXd& responses,
                                                         const MapDecoderOptions& options = {});
  // From a known model (k x v loadings, v noise variances > 0, 1 x v
  // intercept mu).
  static absl::StatusOr<std::unique_ptr<MapDecoder>> FromModel(Eigen::MatrixXd b,
                                                               Eigen::VectorXd noise_variance,
                                                               Eigen::RowVectorXd response_mean);

  int num_latents() const { return static_cast<int>(b_.rows()); }
  int num_voxels() const { return static_cast<int>(b_.cols()); }
  const Eigen::MatrixXd& loadings() const { return b_; }
  const Eigen::VectorXd& noise_variance() const { return noise_variance_; }
  // mu: the response the model predicts for z = 0.
  const Eigen::RowVectorXd& response_mean() const { return response_mean_; }

  // Posterior mean of each row of y (n x v) -> n x k: (y - mu) W.
  absl::StatusOr<Eigen::MatrixXd> PosteriorMean(const Eigen::MatrixXd& y) const;
  // The posterior covariance C (k x k), the same for every y.
  const Eigen::MatrixXd& PosteriorCovariance() const { return covariance_; }
  // W (v x k): the posterior mean as a linear map of centred responses.
  const Eigen::MatrixXd& mean_map() const { return map_; }
  // `samples` draws per row from the posterior, seeded (std::mt19937_64):
  // result[s] is n x k.
  absl::StatusOr<std::vector<Eigen::MatrixXd>> Sample(const Eigen::MatrixXd& y, int samples,
                                                      uint64_t seed) const;

 private:
  MapDecoder() = default;
  absl::Status Finish();  // C, W and the Cholesky factor from B and Sigma
  Eigen::MatrixXd b_;
  Eigen::VectorXd noise_variance_;
  Eigen::RowVectorXd response_mean_;
  Eigen::MatrixXd covariance_, map_, chol_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_MAP_DECODER_H_
