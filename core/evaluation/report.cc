#include "core/evaluation/report.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

// Mean of the off-diagonal entries of a square matrix, over the pairs with
// the same label when `labels` is not empty (0 without such pairs).
double OffDiagonalMean(const Eigen::MatrixXd& m, const Eigen::VectorXi& labels) {
  double sum = 0;
  int64_t pairs = 0;
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j)
      if (i != j && (labels.size() == 0 || labels(i) == labels(j))) sum += m(i, j), ++pairs;
  return pairs == 0 ? 0 : sum / pairs;
}

}  // namespace

bool ImageScores::Collapsed() const {
  return num_samples >= 2 && 1 - reconstruction_similarity < 0.5 * (1 - stimulus_similarity) &&
         !(identification_pcc_within_class >= 0.75);
}

std::string ImageScores::CollapseWarning() const {
  if (!Collapsed()) return "";
  return absl::StrCat("reconstructions of different trials",
                      similarity_within_class ? " of one class" : "",
                      " are much closer to each other (mean PCC ",
                      absl::StrFormat("%.3f", reconstruction_similarity),
                      ") than their stimuli are (", absl::StrFormat("%.3f", stimulus_similarity),
                      "): 2-way identification may reflect class templates more than each trial",
                      std::isnan(identification_pcc_within_class)
                          ? ""
                          : absl::StrFormat(" (within-class identification %.3f)",
                                            identification_pcc_within_class));
}

std::map<std::string, double> ImageScores::ToMap() const {
  std::map<std::string, double> m = {{"num_samples", num_samples},
                                     {"pcc", pcc},
                                     {"pcc_sd", pcc_sd},
                                     {"mse", mse},
                                     {"mse_sd", mse_sd},
                                     {"ssim", ssim},
                                     {"ssim_sd", ssim_sd},
                                     {"identification_pcc", identification_pcc},
                                     {"identification_ssim", identification_ssim},
                                     {"reconstruction_similarity", reconstruction_similarity},
                                     {"stimulus_similarity", stimulus_similarity},
                                     {"similarity_within_class", similarity_within_class}};
  if (!std::isnan(identification_pcc_within_class))
    m["identification_pcc_within_class"] = identification_pcc_within_class;
  return m;
}

ImageScores ImageScores::FromMap(const std::map<std::string, double>& map) {
  ImageScores s;
  auto get = [&](const char* key, double* out) {
    auto it = map.find(key);
    if (it != map.end()) *out = it->second;
  };
  double n = 0, within_class = 0;
  get("num_samples", &n);
  s.num_samples = static_cast<int>(n);
  get("pcc", &s.pcc);
  get("pcc_sd", &s.pcc_sd);
  get("mse", &s.mse);
  get("mse_sd", &s.mse_sd);
  get("ssim", &s.ssim);
  get("ssim_sd", &s.ssim_sd);
  get("identification_pcc", &s.identification_pcc);
  get("identification_ssim", &s.identification_ssim);
  get("identification_pcc_within_class", &s.identification_pcc_within_class);
  get("reconstruction_similarity", &s.reconstruction_similarity);
  get("stimulus_similarity", &s.stimulus_similarity);
  get("similarity_within_class", &within_class);
  s.similarity_within_class = within_class > 0;
  return s;
}

absl::StatusOr<ImageScores> ScoreReconstructions(const Eigen::MatrixXd& reconstructions,
                                                 const Eigen::MatrixXd& stimuli, ImageShape shape,
                                                 const Eigen::VectorXi& labels) {
  const Eigen::Index n = reconstructions.rows();
  if (n == 0 || stimuli.rows() != n || reconstructions.cols() != shape.num_pixels() ||
      stimuli.cols() != shape.num_pixels()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot score ", reconstructions.rows(), "x", reconstructions.cols(),
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
      ASSIGN_OR_RETURN(ssim(i, j), Ssim(rec, stim, shape, SsimOptionsFor(shape)));
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
  if (labels.size() == n)
    s.identification_pcc_within_class = PairwiseIdentificationWithinClass(pcc, labels);
  Eigen::MatrixXd among_rec(n, n), among_stim(n, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = i; j < n; ++j) {
      among_rec(i, j) = among_rec(j, i) =
          PixelPcc(reconstructions.row(i).transpose(), reconstructions.row(j).transpose());
      among_stim(i, j) = among_stim(j, i) =
          PixelPcc(stimuli.row(i).transpose(), stimuli.row(j).transpose());
    }
  // Within classes when labels give any same-label pair, else over all.
  s.similarity_within_class = labels.size() == n && !std::isnan(s.identification_pcc_within_class);
  const Eigen::VectorXi& pairs = s.similarity_within_class ? labels : Eigen::VectorXi();
  s.reconstruction_similarity = OffDiagonalMean(among_rec, pairs);
  s.stimulus_similarity = OffDiagonalMean(among_stim, pairs);
  return s;
}

Eigen::MatrixXd MeanImageBaseline(const Eigen::MatrixXd& train_stimuli, Eigen::Index n) {
  return train_stimuli.colwise().mean().replicate(n, 1);
}

}  // namespace v2p::core
