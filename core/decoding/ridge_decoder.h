// The served ridge decoder: betas -> targets (pixels, or features in later
// pipelines), with voxel standardisation statistics kept in the model.
// Fitting uses FitFastL2LiR in double precision; serving runs in float.
// Immutable after construction; safe to share across threads.
#ifndef V2P_CORE_DECODING_RIDGE_DECODER_H_
#define V2P_CORE_DECODING_RIDGE_DECODER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/decoding/decoder.h"
#include "core/decoding/fastl2lir.h"
#include "core/decoding/packed_weights.h"

namespace v2p::core {

class RidgeDecoder : public Decoder {
 public:
  struct Options {
    FastL2LiROptions regression;
    // z-score voxels with the training mean and SD (population SD; voxels
    // with SD 0 are only centred).
    bool standardize_voxels = true;
    // false: voxels and targets are centred before the fit, which makes the
    // intercept unpenalised (the usual ridge, e.g. scikit-learn's Ridge);
    // true: FastL2LiR's own behaviour, the bias shrunk by alpha like every
    // weight. With alpha large against the sample count the penalised bias
    // shrinks the mean image out of every reconstruction.
    bool penalize_intercept = false;
  };

  // The fit in steps (chunks of outputs) for training that reports
  // progress, checkpoints and resumes. Without a chunk_size in the options
  // the outputs are split into at most kDefaultSteps steps; the result does
  // not depend on the chunking.
  class Fitter {
   public:
    static constexpr int kDefaultSteps = 16;
    // betas: samples x voxels; targets: samples x outputs.
    static absl::StatusOr<std::unique_ptr<Fitter>> Create(const Eigen::MatrixXd& betas,
                                                          const Eigen::MatrixXd& targets,
                                                          const Options& options);
    int num_steps() const { return fitter_->num_chunks(); }
    // [W; b] of step `step`'s outputs; deterministic.
    absl::StatusOr<Eigen::MatrixXd> FitStep(int step) const { return fitter_->FitChunk(step); }
    double StepObjective(int step, const Eigen::MatrixXd& wb) const {
      return fitter_->ChunkObjective(step, wb);
    }
    // From all steps' results, in order.
    std::unique_ptr<RidgeDecoder> Finish(const std::vector<Eigen::MatrixXd>& steps) const;

   private:
    Fitter() = default;
    std::unique_ptr<FastL2LiRFitter> fitter_;
    Eigen::RowVectorXd mean_, sd_, target_mean_;
  };

  // The whole fit at once. betas: samples x voxels; targets: samples x
  // outputs.
  static absl::StatusOr<std::unique_ptr<RidgeDecoder>> Fit(const Eigen::MatrixXd& betas,
                                                           const Eigen::MatrixXd& targets,
                                                           const Options& options);
  // A fitted linear map in original voxel units (prediction = betas *
  // weights + bias), e.g. from SMR: served exactly like a ridge fit.
  static std::unique_ptr<RidgeDecoder> FromLinearMap(const Eigen::MatrixXd& weights,
                                                     const Eigen::RowVectorXd& bias);
  // This decoder followed by a linear map of its outputs: decodes to
  // Decode(x) * map + offset (map: num_outputs() x m), with the same voxel
  // standardisation. E.g. ridge to principal components, then back to
  // pixels.
  std::unique_ptr<RidgeDecoder> ThenLinear(const Eigen::MatrixXd& map,
                                           const Eigen::RowVectorXd& offset) const;
  // Reads the files Save() writes; DATA_LOSS when they disagree in shape.
  static absl::StatusOr<std::unique_ptr<RidgeDecoder>> Load(const std::string& dir);
  // Writes ridge_weights.npy (voxels x outputs, float32), ridge_bias.npy,
  // voxel_mean.npy and voxel_sd.npy into `dir`.
  absl::Status Save(const std::string& dir) const override;

  int num_voxels() const override { return weights_.rows(); }
  int num_outputs() const override { return weights_.cols(); }
  // The rank k Decode works at when W is factored as A B (low_rank.h: a
  // ridge fit on fewer trials than voxels), else 0 (W whole).
  int decode_rank() const override { return factored_ ? factored_->a.cols() : 0; }

  // Preprocess stage: standardises each row (one sample) in place.
  void Standardize(Eigen::MatrixXf* betas) const override;
  // Decode stage: standardised rows -> rows of outputs.
  Eigen::MatrixXf Decode(const Eigen::MatrixXf& standardized) const override;

 private:
  RidgeDecoder(Eigen::MatrixXf weights, Eigen::RowVectorXf bias, Eigen::RowVectorXf mean,
               Eigen::RowVectorXf sd);

  // Kept only in the layout Decode reads (W is the bulk of a decoder's
  // memory); Save and ThenLinear unpack it.
  PackedWeights weights_;
  // W = A B, when that is cheaper (low_rank.h); Decode then reads these
  // (1.4 MB on digit69) instead of W.
  struct Factored {
    PackedWeights a, b;
  };
  std::optional<Factored> factored_;
  Eigen::RowVectorXf bias_;
  Eigen::RowVectorXf mean_;
  Eigen::RowVectorXf sd_;
  Eigen::RowVectorXf inv_sd_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_RIDGE_DECODER_H_
