#include "core/evaluation/report.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/evaluation/identification.h"
#include "core/evaluation/metrics.h"

namespace v2p::core {
namespace {

void MeanAndSd(const std::vector<double>& v, double* mean, double* sd) {
  double s = 0;
  for (double x : v) s += x;
  *mean = s / v.size();
  double ss = 0;
  for (double x : v) ss += (x - *mean) * (x - *mean);
  *sd = std::sqrt(ss / v.size());
}

}  // namespace

std::map<std::string, double> ImageScores::ToMap() const {
  return {{"num_samples", num_samples},
          {"pcc", pcc},
          {"pcc_sd", pcc_sd},
          {"mse", mse},
          {"mse_sd", mse_sd},
          {"ssim", ssim},
          {"ssim_sd", ssim_sd},
          {"identification_pcc", identification_pcc},
          {"identification_ssim", identification_ssim}};
}

absl::StatusOr<ImageScores> ScoreReconstructions(
    const Eigen::MatrixXd& reconstructions, const Eigen::MatrixXd& stimuli,
    ImageShape shape) {
  const Eigen::Index n = reconstructions.rows();
  if (n == 0 || stimuli.rows() != n ||
      reconstructions.cols() != shape.num_pixels() ||
      stimuli.cols() != shape.num_pixels()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot score ", reconstructions.rows(), "x", reconstructions.cols(),
        " reconstructions against ", stimuli.rows(), "x", stimuli.cols(),
        " stimuli of ", shape.num_pixels(), " pixels"));
  }
  Eigen::MatrixXd pcc(n, n), ssim(n, n);
  std::vector<double> own_pcc(n), own_mse(n), own_ssim(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    const Eigen::VectorXd rec = reconstructions.row(i).transpose();
    for (Eigen::Index j = 0; j < n; ++j) {
      const Eigen::VectorXd stim = stimuli.row(j).transpose();
      pcc(i, j) = PixelPcc(rec, stim);
      ASSIGN_OR_RETURN(ssim(i, j), Ssim(rec, stim, shape));
    }
    own_pcc[i] = pcc(i, i);
    own_ssim[i] = ssim(i, i);
    own_mse[i] = PixelMse(rec, stimuli.row(i).transpose());
  }
  ImageScores s;
  s.num_samples = static_cast<int>(n);
  MeanAndSd(own_pcc, &s.pcc, &s.pcc_sd);
  MeanAndSd(own_mse, &s.mse, &s.mse_sd);
  MeanAndSd(own_ssim, &s.ssim, &s.ssim_sd);
  s.identification_pcc = PairwiseIdentification(pcc);
  s.identification_ssim = PairwiseIdentification(ssim);
  return s;
}

Eigen::MatrixXd MeanImageBaseline(const Eigen::MatrixXd& train_stimuli,
                                  Eigen::Index n) {
  return train_stimuli.colwise().mean().replicate(n, 1);
}

}  // namespace v2p::core
