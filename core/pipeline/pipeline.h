// A loaded, immutable reconstruction pipeline: betas -> preprocess
// (e.g. voxel standardisation) -> decode -> generate -> refine -> encode
// (PNG); the stages come from the method that fitted it (method.h), and a
// pipeline may lack the generator, the refiner or both.
// Shared as std::shared_ptr<const Pipeline>; Run() is thread-safe.
#ifndef V2P_CORE_PIPELINE_PIPELINE_H_
#define V2P_CORE_PIPELINE_PIPELINE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/base/stopwatch.h"
#include "core/decoding/decoder.h"
#include "core/generation/generator.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/method.h"
#include "core/pipeline/refiner.h"

namespace v2p::core {

struct RunOptions {
  bool encode_png = true;
  // > 0: also draw this many images per sample from a stochastic generator
  // (seeded by sample_seed) and their per-pixel SD. INVALID_ARGUMENT for a
  // pipeline without one.
  int samples = 0;
  uint64_t sample_seed = 0;
  // Also return the generator's decoded attention map per sample
  // (Generator::Attention). INVALID_ARGUMENT for a pipeline without one.
  bool attention = false;
  // Checked between stages (and by a refiner every iteration); when it
  // returns true Run() stops with CANCELLED.
  std::function<bool()> is_cancelled;
  // A pipeline with a refine stage: the iterations to run (0: the model's
  // own; INVALID_ARGUMENT for a pipeline without one), and a condition
  // that stops the refiner early with the images so far, marked truncated.
  int refine_iterations = 0;
  std::function<bool()> stop_refining;
  // A pipeline with a refine stage: RefineControl::progress_every and
  // on_progress, the images clipped as the results are (INVALID_ARGUMENT
  // for a pipeline without one).
  int progress_every = 0;
  RefineProgressFn on_progress;
};

struct Reconstruction {
  Eigen::VectorXf pixels;  // row-major HWC in [0, 1] when clipped
  // A features pipeline: the decoded features of the manifest's
  // feature_layers, concatenated in order (pixels and png stay empty
  // unless it has a generator).
  Eigen::VectorXf features;
  std::string png;  // empty unless RunOptions::encode_png
  // A refined pipeline: the refiner's iterations for this sample's batch,
  // and whether RunOptions::stop_refining cut them short.
  int refine_iterations = 0;
  bool truncated = false;
  // RunOptions::samples draws (clipped like pixels) and the per-pixel
  // standard deviation over them (population SD); PNGs as for png, the SD
  // map scaled by 2 (0.5, the largest SD of values in [0, 1], is white).
  std::vector<Eigen::VectorXf> samples;
  Eigen::VectorXf pixel_sd;
  std::vector<std::string> sample_pngs;
  std::string pixel_sd_png;
  // RunOptions::attention: the decoded attention map, height x width of the
  // image, one channel in [0, 1], row-major; its PNG as for png.
  Eigen::VectorXf attention;
  std::string attention_png;
  // Stages this pipeline ran (the batch's duration for each); total = the
  // whole Run() call. queue is left for the caller to fill.
  StageTimings timings;
};

class Pipeline {
 public:
  // Takes ownership of the stages. INVALID_ARGUMENT when they disagree with
  // the manifest (voxel count, decoder outputs vs generator input, shape).
  // A features pipeline (manifest.target "features") may have no
  // generator (and then, with a refiner, the refiner makes the images);
  // condition_units, when given, are the decoded outputs the generator
  // takes (in its input order).
  static absl::StatusOr<std::shared_ptr<const Pipeline>> Create(ModelManifest manifest,
                                                                PipelineStages stages);
  static absl::StatusOr<std::shared_ptr<const Pipeline>> Create(
      ModelManifest manifest, std::unique_ptr<const Decoder> decoder,
      std::unique_ptr<const Generator> generator, std::vector<int> condition_units = {}) {
    PipelineStages stages;
    stages.decoder = std::move(decoder);
    stages.generator = std::move(generator);
    stages.condition_units = std::move(condition_units);
    return Create(std::move(manifest), std::move(stages));
  }
  // (A version directory is loaded by LoadPipeline, core/methods/registry.h.)

  const ModelManifest& manifest() const { return manifest_; }
  int num_voxels() const { return manifest_.num_voxels; }
  ImageShape image_shape() const { return manifest_.image; }
  // The rank of the decode's factored weights (Decoder::decode_rank),
  // 0 when W is used whole.
  int decode_rank() const { return decoder_->decode_rank(); }
  // Whether RunOptions::samples can be asked of it (a stochastic generator
  // and no refiner: draws are not refined).
  bool can_sample() const {
    return generator_ != nullptr && generator_->stochastic() && refiner_ == nullptr;
  }
  // Whether RunOptions::attention can be asked of it.
  bool gives_attention() const { return generator_ != nullptr && generator_->gives_attention(); }
  // Whether Run() gives images (a generator or a refiner) or only features.
  bool makes_images() const { return generator_ != nullptr || refiner_ != nullptr; }

  // betas: n x num_voxels(), n >= 1. INVALID_ARGUMENT (naming the sample
  // row) for a wrong voxel count or a NaN/Inf value; CANCELLED if
  // options.is_cancelled fires (between stages, and within the refiner's
  // iterations). One result per row, in order.
  absl::StatusOr<std::vector<Reconstruction>> Run(const Eigen::MatrixXf& betas,
                                                  const RunOptions& options = {}) const;

 private:
  Pipeline(ModelManifest manifest, PipelineStages stages)
      : manifest_(std::move(manifest)),
        decoder_(std::move(stages.decoder)),
        generator_(std::move(stages.generator)),
        condition_units_(std::move(stages.condition_units)),
        refiner_(std::move(stages.refiner)) {}
  // The samples and what `options` ask, against this pipeline: the errors
  // Run() documents.
  absl::Status CheckRun(const Eigen::MatrixXf& betas, const RunOptions& options) const;
  // The generator's images (and draws, and attention maps when asked) for
  // the decoded targets.
  absl::Status Generate(const Eigen::MatrixXf& targets, const RunOptions& options,
                        Eigen::MatrixXf* images, std::vector<Eigen::MatrixXf>* draws,
                        Eigen::MatrixXf* attention) const;
  void Clip(Eigen::MatrixXf* m) const {
    if (manifest_.clip_output) *m = m->cwiseMax(0.0f).cwiseMin(1.0f);
  }

  ModelManifest manifest_;
  std::unique_ptr<const Decoder> decoder_;
  std::unique_ptr<const Generator> generator_;
  std::vector<int> condition_units_;
  std::unique_ptr<const Refiner> refiner_;
};

// Returns INVALID_ARGUMENT naming the first sample (row) that is not finite,
// with the column of its first bad value.
absl::Status CheckFiniteRows(const Eigen::MatrixXf& betas);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_PIPELINE_H_
