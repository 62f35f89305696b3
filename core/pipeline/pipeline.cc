#include "core/pipeline/pipeline.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/generation/icg.h"
#include "core/generation/identity_generator.h"

namespace v2p::core {
namespace {

absl::Status CheckCancelled(const RunOptions& options, const char* before) {
  if (options.is_cancelled && options.is_cancelled()) {
    return absl::CancelledError(
        absl::StrCat("reconstruction cancelled before ", before));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<const Generator>> MakeGenerator(
    const ModelManifest& m) {
  if (m.generator == "identity")
    return std::make_unique<const IdentityGenerator>(m.image);
  return absl::DataLossError(absl::StrCat(
      "model ", m.name, ": unknown generator '", m.generator, "'"));
}

}  // namespace

absl::Status CheckFiniteRows(const Eigen::MatrixXf& betas) {
  for (Eigen::Index r = 0; r < betas.rows(); ++r) {
    if (betas.row(r).allFinite()) continue;
    for (Eigen::Index c = 0; c < betas.cols(); ++c) {
      if (!std::isfinite(betas(r, c))) {
        return absl::InvalidArgumentError(
            absl::StrCat("sample ", r, ": voxel ", c, " is ", betas(r, c),
                         "; betas must be finite"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Pipeline>> Pipeline::Create(
    ModelManifest manifest, std::unique_ptr<const RidgeDecoder> decoder,
    std::unique_ptr<const Generator> generator) {
  if (decoder->num_voxels() != manifest.num_voxels) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoder takes ", decoder->num_voxels(),
                     " voxels; manifest says ", manifest.num_voxels));
  }
  if (manifest.target == "features") {
    if (decoder->num_outputs() != manifest.num_outputs())
      return absl::InvalidArgumentError(absl::StrCat(
          "features pipeline: decoder gives ", decoder->num_outputs(),
          " values, the manifest's layers hold ", manifest.num_outputs()));
    if (generator == nullptr)
      return std::shared_ptr<const Pipeline>(new Pipeline(
          std::move(manifest), std::move(decoder), nullptr));
  }
  if (decoder->num_outputs() != generator->input_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("decoder gives ", decoder->num_outputs(),
                     " values; generator takes ", generator->input_size()));
  }
  if (!(generator->image_shape() == manifest.image)) {
    return absl::InvalidArgumentError(
        "generator image shape disagrees with the manifest");
  }
  return std::shared_ptr<const Pipeline>(new Pipeline(
      std::move(manifest), std::move(decoder), std::move(generator)));
}

absl::StatusOr<std::shared_ptr<const Pipeline>> Pipeline::Load(
    const std::string& dir, int64_t version) {
  ASSIGN_OR_RETURN(ModelManifest manifest,
                   ReadManifest(dir + "/" + kManifestFile));
  manifest.version = version;
  if (manifest.decoder != "ridge" && manifest.decoder != "smr") {
    return absl::DataLossError(
        absl::StrCat(dir, ": unknown decoder '", manifest.decoder, "'"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<RidgeDecoder> decoder,
                   RidgeDecoder::Load(dir));
  std::unique_ptr<const Generator> generator;
  if (manifest.generator == "stored") {
    auto stored = IcgGenerator::Load(dir + "/" + kGeneratorDir);
    if (!stored.ok())
      return absl::DataLossError(absl::StrCat(dir, ": ", stored.status().message()));
    generator = std::move(*stored);
  } else if (manifest.target != "features") {
    ASSIGN_OR_RETURN(generator, MakeGenerator(manifest));
  }
  auto pipeline =
      Create(std::move(manifest), std::move(decoder), std::move(generator));
  if (!pipeline.ok()) {
    return absl::DataLossError(
        absl::StrCat(dir, ": ", pipeline.status().message()));
  }
  return pipeline;
}

absl::StatusOr<std::vector<Reconstruction>> Pipeline::Run(
    const Eigen::MatrixXf& betas, const RunOptions& options) const {
  Stopwatch total, stage;
  StageTimings t;
  if (betas.rows() == 0)
    return absl::InvalidArgumentError("no samples to reconstruct");
  if (betas.cols() != num_voxels()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", manifest_.name, " expects ", num_voxels(),
                     " voxels per sample, got ", betas.cols()));
  }
  RETURN_IF_ERROR(CheckFiniteRows(betas));
  Eigen::MatrixXf x = betas;
  decoder_->Standardize(&x);
  t.preprocess = stage.Lap();

  RETURN_IF_ERROR(CheckCancelled(options, "decode"));
  const Eigen::MatrixXf targets = decoder_->Decode(x);
  t.decode = stage.Lap();

  if (generator_ == nullptr) {  // features pipeline: decode is the result
    std::vector<Reconstruction> out(betas.rows());
    for (Eigen::Index i = 0; i < betas.rows(); ++i)
      out[i].features = targets.row(i).transpose();
    t.total = total.Elapsed();
    for (auto& r : out) r.timings = t;
    return out;
  }
  RETURN_IF_ERROR(CheckCancelled(options, "generate"));
  ASSIGN_OR_RETURN(Eigen::MatrixXf images, generator_->Generate(targets));
  const bool keep_features = manifest_.target == "features";
  if (manifest_.clip_output) images = images.cwiseMax(0.0f).cwiseMin(1.0f);
  t.generate = stage.Lap();

  RETURN_IF_ERROR(CheckCancelled(options, "encode"));
  std::vector<Reconstruction> out(betas.rows());
  for (Eigen::Index i = 0; i < betas.rows(); ++i) {
    out[i].pixels = images.row(i).transpose();
    if (keep_features) out[i].features = targets.row(i).transpose();
    if (options.encode_png) {
      ASSIGN_OR_RETURN(out[i].png,
                       EncodePng(out[i].pixels.data(), image_shape()));
    }
  }
  t.encode = stage.Lap();
  t.total = total.Elapsed();
  for (auto& r : out) r.timings = t;
  return out;
}

}  // namespace v2p::core
