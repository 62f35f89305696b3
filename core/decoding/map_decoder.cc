#include "core/decoding/map_decoder.h"

#include <random>

#include "Eigen/Cholesky"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace v2p::core {

absl::StatusOr<std::unique_ptr<MapDecoder>> MapDecoder::Fit(const Eigen::MatrixXd& z,
                                                            const Eigen::MatrixXd& y,
                                                            const MapDecoderOptions& o) {
  const Eigen::Index n = z.rows(), k = z.cols(), v = y.cols();
  if (y.rows() != n || k < 1 || v < 1)
    return absl::InvalidArgumentError(
        absl::StrCat("MAP decoder: ", n, "x", k, " latents and ", y.rows(), "x", v, " responses"));
  if (!z.allFinite() || !y.allFinite())
    return absl::InvalidArgumentError("MAP decoder: latents or responses contain NaN or Inf");
  if (o.ridge < 0 || (o.ridge == 0 && n <= k + 1))
    return absl::InvalidArgumentError(absl::StrCat(
        "MAP decoder: least squares of ", k, " latents and an intercept needs more than ", k + 1,
        " trials (got ", n, "); set a ridge term"));
  auto d = std::unique_ptr<MapDecoder>(new MapDecoder());
  // Both sides centred: B is fitted on z - zbar, so a latent mean that is
  // not zero over the fitting trials (z is whitened over other images) is
  // not shrunk into B, and the intercept is ybar - zbar B.
  const Eigen::RowVectorXd z_mean = z.colwise().mean();
  const Eigen::RowVectorXd y_mean = y.colwise().mean();
  const Eigen::MatrixXd zc = z.rowwise() - z_mean;
  const Eigen::MatrixXd yc = y.rowwise() - y_mean;
  Eigen::MatrixXd gram = zc.transpose() * zc;
  gram.diagonal().array() += o.ridge;
  Eigen::LDLT<Eigen::MatrixXd> ldlt(gram);
  if (ldlt.info() != Eigen::Success || (o.ridge == 0 && ldlt.rcond() < 1e-12))
    return absl::InvalidArgumentError("MAP decoder: latents are rank deficient");
  d->b_ = ldlt.solve(zc.transpose() * yc);  // k x v
  d->response_mean_ = y_mean - z_mean * d->b_;
  const Eigen::MatrixXd residual = yc - zc * d->b_;
  const double floor = o.min_noise_fraction * std::max(1e-300, yc.array().square().mean());
  d->noise_variance_ = (residual.array().square().colwise().sum() / static_cast<double>(n))
                           .transpose()
                           .cwiseMax(floor);
  RETURN_IF_ERROR(d->Finish());
  return d;
}

absl::StatusOr<std::unique_ptr<MapDecoder>> MapDecoder::FromModel(Eigen::MatrixXd b,
                                                                  Eigen::VectorXd noise_variance,
                                                                  Eigen::RowVectorXd mean) {
  if (noise_variance.size() != b.cols() || mean.size() != b.cols() ||
      !(noise_variance.array() > 0).all())
    return absl::InvalidArgumentError(
        "MAP decoder: loadings, noise variances (> 0) and mean disagree on the voxel count");
  auto d = std::unique_ptr<MapDecoder>(new MapDecoder());
  d->b_ = std::move(b);
  d->noise_variance_ = std::move(noise_variance);
  d->response_mean_ = std::move(mean);
  RETURN_IF_ERROR(d->Finish());
  return d;
}

absl::Status MapDecoder::Finish() {
  const Eigen::Index k = b_.rows();
  // B Sigma^-1: each voxel's column divided by its noise variance.
  const Eigen::MatrixXd b_over = b_.array().rowwise() / noise_variance_.transpose().array();
  Eigen::MatrixXd precision = b_over * b_.transpose();
  precision.diagonal().array() += 1.0;
  Eigen::LLT<Eigen::MatrixXd> llt(precision);
  if (llt.info() != Eigen::Success)
    return absl::InternalError("MAP decoder: posterior precision is not positive definite");
  covariance_ = llt.solve(Eigen::MatrixXd::Identity(k, k));
  covariance_ = 0.5 * (covariance_ + covariance_.transpose());
  map_ = b_over.transpose() * covariance_;  // v x k
  Eigen::LLT<Eigen::MatrixXd> c(covariance_);
  if (c.info() != Eigen::Success)
    return absl::InternalError("MAP decoder: posterior covariance is not positive definite");
  chol_ = c.matrixL();
  return absl::OkStatus();
}

absl::StatusOr<Eigen::MatrixXd> MapDecoder::PosteriorMean(const Eigen::MatrixXd& y) const {
  if (y.cols() != num_voxels())
    return absl::InvalidArgumentError(
        absl::StrCat("MAP decoder takes ", num_voxels(), " voxels; got ", y.cols()));
  return Eigen::MatrixXd((y.rowwise() - response_mean_) * map_);
}

absl::StatusOr<std::vector<Eigen::MatrixXd>> MapDecoder::Sample(const Eigen::MatrixXd& y,
                                                                int samples, uint64_t seed) const {
  if (samples < 1) return absl::InvalidArgumentError("samples must be >= 1");
  ASSIGN_OR_RETURN(const Eigen::MatrixXd mean, PosteriorMean(y));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::vector<Eigen::MatrixXd> out;
  for (int s = 0; s < samples; ++s) {
    Eigen::MatrixXd eps(mean.rows(), mean.cols());
    for (Eigen::Index i = 0; i < eps.size(); ++i) eps.data()[i] = normal(rng);
    out.push_back(mean + eps * chol_.transpose());
  }
  return out;
}

}  // namespace v2p::core
