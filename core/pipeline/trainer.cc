#include "core/pipeline/trainer.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "core/data/npy.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "core/generation/identity_generator.h"
#include "core/pipeline/pipeline.h"

namespace v2p::core {

std::string DescribePipeline(const PipelineOptions& o, ImageShape image) {
  const auto& r = o.ridge.regression;
  return absl::StrCat(
      "ridge(alpha=", r.alpha,
      ", n_feat=", r.n_feat == 0 ? "all" : absl::StrCat(r.n_feat),
      o.ridge.standardize_voxels ? ", z-scored voxels" : "",
      o.ridge.penalize_intercept ? ", penalised bias" : "", ") -> pixels ",
      image.height, "x", image.width, "x", image.channels, " -> identity",
      o.clip_output ? ", clipped to [0,1]" : "");
}

absl::StatusOr<ModelManifest> TrainModel(const Dataset& dataset,
                                         const TrainRequest& request,
                                         ModelRepository& repository) {
  RETURN_IF_ERROR(ValidateModelName(request.model_name));
  const PipelineOptions& p = request.pipeline;
  LogInfo("train", "fitting ", DescribePipeline(p, dataset.image), " on ",
          dataset.train.betas.rows(), " samples x ", dataset.train.betas.cols(),
          " voxels");
  ASSIGN_OR_RETURN(
      std::unique_ptr<RidgeDecoder> decoder,
      RidgeDecoder::Fit(dataset.train.betas, dataset.train.stimuli, p.ridge));

  ModelManifest m;
  m.name = request.model_name;
  m.dataset = dataset.name;
  m.create_time = absl::Now();
  m.num_voxels = decoder->num_voxels();
  m.image = dataset.image;
  m.decoder = "ridge";
  m.generator = "identity";
  m.clip_output = p.clip_output;
  m.description = DescribePipeline(p, dataset.image);
  if (!p.note.empty()) m.description += absl::StrCat(" — ", p.note);

  // Score through the same Run() path the worker serves.
  const RidgeDecoder& fitted = *decoder;
  ASSIGN_OR_RETURN(auto pipeline,
                   Pipeline::Create(m, std::move(decoder),
                                    std::make_unique<const IdentityGenerator>(
                                        dataset.image)));
  const DatasetSplit& test = dataset.test;
  m.evaluation.split = "test";
  m.evaluation.num_samples = static_cast<int>(test.betas.rows());
  m.evaluation.ssim_definition = kSsimDefinition;
  if (test.betas.rows() > 0 && test.stimuli.rows() == test.betas.rows()) {
    RunOptions no_png;
    no_png.encode_png = false;
    ASSIGN_OR_RETURN(auto recs,
                     pipeline->Run(test.betas.cast<float>(), no_png));
    Eigen::MatrixXd rec(recs.size(), dataset.image.num_pixels());
    for (size_t i = 0; i < recs.size(); ++i)
      rec.row(i) = recs[i].pixels.cast<double>().transpose();
    ASSIGN_OR_RETURN(ImageScores scores,
                     ScoreReconstructions(rec, test.stimuli, dataset.image));
    ASSIGN_OR_RETURN(ImageScores base,
                     ScoreReconstructions(
                         MeanImageBaseline(dataset.train.stimuli, rec.rows()),
                         test.stimuli, dataset.image));
    m.evaluation.metrics = scores.ToMap();
    m.evaluation.baseline_metrics = base.ToMap();
    LogInfo("train", "test split: pcc ", scores.pcc, ", ssim ", scores.ssim,
            ", identification(pcc) ", scores.identification_pcc,
            " (mean image: pcc ", base.pcc, ")");
  }

  ASSIGN_OR_RETURN(
      const int64_t version,
      repository.CommitVersion(
          m.name, [&](const std::string& dir) -> absl::Status {
            RETURN_IF_ERROR(fitted.Save(dir));
            RETURN_IF_ERROR(
                WriteFile(dir + "/" + kSpecFile, request.spec_text));
            RETURN_IF_ERROR(WriteNpyFloat32(
                dir + "/" + kMeanImageFile,
                Eigen::MatrixXf(
                    dataset.train.stimuli.colwise().mean().cast<float>())));
            return WriteManifest(dir + "/" + kManifestFile, m);
          }));
  m.version = version;
  LogInfo("train", "committed ", m.name, " version ", version, " in ",
          repository.root());
  return m;
}

}  // namespace v2p::core
