// A PCA layer: features <-> principal components, the latent feature model
// of adversarial neural decoding,
//   Güçlütürk Y, Güçlü U, Seeliger K, Bosch S, van Lier R, van Gerven MAJ
//   (2017). Reconstructing perceived faces from brain activations with deep
//   adversarial neural decoding. NeurIPS 2017 (§2.1: 699 components of
//   VGG-Face fc7),
// and of the eigenface baseline (PCA on pixels). Fitted by the SVD of the
// centred data; components are orthonormal, ordered by explained variance.
//
//   Transform(x) = (x - mean) W / s   (W: d x k components; s: their SD when
//                                      whiten, else 1)
//   Inverse(z)   = z s W' + mean
#ifndef V2P_CORE_FEATURES_PCA_H_
#define V2P_CORE_FEATURES_PCA_H_

#include <memory>
#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"

namespace v2p::core {

struct PcaOptions {
  // Number of components; 0 chooses the fewest that explain
  // `explained_variance` of the total.
  int components = 0;
  double explained_variance = 0.9;
  // Scale each component to unit variance on the fitted data (standardised
  // latents, as DAND's prior N(0, I) assumes).
  bool whiten = false;
};

class PcaLayer {
 public:
  // x: n x d, n >= 2, finite. INVALID_ARGUMENT for a bad shape, non-finite
  // values, components > min(n - 1, d) or explained_variance outside (0, 1].
  static absl::StatusOr<std::unique_ptr<PcaLayer>> Fit(const Eigen::MatrixXd& x,
                                                       const PcaOptions& options);
  // Reads and writes pca_mean.npy, pca_components.npy, pca_scale.npy and
  // pca_variance.npy in dir.
  static absl::StatusOr<std::unique_ptr<PcaLayer>> Load(const std::string& dir);
  absl::Status Save(const std::string& dir) const;

  int input_size() const { return static_cast<int>(mean_.size()); }
  int num_components() const { return static_cast<int>(components_.cols()); }
  // Variance of the fitted data along each kept component, and the
  // fraction of the total variance they explain together.
  const Eigen::VectorXd& variance() const { return variance_; }
  double explained_fraction() const { return explained_fraction_; }
  const Eigen::MatrixXd& components() const { return components_; }

  // n x input_size() -> n x num_components(); INVALID_ARGUMENT on a wrong
  // width.
  absl::StatusOr<Eigen::MatrixXd> Transform(const Eigen::MatrixXd& x) const;
  // n x num_components() -> n x input_size().
  absl::StatusOr<Eigen::MatrixXd> Inverse(const Eigen::MatrixXd& z) const;
  // Inverse as a linear map: Inverse(z) = z * inverse_map() + mean().
  Eigen::MatrixXd inverse_map() const { return scale_.asDiagonal() * components_.transpose(); }
  const Eigen::RowVectorXd& mean() const { return mean_; }

 private:
  PcaLayer() = default;
  Eigen::RowVectorXd mean_;
  Eigen::MatrixXd components_;  // d x k, orthonormal columns
  Eigen::RowVectorXd scale_;    // 1 x k
  Eigen::VectorXd variance_;
  double explained_fraction_ = 0;
};

}  // namespace v2p::core

#endif  // V2P_CORE_FEATURES_PCA_H_
