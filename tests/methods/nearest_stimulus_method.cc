#include "tests/methods/nearest_stimulus_method.h"

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/data/npy.h"
#include "core/generation/identity_generator.h"

namespace v2p::testing {
namespace {

constexpr char kStatsFile[] = "nearest_voxel_stats.npy";  // 2 x voxels: mean, SD
constexpr char kBetasFile[] = "nearest_betas.npy";        // trials x voxels, rows unit norm
constexpr char kStimuliFile[] = "nearest_stimuli.npy";    // trials x pixels

// Centres each row and scales it to unit norm, so that the dot product of
// two rows is their Pearson correlation.
Eigen::MatrixXf UnitRows(Eigen::MatrixXf m) {
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    m.row(i).array() -= m.row(i).mean();
    const float n = m.row(i).norm();
    if (n > 0) m.row(i) /= n;
  }
  return m;
}

class NearestDecoder : public core::Decoder {
 public:
  NearestDecoder(Eigen::MatrixXf stats, Eigen::MatrixXf betas, Eigen::MatrixXf stimuli)
      : stats_(std::move(stats)), betas_(std::move(betas)), stimuli_(std::move(stimuli)) {}

  int num_voxels() const override { return static_cast<int>(betas_.cols()); }
  int num_outputs() const override { return static_cast<int>(stimuli_.cols()); }
  void Standardize(Eigen::MatrixXf* x) const override {
    x->rowwise() -= stats_.row(0);
    x->array().rowwise() /= stats_.row(1).array();
  }
  Eigen::MatrixXf Decode(const Eigen::MatrixXf& z) const override {
    const Eigen::MatrixXf r = UnitRows(z) * betas_.transpose();
    Eigen::MatrixXf out(z.rows(), stimuli_.cols());
    for (Eigen::Index i = 0; i < z.rows(); ++i) {
      Eigen::Index best = 0;
      r.row(i).maxCoeff(&best);
      out.row(i) = stimuli_.row(best);
    }
    return out;
  }
  absl::Status Save(const std::string& dir) const override {
    RETURN_IF_ERROR(core::WriteNpyFloat32(dir + "/" + kStatsFile, stats_));
    RETURN_IF_ERROR(core::WriteNpyFloat32(dir + "/" + kBetasFile, betas_));
    return core::WriteNpyFloat32(dir + "/" + kStimuliFile, stimuli_);
  }

 private:
  Eigen::MatrixXf stats_, betas_, stimuli_;
};

absl::StatusOr<Eigen::MatrixXf> ReadMatrix(const std::string& path) {
  ASSIGN_OR_RETURN(const core::NpyArray a, core::ReadNpy(path));
  ASSIGN_OR_RETURN(const Eigen::MatrixXd m, a.AsMatrix());
  return Eigen::MatrixXf(m.cast<float>());
}

absl::StatusOr<core::PipelineStages> Load(const std::string& dir, const core::ModelManifest& m) {
  ASSIGN_OR_RETURN(Eigen::MatrixXf stats, ReadMatrix(dir + "/" + kStatsFile));
  ASSIGN_OR_RETURN(Eigen::MatrixXf betas, ReadMatrix(dir + "/" + kBetasFile));
  ASSIGN_OR_RETURN(Eigen::MatrixXf stimuli, ReadMatrix(dir + "/" + kStimuliFile));
  if (stats.rows() != 2 || stats.cols() != betas.cols() || betas.rows() != stimuli.rows() ||
      stimuli.cols() != m.image.num_pixels())
    return absl::DataLossError("nearest-stimulus files disagree in shape");
  core::PipelineStages s;
  s.decoder = std::make_unique<const NearestDecoder>(std::move(stats), std::move(betas),
                                                     std::move(stimuli));
  s.generator = std::make_unique<const core::IdentityGenerator>(m.image);
  return s;
}

absl::StatusOr<std::shared_ptr<const core::Method>> Create(
    const core::MethodParameters& parameters) {
  bool standardize = true;
  RETURN_IF_ERROR(core::ApplyParameters("nearest_stimulus", parameters,
                                        {{"standardize_voxels", core::SetsValue(&standardize)}}));
  return std::make_shared<const NearestStimulusMethod>(standardize);
}

}  // namespace

std::string NearestStimulusMethod::Describe(core::ImageShape image) const {
  return absl::StrCat("nearest training trial by correlation",
                      standardize_ ? " of z-scored voxels" : "", " -> its stimulus ", image.height,
                      "x", image.width);
}

absl::StatusOr<core::FittedMethod> NearestStimulusMethod::Fit(const core::FitContext& c) const {
  const Eigen::MatrixXf x = c.fit->betas.cast<float>();
  Eigen::MatrixXf stats(2, x.cols());
  stats.row(0).setZero();
  stats.row(1).setOnes();
  if (standardize_) {
    stats.row(0) = x.colwise().mean();
    const Eigen::MatrixXf centred = x.rowwise() - stats.row(0);
    stats.row(1) = (centred.colwise().squaredNorm() / static_cast<float>(x.rows()))
                       .cwiseSqrt()
                       .unaryExpr([](float s) { return s > 0 ? s : 1.0f; });
  }
  Eigen::MatrixXf z = x;
  z.rowwise() -= stats.row(0);
  z.array().rowwise() /= stats.row(1).array();
  core::FittedMethod f;
  f.stages.decoder = std::make_unique<const NearestDecoder>(std::move(stats), UnitRows(z),
                                                            c.fit->stimuli.cast<float>());
  f.stages.generator = std::make_unique<const core::IdentityGenerator>(c.dataset->image);
  f.manifest.decoder = "nearest";
  f.manifest.generator = "identity";
  f.manifest.target = "pixels";
  return f;
}

core::MethodEntry NearestStimulusMethod::Entry() {
  return {kName, "nearest training trial's stimulus (a test method)", Load, Create};
}

}  // namespace v2p::testing
