#include "workers/conversions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "proto/rpc_status.h"

namespace v2p::worker {

absl::StatusOr<Eigen::MatrixXf> SamplesToBetas(
    const google::protobuf::RepeatedPtrField<voxel2pixel::v1::Sample>& samples, int num_voxels,
    const std::string& model) {
  if (samples.empty()) {
    return absl::InvalidArgumentError("empty batch: expected at least one sample");
  }
  for (int i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    if (s.betas_size() != num_voxels) {
      return absl::InvalidArgumentError(absl::StrCat("sample '", s.id(), "' (index ", i,
                                                     "): model ", model, " expects ", num_voxels,
                                                     " betas, received ", s.betas_size()));
    }
  }
  // Each sample is a row of the column-major matrix, so a row's values land
  // a column apart: copied a block of columns at a time, the block's part
  // of the matrix stays in L1 while every sample fills its row of it.
  constexpr int kColumns = 256;
  Eigen::MatrixXf betas(samples.size(), num_voxels);
  for (int from = 0; from < num_voxels; from += kColumns) {
    const int n = std::min(kColumns, num_voxels - from);
    for (int i = 0; i < samples.size(); ++i) {
      betas.row(i).segment(from, n) =
          Eigen::Map<const Eigen::RowVectorXf>(samples[i].betas().data() + from, n);
    }
  }
  return betas;
}

void ToResultProto(const core::Reconstruction& rec, const core::ModelManifest& manifest,
                   bool include_pixels, voxel2pixel::v1::ReconstructionResult* out) {
  out->set_model(manifest.name);
  out->set_model_version(manifest.version);
  out->set_refine_iterations(rec.refine_iterations);
  out->set_truncated(rec.truncated);
  if (rec.features.size() > 0) {
    Eigen::Index at = 0;
    for (const auto& layer : manifest.feature_layers) {
      auto* f = out->add_features();
      f->set_layer(layer.name);
      for (int64_t d : layer.shape) f->add_shape(d);
      // x86-64 and aarch64 are little-endian: the floats go as they are.
      f->set_values(reinterpret_cast<const char*>(rec.features.data() + at),
                    sizeof(float) * layer.size);
      at += layer.size;
    }
  }
  auto fill = [&](const Eigen::VectorXf& pixels, const std::string& png,
                  voxel2pixel::v1::Image* image) {
    image->set_png(png);
    image->set_height(manifest.image.height);
    image->set_width(manifest.image.width);
    image->set_channels(manifest.image.channels);
    if (include_pixels) image->mutable_pixels()->Add(pixels.data(), pixels.data() + pixels.size());
  };
  if (rec.pixels.size() > 0) fill(rec.pixels, rec.png, out->mutable_image());
  for (size_t s = 0; s < rec.samples.size(); ++s)
    fill(rec.samples[s], s < rec.sample_pngs.size() ? rec.sample_pngs[s] : std::string(),
         out->add_samples());
  if (rec.pixel_sd.size() > 0) fill(rec.pixel_sd, rec.pixel_sd_png, out->mutable_pixel_sd());
  if (rec.attention.size() > 0) {
    fill(rec.attention, rec.attention_png, out->mutable_attention());
    out->mutable_attention()->set_channels(1);
  }
  auto* t = out->mutable_timings();
  ToDurationProto(rec.timings.queue, t->mutable_queue());
  ToDurationProto(rec.timings.preprocess, t->mutable_preprocess());
  ToDurationProto(rec.timings.decode, t->mutable_decode());
  ToDurationProto(rec.timings.generate, t->mutable_generate());
  ToDurationProto(rec.timings.refine, t->mutable_refine());
  ToDurationProto(rec.timings.encode, t->mutable_encode());
  ToDurationProto(rec.timings.total, t->mutable_total());
}

absl::Status ToProgressProto(int iteration, const Eigen::VectorXd& loss,
                             const Eigen::MatrixXf& images,
                             const voxel2pixel::v1::ReconstructRequest& request,
                             const core::ModelManifest& manifest,
                             voxel2pixel::v1::RefineProgress* out) {
  if (images.rows() != request.samples_size() || loss.size() != request.samples_size())
    return absl::InternalError(
        absl::StrCat("progress for ", images.rows(), " samples of ", request.samples_size()));
  out->set_iteration(iteration);
  for (int i = 0; i < request.samples_size(); ++i) {
    auto* sample = out->add_samples();
    sample->set_sample_id(request.samples(i).id());
    sample->set_loss(loss(i));
    const Eigen::VectorXf pixels = images.row(i).transpose();
    ASSIGN_OR_RETURN(std::string png, core::EncodePng(pixels.data(), manifest.image));
    auto* image = sample->mutable_image();
    image->set_png(std::move(png));
    image->set_height(manifest.image.height);
    image->set_width(manifest.image.width);
    image->set_channels(manifest.image.channels);
    if (request.include_pixels())
      image->mutable_pixels()->Add(pixels.data(), pixels.data() + pixels.size());
  }
  return absl::OkStatus();
}

void ToEvaluationProto(const core::ModelManifest::Evaluation& evaluation,
                       voxel2pixel::v1::Evaluation* e) {
  e->set_split(evaluation.split);
  e->set_num_samples(evaluation.num_samples);
  e->set_ssim_definition(evaluation.ssim_definition);
  for (const auto& [k, v] : evaluation.metrics) (*e->mutable_metrics())[k] = v;
  for (const auto& [k, v] : evaluation.baseline_metrics) {
    (*e->mutable_baseline_metrics())[k] = v;
  }
  for (const auto& h : evaluation.hyperparameters) {
    voxel2pixel::v1::Hyperparameter* out = e->add_hyperparameters();
    out->set_name(h.name);
    out->set_chosen(h.chosen);
    out->set_folds(h.folds);
    out->mutable_grid()->Add(h.grid.begin(), h.grid.end());
    out->mutable_cv_error()->Add(h.error.begin(), h.error.end());
  }
}

void ToModelProto(const ModelRegistry::ModelInfo& info, voxel2pixel::v1::Model* out) {
  const core::ModelManifest& m = info.manifest;
  out->set_name(m.name);
  out->set_version(m.version);
  out->set_num_voxels(m.num_voxels);
  out->mutable_image_shape()->set_height(m.image.height);
  out->mutable_image_shape()->set_width(m.image.width);
  out->mutable_image_shape()->set_channels(m.image.channels);
  out->set_pixel_max(m.pixel_max);
  out->set_pipeline_description(m.description);
  out->set_pipeline_spec(info.spec_text);
  out->set_dataset(m.dataset);
  const int64_t ms = absl::ToUnixMillis(m.create_time);
  out->mutable_create_time()->set_seconds(ms / 1000);
  out->mutable_create_time()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  for (int64_t v : info.versions) out->add_available_versions(v);
  if (!info.mean_image.empty()) {
    auto* mean = out->mutable_mean_training_image();
    mean->set_height(m.image.height);
    mean->set_width(m.image.width);
    mean->set_channels(m.image.channels);
    mean->mutable_pixels()->Add(info.mean_image.begin(), info.mean_image.end());
  }
  ToEvaluationProto(m.evaluation, out->mutable_evaluation());
}

}  // namespace v2p::worker
