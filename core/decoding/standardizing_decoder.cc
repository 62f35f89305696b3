#include "core/decoding/standardizing_decoder.h"

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/data/npy.h"

namespace v2p::core {
namespace {
constexpr char kFile[] = "standardize.npy";  // 2 x voxels: mean, 1 / SD
}

absl::StatusOr<std::unique_ptr<StandardizingDecoder>> StandardizingDecoder::Fit(
    const Eigen::MatrixXd& betas) {
  if (betas.rows() < 2 || betas.cols() < 1 || !betas.allFinite())
    return absl::InvalidArgumentError(
        absl::StrCat("standardising needs >= 2 finite rows of betas; got ", betas.rows()));
  const Eigen::RowVectorXd mean = betas.colwise().mean();
  const Eigen::RowVectorXd sd =
      ((betas.rowwise() - mean).colwise().squaredNorm() / static_cast<double>(betas.rows()))
          .cwiseSqrt();
  const Eigen::RowVectorXd inv = sd.unaryExpr([](double s) { return s > 0 ? 1.0 / s : 1.0; });
  return std::unique_ptr<StandardizingDecoder>(
      new StandardizingDecoder(mean.cast<float>(), inv.cast<float>()));
}

absl::Status StandardizingDecoder::Save(const std::string& dir) const {
  Eigen::MatrixXd m(2, mean_.size());
  m.row(0) = mean_.cast<double>();
  m.row(1) = inv_sd_.cast<double>();
  return WriteNpyFloat64(dir + "/" + kFile, m);
}

absl::StatusOr<std::unique_ptr<StandardizingDecoder>> StandardizingDecoder::Load(
    const std::string& dir) {
  const std::string path = dir + "/" + kFile;
  ASSIGN_OR_RETURN(const NpyArray a, ReadNpy(path));
  auto m = a.AsMatrix();
  if (!m.ok() || m->rows() != 2 || m->cols() < 1 || !m->allFinite())
    return absl::DataLossError(absl::StrCat(path, ": not 2 x voxels of finite values"));
  return std::unique_ptr<StandardizingDecoder>(
      new StandardizingDecoder(m->row(0).cast<float>(), m->row(1).cast<float>()));
}

}  // namespace v2p::core
