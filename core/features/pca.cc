#include "core/features/pca.h"

#include <algorithm>
#include <filesystem>

#include "Eigen/SVD"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/data/npy.h"

namespace v2p::core {
namespace {

absl::StatusOr<Eigen::MatrixXd> ReadMatrixFile(const std::string& path) {
  ASSIGN_OR_RETURN(const NpyArray a, ReadNpy(path));
  return a.AsMatrix();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PcaLayer>> PcaLayer::Fit(const Eigen::MatrixXd& x,
                                                        const PcaOptions& o) {
  const Eigen::Index n = x.rows(), d = x.cols();
  if (n < 2 || d < 1)
    return absl::InvalidArgumentError(absl::StrCat("PCA needs >= 2 rows; got ", n, "x", d));
  if (!x.allFinite()) return absl::InvalidArgumentError("PCA input contains NaN or Inf");
  const Eigen::Index max_k = std::min<Eigen::Index>(n - 1, d);
  if (o.components < 0 || o.components > max_k)
    return absl::InvalidArgumentError(absl::StrCat("PCA of ", n, "x", d, " data has at most ",
                                                   max_k, " components; asked for ", o.components));
  if (o.components == 0 && !(o.explained_variance > 0 && o.explained_variance <= 1))
    return absl::InvalidArgumentError(
        absl::StrCat("explained_variance ", o.explained_variance, " is outside (0, 1]"));
  auto layer = std::unique_ptr<PcaLayer>(new PcaLayer());
  layer->mean_ = x.colwise().mean();
  const Eigen::MatrixXd centred = x.rowwise() - layer->mean_;
  Eigen::BDCSVD<Eigen::MatrixXd> svd(centred, Eigen::ComputeThinV);
  const Eigen::VectorXd var = svd.singularValues().array().square() / static_cast<double>(n - 1);
  const double total = var.sum();
  Eigen::Index k = o.components;
  if (k == 0) {
    double kept = 0;
    while (k < max_k && (total <= 0 || kept / total < o.explained_variance - 1e-12))
      kept += var(k++);
    k = std::max<Eigen::Index>(k, 1);
  }
  layer->components_ = svd.matrixV().leftCols(k);
  // Fix each component's sign (largest loading positive) so that fits of
  // the same data agree.
  for (Eigen::Index j = 0; j < k; ++j) {
    Eigen::Index arg;
    layer->components_.col(j).cwiseAbs().maxCoeff(&arg);
    if (layer->components_(arg, j) < 0) layer->components_.col(j) *= -1;
  }
  layer->variance_ = var.head(k);
  layer->explained_fraction_ = total > 0 ? var.head(k).sum() / total : 1.0;
  layer->scale_ = Eigen::RowVectorXd::Ones(k);
  if (o.whiten) {
    for (Eigen::Index j = 0; j < k; ++j)
      layer->scale_(j) = layer->variance_(j) > 0 ? std::sqrt(layer->variance_(j)) : 1.0;
  }
  return layer;
}

absl::StatusOr<Eigen::MatrixXd> PcaLayer::Transform(const Eigen::MatrixXd& x) const {
  if (x.cols() != input_size())
    return absl::InvalidArgumentError(
        absl::StrCat("PCA layer takes ", input_size(), " features; got ", x.cols()));
  return Eigen::MatrixXd(((x.rowwise() - mean_) * components_).array().rowwise() / scale_.array());
}

absl::StatusOr<Eigen::MatrixXd> PcaLayer::Inverse(const Eigen::MatrixXd& z) const {
  if (z.cols() != num_components())
    return absl::InvalidArgumentError(
        absl::StrCat("PCA layer has ", num_components(), " components; got ", z.cols()));
  return Eigen::MatrixXd(
      ((z.array().rowwise() * scale_.array()).matrix() * components_.transpose()).rowwise() +
      mean_);
}

absl::Status PcaLayer::Save(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  RETURN_IF_ERROR(WriteNpyFloat64(dir + "/pca_mean.npy", mean_));
  RETURN_IF_ERROR(WriteNpyFloat64(dir + "/pca_components.npy", components_));
  RETURN_IF_ERROR(WriteNpyFloat64(dir + "/pca_scale.npy", scale_));
  Eigen::MatrixXd v(1, variance_.size() + 1);
  v << variance_.transpose(), explained_fraction_;
  return WriteNpyFloat64(dir + "/pca_variance.npy", v);
}

absl::StatusOr<std::unique_ptr<PcaLayer>> PcaLayer::Load(const std::string& dir) {
  auto layer = std::unique_ptr<PcaLayer>(new PcaLayer());
  ASSIGN_OR_RETURN(const Eigen::MatrixXd mean, ReadMatrixFile(dir + "/pca_mean.npy"));
  ASSIGN_OR_RETURN(layer->components_, ReadMatrixFile(dir + "/pca_components.npy"));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd scale, ReadMatrixFile(dir + "/pca_scale.npy"));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd v, ReadMatrixFile(dir + "/pca_variance.npy"));
  const Eigen::Index k = layer->components_.cols();
  if (mean.rows() != 1 || mean.cols() != layer->components_.rows() || scale.size() != k ||
      v.size() != k + 1)
    return absl::DataLossError(absl::StrCat(dir, ": PCA files disagree on their sizes"));
  layer->mean_ = mean.row(0);
  layer->scale_ = Eigen::Map<const Eigen::RowVectorXd>(scale.data(), k);
  const Eigen::RowVectorXd vr = Eigen::Map<const Eigen::RowVectorXd>(v.data(), k + 1);
  layer->variance_ = vr.head(k).transpose();
  layer->explained_fraction_ = vr(k);
  return layer;
}

}  // namespace v2p::core
