#include "core/decoding/ridge_decoder.h"

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/data/npy.h"
#include "core/decoding/low_rank.h"

namespace v2p::core {
namespace {

absl::StatusOr<Eigen::RowVectorXf> ReadRow(const std::string& path) {
  ASSIGN_OR_RETURN(NpyArray a, ReadNpy(path));
  ASSIGN_OR_RETURN(Eigen::MatrixXd m, a.AsMatrix());
  if (m.rows() != 1) return absl::DataLossError(absl::StrCat(path, ": expected one row"));
  return Eigen::RowVectorXf(m.row(0).cast<float>());
}

}  // namespace

std::unique_ptr<RidgeDecoder> RidgeDecoder::FromLinearMap(const Eigen::MatrixXd& weights,
                                                          const Eigen::RowVectorXd& bias) {
  const Eigen::Index d = weights.rows();
  return std::unique_ptr<RidgeDecoder>(new RidgeDecoder(weights.cast<float>(), bias.cast<float>(),
                                                        Eigen::RowVectorXf::Zero(d),
                                                        Eigen::RowVectorXf::Ones(d)));
}

std::unique_ptr<RidgeDecoder> RidgeDecoder::ThenLinear(const Eigen::MatrixXd& map,
                                                       const Eigen::RowVectorXd& offset) const {
  const Eigen::MatrixXd w = weights_.Unpack().cast<double>() * map;
  const Eigen::RowVectorXd b = bias_.cast<double>() * map + offset;
  return std::unique_ptr<RidgeDecoder>(
      new RidgeDecoder(w.cast<float>(), b.cast<float>(), mean_, sd_));
}

RidgeDecoder::RidgeDecoder(Eigen::MatrixXf weights, Eigen::RowVectorXf bias,
                           Eigen::RowVectorXf mean, Eigen::RowVectorXf sd)
    : weights_(weights), bias_(std::move(bias)), mean_(std::move(mean)), sd_(std::move(sd)) {
  inv_sd_ = sd_.unaryExpr([](float s) { return s > 0 ? 1.0f / s : 1.0f; });
  if (std::optional<LowRankFactors> f = FactorLowRank(weights)) {
    factored_ = Factored{PackedWeights(f->a), PackedWeights(f->b)};
  }
}

absl::StatusOr<std::unique_ptr<RidgeDecoder::Fitter>> RidgeDecoder::Fitter::Create(
    const Eigen::MatrixXd& betas, const Eigen::MatrixXd& targets, const Options& options) {
  const Eigen::Index d = betas.cols();
  if (betas.rows() == 0) return absl::InvalidArgumentError("no training samples");
  std::unique_ptr<Fitter> f(new Fitter());
  const bool centre = options.standardize_voxels || !options.penalize_intercept;
  f->mean_ = centre ? Eigen::RowVectorXd(betas.colwise().mean()) : Eigen::RowVectorXd::Zero(d);
  Eigen::MatrixXd x = betas.rowwise() - f->mean_;
  f->sd_ = Eigen::RowVectorXd::Ones(d);
  if (options.standardize_voxels) {
    f->sd_ = (x.array().square().colwise().sum() / static_cast<double>(betas.rows())).sqrt();
    for (Eigen::Index v = 0; v < d; ++v) {
      if (f->sd_(v) > 0) x.col(v) /= f->sd_(v);
    }
  }
  f->target_mean_ = options.penalize_intercept ? Eigen::RowVectorXd::Zero(targets.cols())
                                               : Eigen::RowVectorXd(targets.colwise().mean());
  FastL2LiROptions regression = options.regression;
  if (regression.chunk_size == 0) {
    regression.chunk_size = static_cast<int>((targets.cols() + kDefaultSteps - 1) / kDefaultSteps);
  }
  ASSIGN_OR_RETURN(f->fitter_,
                   FastL2LiRFitter::Create(x, targets.rowwise() - f->target_mean_, regression));
  return f;
}

std::unique_ptr<RidgeDecoder> RidgeDecoder::Fitter::Finish(
    const std::vector<Eigen::MatrixXd>& steps) const {
  LinearFit fit = fitter_->Assemble(steps);
  fit.bias += target_mean_;
  return std::unique_ptr<RidgeDecoder>(new RidgeDecoder(
      fit.weights.cast<float>(), fit.bias.cast<float>(), mean_.cast<float>(), sd_.cast<float>()));
}

absl::StatusOr<std::unique_ptr<RidgeDecoder>> RidgeDecoder::Fit(const Eigen::MatrixXd& betas,
                                                                const Eigen::MatrixXd& targets,
                                                                const Options& options) {
  ASSIGN_OR_RETURN(auto fitter, Fitter::Create(betas, targets, options));
  std::vector<Eigen::MatrixXd> steps;
  for (int s = 0; s < fitter->num_steps(); ++s) {
    ASSIGN_OR_RETURN(Eigen::MatrixXd wb, fitter->FitStep(s));
    steps.push_back(std::move(wb));
  }
  return fitter->Finish(steps);
}

absl::StatusOr<std::unique_ptr<RidgeDecoder>> RidgeDecoder::Load(const std::string& dir) {
  ASSIGN_OR_RETURN(NpyArray w, ReadNpy(dir + "/ridge_weights.npy"));
  ASSIGN_OR_RETURN(Eigen::MatrixXd weights, w.AsMatrix());
  ASSIGN_OR_RETURN(Eigen::RowVectorXf bias, ReadRow(dir + "/ridge_bias.npy"));
  ASSIGN_OR_RETURN(Eigen::RowVectorXf mean, ReadRow(dir + "/voxel_mean.npy"));
  ASSIGN_OR_RETURN(Eigen::RowVectorXf sd, ReadRow(dir + "/voxel_sd.npy"));
  if (bias.size() != weights.cols() || mean.size() != weights.rows() ||
      sd.size() != weights.rows()) {
    return absl::DataLossError(absl::StrCat(
        dir, ": ridge files disagree: weights ", weights.rows(), "x", weights.cols(), ", bias ",
        bias.size(), ", voxel mean ", mean.size(), ", voxel sd ", sd.size()));
  }
  if (!weights.allFinite() || !bias.allFinite() || !mean.allFinite() || !sd.allFinite()) {
    return absl::DataLossError(absl::StrCat(dir, ": ridge files contain NaN or Inf"));
  }
  return std::unique_ptr<RidgeDecoder>(
      new RidgeDecoder(weights.cast<float>(), std::move(bias), std::move(mean), std::move(sd)));
}

absl::Status RidgeDecoder::Save(const std::string& dir) const {
  RETURN_IF_ERROR(WriteNpyFloat32(dir + "/ridge_weights.npy", weights_.Unpack()));
  RETURN_IF_ERROR(WriteNpyFloat32(dir + "/ridge_bias.npy", bias_));
  RETURN_IF_ERROR(WriteNpyFloat32(dir + "/voxel_mean.npy", mean_));
  return WriteNpyFloat32(dir + "/voxel_sd.npy", sd_);
}

void RidgeDecoder::Standardize(Eigen::MatrixXf* betas) const {
  betas->array().rowwise() -= mean_.array();
  betas->array().rowwise() *= inv_sd_.array();
}

Eigen::MatrixXf RidgeDecoder::Decode(const Eigen::MatrixXf& standardized) const {
  // One product for every batch size: W (or its factors) is read once per
  // call and never repacked (PackedWeights; bench/batch_throughput_bench
  // prints it beside the BLAS products it replaced, and the factored
  // product beside the whole one).
  Eigen::MatrixXf out = factored_
                            ? factored_->b.LeftMultiply(factored_->a.LeftMultiply(standardized))
                            : weights_.LeftMultiply(standardized);
  out.rowwise() += bias_;
  return out;
}

}  // namespace v2p::core
