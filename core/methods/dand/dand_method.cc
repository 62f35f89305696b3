#include "core/methods/dand/dand_method.h"

#include "Eigen/Cholesky"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/decoding/map_decoder.h"
#include "core/decoding/ridge_decoder.h"
#include "core/features/pca.h"
#include "core/methods/fitting.h"
#include "core/methods/hyper/hyper_method.h"
#include "core/pipeline/trainer.h"

namespace v2p::core {
namespace {

// The paired GAN from every generator image's own components to the image;
// one progress step per epoch.
absl::StatusOr<std::unique_ptr<GanGenerator>> TrainPairedGan(const DandOptions& p,
                                                             const FitContext& c,
                                                             const FeatureNetwork& network,
                                                             const Eigen::MatrixXf& images,
                                                             const Eigen::MatrixXd& components) {
  GanOptions go = p.generator;
  if (go.lambda_fea > 0) {
    RETURN_IF_ERROR(network.Layer(go.feature_layer).status());
    go.feature_network = &network;
  }
  auto report = GeneratorProgress(*c.hooks, go.epochs);
  go.on_epoch = [&](const GanEpoch& e) {
    LogInfo("train", "DAND GAN epoch ", e.epoch, "/", go.epochs, ": L_dis ", e.discriminator,
            ", L_adv ", e.adversarial, ", L_sti ", e.stimulus,
            go.feature_network != nullptr ? absl::StrCat(", L_fea ", e.feature) : "");
    report(e.epoch, e.stimulus);
  };
  go.is_cancelled = c.hooks->is_cancelled;
  ASSIGN_OR_RETURN(auto trainer, GanTrainer::CreatePaired(images, components.cast<float>(),
                                                          c.dataset->image, go));
  RETURN_IF_ERROR(trainer->Train());
  return trainer->Finish();
}

}  // namespace

std::string DandMethod::Describe(ImageShape) const {
  const DandOptions& o = options_;
  return absl::StrCat(
      "MAP posterior -> ", absl::StrJoin(o.layers, "+"), " of ", o.network,
      " as whitened components (", o.explained_variance * 100, "% variance) -> DAND GAN",
      o.generator.lambda_fea > 0 ? absl::StrCat(" (feature loss ", o.generator.lambda_fea, " on ",
                                                o.generator.feature_layer, ")")
                                 : "");
}

// PCA of the layers over the generator's images (unpaired + fitted
// stimuli), whitened; the MAP decoder from betas to those components
// (served as its posterior-mean linear map); the paired GAN from components
// to images, sampling the posterior on request.
absl::StatusOr<FittedMethod> DandMethod::Fit(const FitContext& c) const {
  const DandOptions& p = options_;
  const Dataset& dataset = *c.dataset;
  const DatasetSplit& fit = *c.fit;
  ASSIGN_OR_RETURN(auto net, LoadStoredFeatureNetwork(c.repository_root, p.network,
                                                      p.network_version, dataset, p.layers));
  const FeatureNetwork& network = *net.network;
  Stopwatch watch;
  ASSIGN_OR_RETURN(const GeneratorImages g,
                   GeneratorTrainingImages(dataset, fit, true, 2 * p.generator.batch_size));
  const Eigen::MatrixXf& images = g.images;
  ASSIGN_OR_RETURN(const Eigen::MatrixXf all_features,
                   network.ExtractConcatenated(images, dataset.image, p.layers));
  PcaOptions po;
  po.explained_variance = p.explained_variance;
  po.whiten = true;
  ASSIGN_OR_RETURN(auto pca, PcaLayer::Fit(all_features.cast<double>(), po));
  LogInfo("train", "DAND: ", pca->num_components(), " components of ", absl::StrJoin(p.layers, "+"),
          " explain ", pca->explained_fraction(), " of the variance over ", images.rows(),
          " images (", g.source, ")");
  auto components = [&](const Eigen::MatrixXd& stimuli) -> absl::StatusOr<Eigen::MatrixXd> {
    ASSIGN_OR_RETURN(const Eigen::MatrixXd f,
                     LayerTargets(network, stimuli, dataset.image, p.layers));
    return pca->Transform(f);
  };
  FittedMethod f;
  ASSIGN_OR_RETURN(f.fit_targets, components(fit.stimuli));
  if (c.eval->stimuli.rows() > 0) {
    ASSIGN_OR_RETURN(f.eval_targets, components(c.eval->stimuli));
  }
  MapDecoderOptions mo;
  mo.ridge = p.ridge;
  ASSIGN_OR_RETURN(auto map, MapDecoder::Fit(f.fit_targets, fit.betas, mo));
  // The generator learns from every image's own components.
  ASSIGN_OR_RETURN(const Eigen::MatrixXd all_components,
                   pca->Transform(all_features.cast<double>()));
  ASSIGN_OR_RETURN(auto gan, TrainPairedGan(p, c, network, images, all_components));
  Eigen::LLT<Eigen::MatrixXd> llt(map->PosteriorCovariance());
  ASSIGN_OR_RETURN(std::unique_ptr<PosteriorGanGenerator> generator,
                   PosteriorGanGenerator::Create(std::move(gan), llt.matrixL()));
  f.manifest.fit_seconds = absl::ToDoubleSeconds(watch.Elapsed());
  ModelManifest& m = f.manifest;
  m.decoder = "ridge";
  m.generator = "dand";
  m.target = "latent";
  m.feature_network = net.id;
  m.feature_layers = {{"components", {f.fit_targets.cols()}, f.fit_targets.cols()}};
  f.add_scores = AddLatentScores;
  const PosteriorGanGenerator* trained = generator.get();
  f.save = [trained](const std::string& dir) { return trained->Save(dir + "/" + kGeneratorDir); };
  f.stages.decoder =
      RidgeDecoder::FromLinearMap(map->mean_map(), -map->response_mean() * map->mean_map());
  f.stages.generator = std::move(generator);
  return f;
}

absl::StatusOr<PipelineStages> DandMethod::Load(const std::string& dir, const ModelManifest&) {
  PipelineStages s;
  ASSIGN_OR_RETURN(s.decoder, RidgeDecoder::Load(dir));
  ASSIGN_OR_RETURN(s.generator, PosteriorGanGenerator::Load(dir + "/" + kGeneratorDir));
  return s;
}

}  // namespace v2p::core
