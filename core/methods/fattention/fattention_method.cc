#include "core/methods/fattention/fattention_method.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/exceptions.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/decoding/standardizing_decoder.h"
#include "core/evaluation/metrics.h"
#include "core/features/feature_network_torch.h"
#include "core/generation/tensor_convert.h"
#include "core/methods/fattention/epoch_checkpoints.h"
#include "core/methods/fattention/fattention_generator.h"
#include "core/methods/fattention/networks.h"
#include "core/methods/fitting.h"
#include "core/pipeline/trainer.h"

namespace v2p::core {
namespace {

using internal::FAttentionArch;
using internal::FromTensor;
using internal::ToTensor;

constexpr char kFAttentionDir[] = "fattention";

// What the three trainings share.
struct Training {
  const FAttentionOptions* o = nullptr;
  const FitContext* c = nullptr;
  FAttentionArch arch;
  torch::Tensor x;       // [n, voxels]: standardised fitted betas
  torch::Tensor s;       // [n, pixels]: their stimuli
  torch::Tensor labels;  // [n, 1, h, w]: the stimuli's foreground
  torch::Tensor u;       // [m, pixels]: unpaired images
  torch::Tensor u_labels;
  const FeatureNetwork* network = nullptr;  // may be null
  std::vector<int64_t> encoder_shape;       // the encoder layer's C, H, W; empty: pixels
  double feature_scale = 1;                 // mean square of the feature layer over s
  std::function<void(int, double)> report;
  int epochs_done = 0;
  std::mt19937_64 rng;
  internal::EpochCheckpoints* checkpoints = nullptr;
};

// The training's stages, as its checkpoints number them.
enum Stage { kAttentionStage = 0, kEncoderStage = 1, kDecoderStage = 2 };

absl::StatusOr<torch::Tensor> EncoderInput(const Training& t, const torch::Tensor& images) {
  if (t.network == nullptr) return images;
  return internal::DifferentiableLayer(*t.network, images, t.c->dataset->image, t.o->encoder_layer);
}

// The paper's encoder loss: 0.85 * MSE - 0.15 * cosine similarity.
torch::Tensor EncoderLoss(const torch::Tensor& predicted, const torch::Tensor& x) {
  return 0.85 * (predicted - x).pow(2).mean() -
         0.15 * torch::cosine_similarity(predicted, x, 1).mean();
}

absl::StatusOr<torch::Tensor> ImageLoss(const Training& t, const torch::Tensor& images,
                                        const torch::Tensor& target) {
  torch::Tensor loss = (images - target).pow(2).mean();
  if (t.network == nullptr || t.o->feature_weight <= 0) return loss;
  const ImageShape shape = t.c->dataset->image;
  ASSIGN_OR_RETURN(const torch::Tensor f,
                   internal::DifferentiableLayer(*t.network, images, shape, t.o->feature_layer));
  torch::Tensor g;
  {
    torch::NoGradGuard no_grad;
    ASSIGN_OR_RETURN(g,
                     internal::DifferentiableLayer(*t.network, target, shape, t.o->feature_layer));
  }
  return loss + t.o->feature_weight * (f - g).pow(2).mean() / t.feature_scale;
}

// The SGDR shape for `epochs` epochs of `batches` steps: one epoch of
// warm-up, then three equal cosine periods.
SgdrSchedule Schedule(SgdrSchedule s, int epochs, int64_t batches) {
  const int steps = static_cast<int>(std::max<int64_t>(1, epochs * batches));
  s.warmup_steps = static_cast<int>(std::min<int64_t>(batches, steps));
  s.period_steps = std::max(1, (steps - s.warmup_steps) / 3);
  s.period_mult = 1;
  return s;
}

using BatchLoss = std::function<absl::StatusOr<torch::Tensor>(const torch::Tensor& idx)>;

// `epochs` epochs of `net` over n rows in shuffled batches, the rate set
// per step; from the stage's checkpoint when there is one, saving one after
// an epoch when checkpoint_seconds have passed since the last, and at the
// end.
absl::Status RunEpochs(Training& t, Stage stage, const char* what, torch::nn::Module& net,
                       int64_t n, int epochs, SgdrSchedule schedule, torch::optim::Optimizer& opt,
                       const BatchLoss& loss_of) {
  const int64_t per_epoch = (n + t.o->batch_size - 1) / t.o->batch_size;
  schedule = Schedule(schedule, epochs, per_epoch);
  ASSIGN_OR_RETURN(const int done, t.checkpoints->Resume(stage, net, opt));
  t.epochs_done += done;
  // The batches each epoch runs (ShuffledBatches drops a last one of one row).
  const int64_t batches_run = n / t.o->batch_size + (n % t.o->batch_size >= 2 ? 1 : 0);
  int step = static_cast<int>(done * batches_run);
  Stopwatch since_saved;
  for (int e = done + 1; e <= epochs; ++e) {
    double sum = 0;
    int batches = 0;
    for (const torch::Tensor& idx : internal::ShuffledBatches(n, t.o->batch_size, t.rng)) {
      if (t.c->hooks->cancelled())
        return absl::CancelledError(absl::StrCat("F-attention training cancelled (", what, ")"));
      for (auto& group : opt.param_groups()) group.options().set_lr(schedule.Rate(step));
      ++step;
      opt.zero_grad();
      ASSIGN_OR_RETURN(const torch::Tensor loss, loss_of(idx));
      loss.backward();
      opt.step();
      sum += loss.item<double>();
      ++batches;
    }
    const double mean = sum / std::max(1, batches);
    if (e == epochs || absl::ToDoubleSeconds(since_saved.Elapsed()) >= t.o->checkpoint_seconds) {
      RETURN_IF_ERROR(t.checkpoints->Save(stage, e, net, opt, t.rng));
      since_saved = Stopwatch();
    }
    t.report(++t.epochs_done, mean);
    if (e == epochs || e % 10 == 0)
      LogInfo("train", "F-attention ", what, " epoch ", e, "/", epochs, ": loss ", mean);
  }
  return absl::OkStatus();
}

SgdrSchedule AdamSchedule(const FAttentionOptions& o) {
  SgdrSchedule s;
  s.peak = o.learning_rate;
  s.floor = o.learning_rate * o.attention_schedule.floor / o.attention_schedule.peak;
  return s;
}

absl::StatusOr<internal::AttentionDecoderNet> TrainAttention(Training& t) {
  torch::manual_seed(t.o->seed);
  internal::AttentionDecoderNet a(t.arch);
  a->prior.copy_(internal::MeanLogit(t.labels.flatten(1), t.arch.height, t.arch.width, 1));
  a->train();
  torch::optim::SGD opt(a->parameters(),
                        torch::optim::SGDOptions(t.o->attention_schedule.peak).momentum(0.9));
  RETURN_IF_ERROR(RunEpochs(
      t, kAttentionStage, "attention decoder", *a, t.x.size(0), t.o->attention_epochs,
      t.o->attention_schedule, opt, [&](const torch::Tensor& idx) {
        return torch::mse_loss(a->forward(t.x.index_select(0, idx)), t.labels.index_select(0, idx));
      }));
  a->eval();
  return a;
}

absl::StatusOr<internal::FmriEncoderNet> TrainEncoder(Training& t) {
  torch::Tensor features;
  {
    torch::NoGradGuard no_grad;
    ASSIGN_OR_RETURN(features, EncoderInput(t, t.s));
  }
  torch::manual_seed(t.o->seed + 1);
  internal::FmriEncoderNet e(t.arch, t.encoder_shape);
  e->train();
  torch::optim::Adam opt(e->parameters(), torch::optim::AdamOptions(t.o->learning_rate));
  RETURN_IF_ERROR(RunEpochs(
      t, kEncoderStage, "fMRI encoder", *e, t.x.size(0), t.o->encoder_epochs, AdamSchedule(*t.o),
      opt, [&](const torch::Tensor& idx) -> absl::StatusOr<torch::Tensor> {
        return EncoderLoss(e->forward(features.index_select(0, idx)), t.x.index_select(0, idx));
      }));
  e->eval();
  for (auto& p : e->parameters()) p.set_requires_grad(false);
  return e;
}

// E's betas for images, and the maps their decoded images use.
struct Encoded {
  torch::Tensor betas, maps;
};
absl::StatusOr<Encoded> Encode(const Training& t, internal::FmriEncoderNet& e,
                               internal::AttentionDecoderNet& a, const torch::Tensor& images,
                               const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  ASSIGN_OR_RETURN(const torch::Tensor f, EncoderInput(t, images));
  Encoded out;
  out.betas = e->forward(f);
  out.maps = t.o->loop_uses_labels ? labels : a->forward(out.betas);
  return out;
}

// One batch of the image decoder's objective (see the header).
absl::StatusOr<torch::Tensor> DecoderLoss(Training& t, internal::ImageDecoderNet& d,
                                          internal::FmriEncoderNet& e,
                                          internal::AttentionDecoderNet& a,
                                          const torch::Tensor& idx) {
  const torch::Tensor x = t.x.index_select(0, idx), s = t.s.index_select(0, idx);
  torch::Tensor map_x;
  {
    torch::NoGradGuard no_grad;
    map_x = a->forward(x);
  }
  ASSIGN_OR_RETURN(const Encoded es, Encode(t, e, a, s, t.labels.index_select(0, idx)));
  const torch::Tensor from_x = d->forward(x, map_x), from_es = d->forward(es.betas, es.maps);
  ASSIGN_OR_RETURN(torch::Tensor l1, ImageLoss(t, from_x, s));
  ASSIGN_OR_RETURN(torch::Tensor l2, ImageLoss(t, from_es, s));
  torch::Tensor loss = l1 + l2;
  if (t.o->loop_weight > 0) {
    ASSIGN_OR_RETURN(const torch::Tensor f1, EncoderInput(t, from_x));
    ASSIGN_OR_RETURN(const torch::Tensor f2, EncoderInput(t, from_es));
    loss =
        loss + t.o->loop_weight * (EncoderLoss(e->forward(f1), x) + EncoderLoss(e->forward(f2), x));
  }
  if (t.o->unpaired_weight > 0 && t.u.size(0) > 0) {
    const torch::Tensor pick =
        torch::randint(t.u.size(0), {idx.size(0)}, torch::TensorOptions().dtype(torch::kInt64));
    const torch::Tensor u = t.u.index_select(0, pick);
    ASSIGN_OR_RETURN(const Encoded eu, Encode(t, e, a, u, t.u_labels.index_select(0, pick)));
    ASSIGN_OR_RETURN(const torch::Tensor l3, ImageLoss(t, d->forward(eu.betas, eu.maps), u));
    loss = loss + t.o->unpaired_weight * l3;
  }
  return loss;
}

absl::StatusOr<internal::ImageDecoderNet> TrainDecoder(Training& t, internal::FmriEncoderNet& e,
                                                       internal::AttentionDecoderNet& a) {
  torch::manual_seed(t.o->seed + 2);
  internal::ImageDecoderNet d(t.arch);
  d->prior.copy_(internal::MeanLogit(t.s, t.arch.height, t.arch.width, t.arch.image_channels));
  d->train();
  torch::optim::Adam opt(d->parameters(), torch::optim::AdamOptions(t.o->learning_rate));
  RETURN_IF_ERROR(RunEpochs(
      t, kDecoderStage, "image decoder", *d, t.x.size(0), t.o->decoder_epochs, AdamSchedule(*t.o),
      opt, [&](const torch::Tensor& idx) { return DecoderLoss(t, d, e, a, idx); }));
  d->eval();
  return d;
}

absl::Status CheckOptions(const FAttentionOptions& o, ImageShape image) {
  if (image.height % 4 != 0 || image.width % 4 != 0 || image.height < 4 || image.width < 4)
    return absl::InvalidArgumentError(absl::StrCat("fattention needs images whose sides are ",
                                                   "multiples of 4; these are ", image.height, "x",
                                                   image.width));
  if (o.channels < 4 || o.channels % 4 != 0 || o.channels > 512)
    return absl::InvalidArgumentError("fattention: channels is a multiple of 4 from 4 to 512");
  if (o.batch_size < 2 || o.attention_epochs < 0 || o.encoder_epochs < 0 || o.decoder_epochs < 0)
    return absl::InvalidArgumentError("fattention: batch_size >= 2 and epochs >= 0");
  if (!(o.checkpoint_seconds >= 0))
    return absl::InvalidArgumentError("fattention: checkpoint_seconds >= 0");
  for (double v : {o.lambda, o.mu, o.loop_weight, o.unpaired_weight, o.feature_weight})
    if (!(v >= 0) || !std::isfinite(v))
      return absl::InvalidArgumentError(
          "fattention: lambda, mu and the loss weights are finite and >= 0");
  if (!(o.learning_rate > 0) || !(o.attention_schedule.peak > 0) ||
      !(o.attention_schedule.floor >= 0))
    return absl::InvalidArgumentError("fattention: learning rates are > 0");
  return absl::OkStatus();
}

// Everything the trainings need from the dataset and the stored network.
absl::Status Prepare(const FitContext& c, const Eigen::MatrixXf& standardized,
                     const StoredFeatureNetwork* net, Training* t) {
  const FAttentionOptions& o = *t->o;
  const ImageShape image = c.dataset->image;
  t->arch.voxels = static_cast<int>(standardized.cols());
  t->arch.height = image.height;
  t->arch.width = image.width;
  t->arch.image_channels = image.channels;
  t->arch.channels = o.channels;
  t->arch.lambda = o.lambda;
  t->arch.mu = o.mu;
  t->x = ToTensor(standardized);
  const Eigen::MatrixXf stimuli = c.fit->stimuli.cast<float>();
  t->s = ToTensor(stimuli);
  ASSIGN_OR_RETURN(const Eigen::MatrixXf labels, ForegroundLabels(stimuli, image, o.labels));
  t->labels = ToTensor(labels).view({labels.rows(), 1, image.height, image.width});
  ASSIGN_OR_RETURN(const GeneratorImages g, GeneratorTrainingImages(*c.dataset, *c.fit, true, 0));
  LogInfo("train", "F-attention unpaired images: ", g.images.rows(), " (", g.source, ")");
  ASSIGN_OR_RETURN(const Eigen::MatrixXf u_labels, ForegroundLabels(g.images, image, o.labels));
  t->u = ToTensor(g.images);
  t->u_labels = ToTensor(u_labels).view({u_labels.rows(), 1, image.height, image.width});
  if (net != nullptr) {
    t->network = net->network.get();
    ASSIGN_OR_RETURN(const FeatureLayerInfo layer, t->network->Layer(o.encoder_layer));
    if (layer.shape.size() != 3)
      return absl::InvalidArgumentError(
          absl::StrCat("fattention: encoder_layer ", o.encoder_layer, " is not convolutional"));
    t->encoder_shape = layer.shape;
    torch::NoGradGuard no_grad;
    ASSIGN_OR_RETURN(const torch::Tensor f,
                     internal::DifferentiableLayer(*t->network, t->s, image, o.feature_layer));
    t->feature_scale = std::max(1e-12, f.pow(2).mean().item<double>());
  }
  t->rng.seed(o.seed);
  return absl::OkStatus();
}

// How well E predicts the scored trials' betas (standardised as the fitted
// ones) from their stimuli, trials it never saw: the mean over voxels of
// each voxel's correlation across the trials ("encoder_voxel_r", voxels
// that do not vary left out), and the mean over trials of the correlation
// across voxels ("encoder_pattern_r").
absl::Status ScoreEncoder(const Training& t, internal::FmriEncoderNet& e,
                          const Decoder& standardize, ModelManifest* m) {
  const DatasetSplit& eval = *t.c->eval;
  if (eval.betas.rows() < 3 || eval.stimuli.rows() != eval.betas.rows()) return absl::OkStatus();
  Eigen::MatrixXf measured = eval.betas.cast<float>();
  standardize.Standardize(&measured);
  Eigen::MatrixXd predicted;
  {
    torch::NoGradGuard no_grad;
    ASSIGN_OR_RETURN(const torch::Tensor f, EncoderInput(t, ToTensor(eval.stimuli.cast<float>())));
    predicted = FromTensor(e->forward(f)).cast<double>();
  }
  const Eigen::MatrixXd y = measured.cast<double>();
  double voxel_r = 0;
  int voxels = 0;
  for (Eigen::Index v = 0; v < y.cols(); ++v) {
    const Eigen::ArrayXd a = predicted.col(v).array() - predicted.col(v).mean();
    const Eigen::ArrayXd b = y.col(v).array() - y.col(v).mean();
    const double den = std::sqrt((a * a).sum() * (b * b).sum());
    if (den <= 0) continue;
    voxel_r += (a * b).sum() / den;
    ++voxels;
  }
  double pattern_r = 0;
  for (Eigen::Index i = 0; i < y.rows(); ++i)
    pattern_r += PixelPcc(predicted.row(i).transpose(), y.row(i).transpose());
  m->evaluation.metrics["encoder_voxel_r"] = voxel_r / std::max(1, voxels);
  m->evaluation.metrics["encoder_pattern_r"] = pattern_r / static_cast<double>(y.rows());
  LogInfo("train", "F-attention encoder E on the scored trials: voxel r ",
          m->evaluation.metrics["encoder_voxel_r"], " (", voxels, " voxels), pattern r ",
          m->evaluation.metrics["encoder_pattern_r"]);
  return absl::OkStatus();
}

// The attention maps of the scored trials against their labels, with the
// mean training map as the baseline, into the manifest's evaluation.
absl::Status ScoreAttention(const FitContext& c, const FAttentionOptions& o,
                            const FAttentionGenerator& g, const Decoder& standardize,
                            ModelManifest* m) {
  const DatasetSplit& eval = *c.eval;
  if (eval.betas.rows() == 0 || eval.stimuli.rows() != eval.betas.rows()) return absl::OkStatus();
  const ImageShape image = c.dataset->image;
  Eigen::MatrixXf x = eval.betas.cast<float>();
  standardize.Standardize(&x);
  ASSIGN_OR_RETURN(const Eigen::MatrixXf maps, g.Attention(x));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf truth,
                   ForegroundLabels(eval.stimuli.cast<float>(), image, o.labels));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf fit_labels,
                   ForegroundLabels(c.fit->stimuli.cast<float>(), image, o.labels));
  const Eigen::MatrixXd mean_map =
      fit_labels.colwise().mean().cast<double>().replicate(truth.rows(), 1);
  const auto [iou, pcc] = ScoreAttentionMaps(maps.cast<double>(), truth.cast<double>());
  const auto [base_iou, base_pcc] = ScoreAttentionMaps(mean_map, truth.cast<double>());
  m->evaluation.metrics["attention_iou"] = iou;
  m->evaluation.metrics["attention_pcc"] = pcc;
  m->evaluation.baseline_metrics["attention_iou"] = base_iou;
  m->evaluation.baseline_metrics["attention_pcc"] = base_pcc;
  LogInfo("train", "F-attention maps on the scored trials: IoU ", iou, ", PCC ", pcc,
          " (mean training map: IoU ", base_iou, ", PCC ", base_pcc, ")");
  return absl::OkStatus();
}

}  // namespace

std::string FAttentionMethod::Describe(ImageShape) const {
  const FAttentionOptions& o = options_;
  return absl::StrCat("F-attention map + image decoder (", o.lambda, " A.F + ", o.mu,
                      " F), loop loss ", o.loop_weight, ", unpaired ", o.unpaired_weight,
                      o.network.empty()
                          ? ", pixels only"
                          : absl::StrCat(", E on ", o.encoder_layer, " of ", o.network));
}

absl::StatusOr<FittedMethod> FAttentionMethod::Fit(const FitContext& c) const {
  const FAttentionOptions& o = options_;
  RETURN_IF_ERROR(CheckOptions(o, c.dataset->image));
  if (c.fit->stimuli.rows() != c.fit->betas.rows() || c.fit->betas.rows() < 2)
    return absl::InvalidArgumentError("fattention needs the fitted trials' stimuli");
  Stopwatch watch;
  std::optional<StoredFeatureNetwork> net;
  if (!o.network.empty()) {
    std::vector<std::string> layers = {o.encoder_layer};
    if (o.feature_layer != o.encoder_layer) layers.push_back(o.feature_layer);
    ASSIGN_OR_RETURN(net, LoadStoredFeatureNetwork(c.repository_root, o.network, o.network_version,
                                                   *c.dataset, layers));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<StandardizingDecoder> standardize,
                   StandardizingDecoder::Fit(c.fit->betas));
  Eigen::MatrixXf x = c.fit->betas.cast<float>();
  standardize->Standardize(&x);
  internal::EpochCheckpoints checkpoints(
      c.hooks->checkpoint_dir.empty() ? "" : c.hooks->checkpoint_dir + "/" + kFAttentionDir,
      {o.attention_epochs, o.encoder_epochs, o.decoder_epochs});
  Training t;
  t.o = &o;
  t.c = &c;
  t.checkpoints = &checkpoints;
  t.report = GeneratorProgress(*c.hooks, o.attention_epochs + o.encoder_epochs + o.decoder_epochs,
                               checkpoints.resumed_epochs());
  std::unique_ptr<internal::FAttentionNets> nets;
  FittedMethod f;
  ModelManifest& m = f.manifest;
  RETURN_IF_ERROR(GuardedCall("F-attention training", [&]() -> absl::Status {
    RETURN_IF_ERROR(Prepare(c, x, net ? &*net : nullptr, &t));
    checkpoints.RestoreShuffler(&t.rng);
    ASSIGN_OR_RETURN(internal::AttentionDecoderNet a, TrainAttention(t));
    ASSIGN_OR_RETURN(internal::FmriEncoderNet e, TrainEncoder(t));
    ASSIGN_OR_RETURN(internal::ImageDecoderNet d, TrainDecoder(t, e, a));
    RETURN_IF_ERROR(ScoreEncoder(t, e, *standardize, &m));
    nets = std::make_unique<internal::FAttentionNets>(t.arch);
    nets->attention = a;
    nets->decoder = d;
    return absl::OkStatus();
  }));
  auto generator = std::make_unique<FAttentionGenerator>(std::move(nets));
  m.fit_seconds = absl::ToDoubleSeconds(watch.Elapsed());
  m.decoder = "standardize";
  m.generator = kName;
  m.target = "pixels";
  if (net) m.feature_network = net->id;
  RETURN_IF_ERROR(ScoreAttention(c, o, *generator, *standardize, &m));
  const FAttentionGenerator* trained = generator.get();
  f.save = [trained](const std::string& dir) { return trained->Save(dir + "/" + kFAttentionDir); };
  f.stages.decoder = std::move(standardize);
  f.stages.generator = std::move(generator);
  return f;
}

absl::StatusOr<PipelineStages> FAttentionMethod::Load(const std::string& dir,
                                                      const ModelManifest&) {
  PipelineStages s;
  ASSIGN_OR_RETURN(s.decoder, StandardizingDecoder::Load(dir));
  ASSIGN_OR_RETURN(s.generator, FAttentionGenerator::Load(dir + "/" + kFAttentionDir));
  return s;
}

absl::StatusOr<std::shared_ptr<const Method>> FAttentionMethod::Create(
    const MethodParameters& parameters) {
  FAttentionOptions o;
  RETURN_IF_ERROR(ApplyParameters("fattention", parameters,
                                  {
                                      {"network", SetsValue(&o.network)},
                                      {"network_version", SetsValue(&o.network_version)},
                                      {"encoder_layer", SetsValue(&o.encoder_layer)},
                                      {"feature_layer", SetsValue(&o.feature_layer)},
                                      {"feature_weight", SetsValue(&o.feature_weight)},
                                      {"channels", SetsValue(&o.channels)},
                                      {"lambda", SetsValue(&o.lambda)},
                                      {"mu", SetsValue(&o.mu)},
                                      {"loop_weight", SetsValue(&o.loop_weight)},
                                      {"unpaired_weight", SetsValue(&o.unpaired_weight)},
                                      {"loop_uses_labels", SetsValue(&o.loop_uses_labels)},
                                      {"label_threshold", SetsValue(&o.labels.threshold)},
                                      {"otsu", SetsValue(&o.labels.otsu)},
                                      {"attention_epochs", SetsValue(&o.attention_epochs)},
                                      {"encoder_epochs", SetsValue(&o.encoder_epochs)},
                                      {"decoder_epochs", SetsValue(&o.decoder_epochs)},
                                      {"batch_size", SetsValue(&o.batch_size)},
                                      {"learning_rate", SetsValue(&o.learning_rate)},
                                      {"seed", SetsValue(&o.seed)},
                                      {"checkpoint_seconds", SetsValue(&o.checkpoint_seconds)},
                                  }));
  RETURN_IF_ERROR(CheckOptions(o, ImageShape{4, 4, 1}));
  return std::make_shared<const FAttentionMethod>(std::move(o));
}

}  // namespace v2p::core
