#include "core/methods/shen/feature_inversion.h"

#include <torch/torch.h>

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/exceptions.h"
#include "core/base/status_macros.h"
#include "core/features/feature_network_torch.h"
#include "core/generation/icg_torch.h"

namespace v2p::core {
namespace {

using RowMajorXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

torch::Tensor ToTensor(const Eigen::MatrixXf& m) {
  RowMajorXf rm = m;
  return torch::from_blob(rm.data(), {rm.rows(), rm.cols()}, torch::kFloat32).clone();
}

Eigen::MatrixXf ToMatrix(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat32).contiguous();
  return Eigen::Map<const RowMajorXf>(c.data_ptr<float>(), c.size(0), c.size(1));
}

Eigen::VectorXd ToVector(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kFloat64).contiguous();
  return Eigen::Map<const Eigen::VectorXd>(c.data_ptr<double>(), c.numel());
}

// The loss of one set of targets, as a function of the images.
class InversionProblem {
 public:
  static absl::StatusOr<InversionProblem> Create(const FeatureNetwork& network,
                                                 const LayerFeatures& targets, ImageShape shape,
                                                 Eigen::Index samples, double tv_weight,
                                                 const GeneratorPrior* prior = nullptr) {
    if (targets.empty()) return absl::InvalidArgumentError("feature inversion: no target layer");
    InversionProblem p(network, shape, tv_weight);
    if (prior != nullptr) RETURN_IF_ERROR(p.SetPrior(*prior, shape));
    if (shape.channels != network.input_shape().channels)
      return absl::InvalidArgumentError(
          absl::StrCat("feature inversion: ", shape.channels, "-channel images for a network of ",
                       network.input_shape().channels, "-channel input"));
    for (const auto& [name, y] : targets) {
      ASSIGN_OR_RETURN(const FeatureLayerInfo info, network.Layer(name));
      if (y.cols() != info.size || y.rows() != samples)
        return absl::InvalidArgumentError(absl::StrCat("feature inversion: targets of ", name,
                                                       " are ", y.rows(), "x", y.cols(),
                                                       "; expected ", samples, "x", info.size));
      if (!y.allFinite())
        return absl::InvalidArgumentError(absl::StrCat("targets of ", name, " hold NaN or Inf"));
      p.layers_.push_back(name);
      torch::Tensor t = ToTensor(y);
      const torch::Tensor norm2 = t.pow(2).sum(1);
      p.beta_[name] = torch::where(norm2 > 0, 1.0 / norm2, torch::ones_like(norm2));
      p.targets_[name] = std::move(t);
    }
    return p;
  }

  // Each sample's loss, differentiable with respect to x (n x pixels).
  torch::Tensor Loss(const torch::Tensor& x) const {
    auto phi = internal::DifferentiableLayers(network_, x, shape_, layers_);
    if (!phi.ok()) throw std::invalid_argument(std::string(phi.status().message()));
    torch::Tensor loss = torch::zeros({x.size(0)});
    for (const std::string& l : layers_)
      loss = loss + 0.5 * beta_.at(l) * (phi->at(l) - targets_.at(l)).pow(2).sum(1);
    if (tv_weight_ > 0) loss = loss + tv_weight_ * TotalVariation(x);
    return loss;
  }

  // The images of the optimised variable v: v itself (pixels), or
  // G(clamp(v)) under a generator prior.
  torch::Tensor Image(const torch::Tensor& v) const {
    if (prior_ == nullptr) return v;
    auto x = internal::DifferentiableGenerate(*prior_->generator,
                                              torch::max(torch::min(v, high_), low_));
    if (!x.ok()) throw std::invalid_argument(std::string(x.status().message()));
    return *x;
  }
  // Each sample's loss as a function of the optimised variable.
  torch::Tensor VariableLoss(const torch::Tensor& v) const { return Loss(Image(v)); }

  // Loss and gradient at v, without keeping the graph.
  std::pair<torch::Tensor, torch::Tensor> LossAndGradient(const torch::Tensor& v) const {
    torch::Tensor leaf = v.detach().requires_grad_(true);
    torch::Tensor loss = VariableLoss(leaf);
    loss.sum().backward();
    return {loss.detach(), leaf.grad().detach()};
  }

  // The variable every sample starts from.
  torch::Tensor Start(Eigen::Index n, float start_value, float dither) const {
    if (prior_ == nullptr) {
      const Eigen::MatrixXf row = InversionStartImage(shape_.num_pixels(), start_value, dither);
      return ToTensor(row).expand({n, shape_.num_pixels()}).clone();
    }
    return start_.expand({n, start_.size(1)}).clone();
  }
  // A gradient-descent step's scale per unit of the variable.
  torch::Tensor StepScale() const { return prior_ == nullptr ? torch::ones({1}) : (high_ - low_); }
  // What is reported: images in [0, 1].
  torch::Tensor Images(const torch::Tensor& v) const {
    torch::NoGradGuard no_grad;
    return Image(v).clamp(0, 1);
  }
  bool has_prior() const { return prior_ != nullptr; }

 private:
  InversionProblem(const FeatureNetwork& network, ImageShape shape, double tv_weight)
      : network_(network), shape_(shape), tv_weight_(tv_weight) {}

  // Sum of squared differences between vertical and horizontal neighbours.
  torch::Tensor TotalVariation(const torch::Tensor& x) const {
    const torch::Tensor img = x.reshape({x.size(0), shape_.height, shape_.width, shape_.channels});
    using torch::indexing::Slice;
    const torch::Tensor dh = img.index({Slice(), Slice(1, None), Slice(), Slice()}) -
                             img.index({Slice(), Slice(None, -1), Slice(), Slice()});
    const torch::Tensor dw = img.index({Slice(), Slice(), Slice(1, None), Slice()}) -
                             img.index({Slice(), Slice(), Slice(None, -1), Slice()});
    return dh.pow(2).sum({1, 2, 3}) + dw.pow(2).sum({1, 2, 3});
  }
  static constexpr auto None = torch::indexing::None;

  absl::Status SetPrior(const GeneratorPrior& prior, ImageShape shape) {
    if (prior.generator == nullptr)
      return absl::InvalidArgumentError("generator prior: no generator");
    const int k = prior.generator->input_size();
    if (!(prior.generator->image_shape() == shape))
      return absl::InvalidArgumentError(absl::StrCat(
          "generator prior: ", prior.generator->Describe(), " draws ",
          prior.generator->image_shape().height, "x", prior.generator->image_shape().width,
          " images; the targets are of ", shape.height, "x", shape.width, " images"));
    if (prior.low.size() != k || prior.high.size() != k || prior.start.size() != k)
      return absl::InvalidArgumentError(
          absl::StrCat("generator prior: low, high and start need ", k, " values each"));
    if ((prior.high.array() < prior.low.array()).any())
      return absl::InvalidArgumentError("generator prior: high is below low");
    prior_ = &prior;
    low_ = ToTensor(Eigen::MatrixXf(prior.low));
    high_ = ToTensor(Eigen::MatrixXf(prior.high));
    start_ = ToTensor(Eigen::MatrixXf(prior.start));
    return absl::OkStatus();
  }

  const FeatureNetwork& network_;
  ImageShape shape_;
  double tv_weight_;
  std::vector<std::string> layers_;
  std::map<std::string, torch::Tensor> targets_;
  std::map<std::string, torch::Tensor> beta_;
  const GeneratorPrior* prior_ = nullptr;
  torch::Tensor low_, high_, start_;  // 1 x condition units
};

// Calls on_progress when this iteration is due; the images (a generator
// pass under a prior) are made only then.
void Report(const InversionOptions& o, int iteration, const torch::Tensor& loss,
            const InversionProblem& problem, const torch::Tensor& x) {
  if (o.progress_every > 0 && o.on_progress && iteration % o.progress_every == 0)
    o.on_progress(iteration, ToVector(loss), ToMatrix(problem.Images(x)));
}

// icnn_gd: normalised gradient, momentum, a linearly falling step.
int RunGradientDescent(const InversionProblem& problem, const InversionOptions& o, torch::Tensor* x,
                       bool* stopped) {
  torch::Tensor delta = torch::zeros_like(*x);
  for (int t = 0; t < o.iterations; ++t) {
    if (o.should_stop && o.should_stop()) return *stopped = true, t;
    const double lr = o.lr_start + t * (o.lr_end - o.lr_start) / o.iterations;
    auto [loss, grad] = problem.LossAndGradient(*x);
    const torch::Tensor scale = grad.abs().mean(1, /*keepdim=*/true);
    grad = grad / torch::where(scale > 0, scale, torch::ones_like(scale));
    delta = delta * o.momentum + grad;
    *x = *x - lr * delta * problem.StepScale();
    if (!problem.has_prior()) *x = x->clamp(0, 1);
    Report(o, t + 1, loss, problem, *x);
  }
  return o.iterations;
}

// L-BFGS, one iteration (with its line search) per step. Pixels are
// clipped to [0, 1] only in what is reported and returned: clipping the
// optimised variable between steps breaks the curvature pairs L-BFGS
// keeps (on digit69 with all layers, 200 iterations: loss 4.0 -> 2.9 with
// clipping each step, -> 1e-7 without).
int RunLbfgs(const InversionProblem& problem, const InversionOptions& o, torch::Tensor* x,
             bool* stopped) {
  torch::Tensor param = x->detach().clone().requires_grad_(true);
  torch::optim::LBFGS optimizer({param}, torch::optim::LBFGSOptions(1)
                                             .max_iter(1)
                                             .history_size(o.lbfgs_history)
                                             .line_search_fn("strong_wolfe"));
  torch::Tensor last_loss;
  auto closure = [&] {
    optimizer.zero_grad();
    last_loss = problem.VariableLoss(param);
    torch::Tensor total = last_loss.sum();
    total.backward();
    return total;
  };
  int t = 0;
  for (; t < o.iterations; ++t) {
    if (o.should_stop && o.should_stop()) {
      *stopped = true;
      break;
    }
    optimizer.step(closure);
    Report(o, t + 1, last_loss.detach(), problem, param.detach());
  }
  *x = param.detach();
  return t;
}

}  // namespace

absl::StatusOr<Eigen::VectorXd> InversionLoss(const FeatureNetwork& network,
                                              const LayerFeatures& targets,
                                              const Eigen::MatrixXf& images, ImageShape shape,
                                              Eigen::MatrixXf* gradient, double tv_weight) {
  if (images.cols() != shape.num_pixels())
    return absl::InvalidArgumentError(absl::StrCat("feature inversion: images have ", images.cols(),
                                                   " pixels; ", shape.num_pixels(), " expected"));
  return GuardedCall("feature inversion loss", [&]() -> absl::StatusOr<Eigen::VectorXd> {
    ASSIGN_OR_RETURN(const InversionProblem problem,
                     InversionProblem::Create(network, targets, shape, images.rows(), tv_weight));
    const auto [loss, grad] = problem.LossAndGradient(ToTensor(images));
    if (gradient != nullptr) *gradient = ToMatrix(grad);
    return ToVector(loss);
  });
}

absl::StatusOr<Eigen::VectorXd> InversionLossOverCondition(
    const FeatureNetwork& network, const LayerFeatures& targets, const GeneratorPrior& prior,
    const Eigen::MatrixXf& conditions, ImageShape shape, Eigen::MatrixXf* gradient) {
  return GuardedCall("feature inversion loss", [&]() -> absl::StatusOr<Eigen::VectorXd> {
    ASSIGN_OR_RETURN(
        const InversionProblem problem,
        InversionProblem::Create(network, targets, shape, conditions.rows(), 0, &prior));
    const auto [loss, grad] = problem.LossAndGradient(ToTensor(conditions));
    if (gradient != nullptr) *gradient = ToMatrix(grad);
    return ToVector(loss);
  });
}

absl::StatusOr<InversionResult> InvertFeatures(const FeatureNetwork& network,
                                               const LayerFeatures& targets, ImageShape shape,
                                               const InversionOptions& options) {
  if (options.iterations < 0)
    return absl::InvalidArgumentError("feature inversion: iterations must be >= 0");
  const Eigen::Index n = targets.empty() ? 0 : targets.begin()->second.rows();
  return GuardedCall("feature inversion", [&]() -> absl::StatusOr<InversionResult> {
    ASSIGN_OR_RETURN(
        const InversionProblem problem,
        InversionProblem::Create(network, targets, shape, n, options.tv_weight, options.prior));
    torch::Tensor x = problem.Start(n, options.start_value, options.start_dither);
    InversionResult result;
    result.initial_loss = ToVector(problem.LossAndGradient(x).first);
    result.iterations = options.optimizer == InversionOptimizer::kLbfgs
                            ? RunLbfgs(problem, options, &x, &result.stopped_early)
                            : RunGradientDescent(problem, options, &x, &result.stopped_early);
    result.final_loss = ToVector(problem.LossAndGradient(x).first);
    result.images = ToMatrix(problem.Images(x));
    return result;
  });
}

Eigen::RowVectorXf InversionStartImage(int num_pixels, float value, float dither) {
  std::mt19937 rng(20190117);  // fixed: the same start every call
  std::uniform_real_distribution<float> u(-dither, dither);
  Eigen::RowVectorXf row(num_pixels);
  for (int i = 0; i < num_pixels; ++i) row(i) = value + (dither > 0 ? u(rng) : 0.0f);
  return row;
}

Eigen::MatrixXf CorrectFeatureNorm(const Eigen::MatrixXf& features,
                                   const std::vector<int64_t>& layer_shape, double psi_mean) {
  Eigen::MatrixXf out = features;
  for (Eigen::Index i = 0; i < features.rows(); ++i) {
    const Eigen::VectorXd row = features.row(i).transpose().cast<double>();
    const double psi = ShenFeatureStd(row, layer_shape);
    if (psi > 0) out.row(i) = (features.row(i).cast<double>() * (psi_mean / psi)).cast<float>();
  }
  return out;
}

}  // namespace v2p::core
