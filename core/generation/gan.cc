#include "core/generation/gan.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/exceptions.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/data/npy.h"
#include "core/features/feature_network.h"
#include "core/features/feature_network_torch.h"
#include "core/generation/tensor_convert.h"

namespace v2p::core {
namespace {

using internal::FromTensor;
using internal::ToTensor;

constexpr char kConfigFile[] = "gan.txt";
constexpr char kWeightsFile[] = "generator.pt";

struct Arch {
  int side = 28;
  int latent_size = 32;
  int base_channels = 32;
  int stages() const { return side == 28 ? 2 : 4; }
  int base() const { return side >> stages(); }
  int top_channels() const { return base_channels << (stages() - 1); }
};

struct GeneratorNetImpl : torch::nn::Module {
  explicit GeneratorNetImpl(const Arch& a) : arch(a) {
    dense = register_module(
        "dense", torch::nn::Linear(a.latent_size, a.top_channels() * a.base() * a.base()));
    dense_norm = register_module("dense_norm", torch::nn::BatchNorm2d(a.top_channels()));
    int in = a.top_channels();
    for (int s = a.stages() - 1; s >= 0; --s) {
      const int out = s == 0 ? 1 : (a.base_channels << (s - 1));
      deconvs->push_back(torch::nn::ConvTranspose2d(
          torch::nn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1)));
      if (s > 0) norms->push_back(torch::nn::BatchNorm2d(out));
      in = out;
    }
    register_module("deconvs", deconvs);
    register_module("norms", norms);
  }
  torch::Tensor forward(const torch::Tensor& z) {
    torch::Tensor x = dense(z).view({z.size(0), arch.top_channels(), arch.base(), arch.base()});
    x = torch::relu(dense_norm(x));
    const size_t n = deconvs->size();
    for (size_t i = 0; i < n; ++i) {
      x = deconvs[i]->as<torch::nn::ConvTranspose2d>()->forward(x);
      if (i + 1 < n) x = torch::relu(norms[i]->as<torch::nn::BatchNorm2d>()->forward(x));
    }
    return ((torch::tanh(x) + 1) * 0.5).view({z.size(0), arch.side * arch.side});
  }
  Arch arch;
  torch::nn::Linear dense{nullptr};
  torch::nn::BatchNorm2d dense_norm{nullptr};
  torch::nn::ModuleList deconvs, norms;
};
TORCH_MODULE(GeneratorNet);

struct DiscriminatorNetImpl : torch::nn::Module {
  explicit DiscriminatorNetImpl(const Arch& a) : arch(a) {
    int in = 1;
    for (int s = 0; s < a.stages(); ++s) {
      const int out = a.base_channels << s;
      convs->push_back(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 4).stride(2).padding(1)));
      if (s > 0) norms->push_back(torch::nn::BatchNorm2d(out));
      in = out;
    }
    register_module("convs", convs);
    register_module("norms", norms);
    logit = register_module("logit", torch::nn::Linear(a.top_channels() * a.base() * a.base(), 1));
  }
  torch::Tensor forward(const torch::Tensor& y) {
    torch::Tensor x = y.view({y.size(0), 1, arch.side, arch.side});
    for (size_t i = 0; i < convs->size(); ++i) {
      x = convs[i]->as<torch::nn::Conv2d>()->forward(x);
      if (i > 0) x = norms[i - 1]->as<torch::nn::BatchNorm2d>()->forward(x);
      x = torch::leaky_relu(x, 0.2);
    }
    return logit(x.flatten(1)).squeeze(1);
  }
  Arch arch;
  torch::nn::ModuleList convs, norms;
  torch::nn::Linear logit{nullptr};
};
TORCH_MODULE(DiscriminatorNet);

absl::Status CheckImages(const Eigen::MatrixXf& images, ImageShape shape) {
  if (shape.channels != 1 || shape.height != shape.width ||
      (shape.height != 28 && shape.height != 64))
    return absl::InvalidArgumentError("GAN images must be 28x28 or 64x64 grey");
  if (images.rows() < 2 || images.cols() != shape.num_pixels())
    return absl::InvalidArgumentError(absl::StrCat("GAN needs >= 2 images of ", shape.num_pixels(),
                                                   " pixels; got ", images.rows(), "x",
                                                   images.cols()));
  if (!images.allFinite()) return absl::InvalidArgumentError("GAN images contain NaN or Inf");
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------- generator

struct GanGenerator::Impl {
  Arch arch;
  GeneratorNet net{nullptr};
  mutable std::mutex mu;  // modules are not safe to call concurrently
};

GanGenerator::GanGenerator() : impl_(std::make_unique<Impl>()) {}
GanGenerator::~GanGenerator() = default;

ImageShape GanGenerator::image_shape() const { return {impl_->arch.side, impl_->arch.side, 1}; }
int GanGenerator::input_size() const { return impl_->arch.latent_size; }
std::string GanGenerator::Describe() const {
  return absl::StrCat("GAN(latent ", impl_->arch.latent_size, ")");
}

absl::StatusOr<Eigen::MatrixXf> GanGenerator::Generate(const Eigen::MatrixXf& z) const {
  return GuardedCall("GAN forward pass", [&]() -> absl::StatusOr<Eigen::MatrixXf> {
    if (z.cols() != input_size())
      return absl::InvalidArgumentError(
          absl::StrCat("GAN takes ", input_size(), " latents; got ", z.cols()));
    torch::NoGradGuard no_grad;
    std::lock_guard<std::mutex> lock(impl_->mu);
    return FromTensor(impl_->net->forward(ToTensor(z)));
  });
}

absl::StatusOr<Eigen::MatrixXf> GanGenerator::Invert(const Eigen::MatrixXf& images, int steps,
                                                     double learning_rate, double prior) const {
  return GuardedCall("GAN inversion", [&]() -> absl::StatusOr<Eigen::MatrixXf> {
    RETURN_IF_ERROR(CheckImages(images, image_shape()));
    if (steps < 1) return absl::InvalidArgumentError("inversion needs >= 1 step");
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& p : impl_->net->parameters()) p.set_requires_grad(false);
    const torch::Tensor y = ToTensor(images);
    torch::Tensor z = torch::zeros({y.size(0), impl_->arch.latent_size}).set_requires_grad(true);
    torch::optim::Adam opt({z}, torch::optim::AdamOptions(learning_rate));
    for (int s = 0; s < steps; ++s) {
      opt.zero_grad();
      const torch::Tensor loss =
          ((impl_->net->forward(z) - y).pow(2).sum(1) + prior * z.pow(2).sum(1)).sum();
      loss.backward();
      opt.step();
    }
    for (auto& p : impl_->net->parameters()) p.set_requires_grad(true);
    return FromTensor(z.detach());
  });
}

absl::Status GanGenerator::Save(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const Arch& a = impl_->arch;
  RETURN_IF_ERROR(WriteFile(dir + "/" + kConfigFile,
                            absl::StrCat("side: ", a.side, "\nlatent_size: ", a.latent_size,
                                         "\nbase_channels: ", a.base_channels, "\n")));
  return internal::SaveModule(impl_->net, dir + "/" + kWeightsFile);
}

absl::StatusOr<std::unique_ptr<GanGenerator>> GanGenerator::Load(const std::string& dir) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(dir + "/" + kConfigFile));
  std::map<std::string, int> kv;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    int v = 0;
    if (colon == absl::string_view::npos ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)), &v))
      return absl::DataLossError(absl::StrCat(dir, "/", kConfigFile, ": bad line '", line, "'"));
    kv[std::string(line.substr(0, colon))] = v;
  }
  std::unique_ptr<GanGenerator> g(new GanGenerator());
  Arch& a = g->impl_->arch;
  a.side = kv["side"];
  a.latent_size = kv["latent_size"];
  a.base_channels = kv["base_channels"];
  if ((a.side != 28 && a.side != 64) || a.latent_size <= 0 || a.base_channels <= 0)
    return absl::DataLossError(absl::StrCat(dir, "/", kConfigFile, ": bad architecture"));
  g->impl_->net = GeneratorNet(a);
  RETURN_IF_ERROR(internal::LoadModule(g->impl_->net, dir + "/" + kWeightsFile));
  return g;
}

// ---------------------------------------------------------------- trainer

struct GanTrainer::Impl {
  GanOptions options;
  Arch arch;
  ImageShape shape;
  bool paired = false;
  torch::Tensor images, inputs;
  GeneratorNet gen{nullptr};
  DiscriminatorNet dis{nullptr};
  std::unique_ptr<torch::optim::Adam> gen_opt, dis_opt;
  at::Generator rng;
};

GanTrainer::GanTrainer() : impl_(std::make_unique<Impl>()) {}
GanTrainer::~GanTrainer() = default;

absl::StatusOr<std::unique_ptr<GanTrainer>> GanTrainer::Create(const Eigen::MatrixXf& images,
                                                               ImageShape shape,
                                                               const GanOptions& options) {
  RETURN_IF_ERROR(CheckImages(images, shape));
  if (options.latent_size <= 0 || options.base_channels <= 0 || options.epochs < 0 ||
      options.batch_size < 2 || !(options.learning_rate > 0))
    return absl::InvalidArgumentError(
        "GAN options: latent_size, base_channels > 0, batch_size >= 2, learning_rate > 0");
  std::unique_ptr<GanTrainer> t(new GanTrainer());
  Impl& m = *t->impl_;
  m.options = options;
  m.arch.side = shape.height;
  m.shape = shape;
  m.arch.latent_size = options.latent_size;
  m.arch.base_channels = options.base_channels;
  m.images = ToTensor(images);
  torch::manual_seed(options.seed);
  m.rng = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  m.gen = GeneratorNet(m.arch);
  m.dis = DiscriminatorNet(m.arch);
  const auto adam = torch::optim::AdamOptions(options.learning_rate).betas({0.5, 0.999});
  m.gen_opt = std::make_unique<torch::optim::Adam>(m.gen->parameters(), adam);
  m.dis_opt = std::make_unique<torch::optim::Adam>(m.dis->parameters(), adam);
  return t;
}

absl::StatusOr<std::unique_ptr<GanTrainer>> GanTrainer::CreatePaired(const Eigen::MatrixXf& images,
                                                                     const Eigen::MatrixXf& inputs,
                                                                     ImageShape shape,
                                                                     const GanOptions& options) {
  if (inputs.rows() != images.rows() || inputs.cols() < 1 || !inputs.allFinite())
    return absl::InvalidArgumentError(absl::StrCat("paired GAN: ", inputs.rows(), "x",
                                                   inputs.cols(), " finite inputs for ",
                                                   images.rows(), " images"));
  GanOptions o = options;
  o.latent_size = static_cast<int>(inputs.cols());
  ASSIGN_OR_RETURN(auto t, Create(images, shape, o));
  t->impl_->paired = true;
  t->impl_->inputs = ToTensor(inputs);
  return t;
}

absl::Status GanTrainer::Train() {
  return GuardedCall("GAN training", [&]() -> absl::Status {
    Impl& m = *impl_;
    const int64_t n = m.images.size(0);
    std::mt19937_64 order_rng(m.options.seed);
    for (int epoch = 1; epoch <= m.options.epochs; ++epoch) {
      GanEpoch stats;
      stats.epoch = epoch;
      int64_t batches = 0;
      m.gen->train();
      m.dis->train();
      for (const torch::Tensor& idx :
           internal::ShuffledBatches(n, m.options.batch_size, order_rng)) {
        if (m.options.is_cancelled && m.options.is_cancelled())
          return absl::CancelledError("GAN training cancelled");
        const torch::Tensor real = m.images.index_select(0, idx);
        const torch::Tensor z =
            m.paired ? m.inputs.index_select(0, idx)
                     : at::normal(0.0, 1.0, {idx.size(0), m.arch.latent_size}, m.rng);
        const torch::Tensor ones = torch::ones({idx.size(0)}), zeros = torch::zeros({idx.size(0)});
        // L_dis: real -> 1, generated -> 0.
        const torch::Tensor fake = m.gen->forward(z);
        m.dis_opt->zero_grad();
        const torch::Tensor l_dis =
            torch::binary_cross_entropy_with_logits(m.dis->forward(real), ones) +
            torch::binary_cross_entropy_with_logits(m.dis->forward(fake.detach()), zeros);
        l_dis.backward();
        m.dis_opt->step();
        // L_gen: fool the discriminator (and, paired, match the stimulus).
        m.gen_opt->zero_grad();
        const torch::Tensor l_adv =
            torch::binary_cross_entropy_with_logits(m.dis->forward(fake), ones);
        torch::Tensor l_gen = m.options.lambda_adv * l_adv;
        double sti = 0;
        if (m.paired) {
          const torch::Tensor l_sti = (fake - real).pow(2).sum(1).mean();
          l_gen = l_gen + m.options.lambda_sti * l_sti;
          sti = l_sti.item<double>();
          if (m.options.lambda_fea > 0 && m.options.feature_network != nullptr) {
            const FeatureNetwork& net = *m.options.feature_network;
            ASSIGN_OR_RETURN(
                const torch::Tensor f_fake,
                internal::DifferentiableLayer(net, fake, m.shape, m.options.feature_layer));
            torch::Tensor f_real;
            {
              torch::NoGradGuard no_grad;
              ASSIGN_OR_RETURN(f_real, internal::DifferentiableLayer(net, real, m.shape,
                                                                     m.options.feature_layer));
            }
            const torch::Tensor l_fea = (f_fake - f_real).pow(2).sum(1).mean();
            l_gen = l_gen + m.options.lambda_fea * l_fea;
            stats.feature += l_fea.item<double>();
          }
        }
        l_gen.backward();
        m.gen_opt->step();
        stats.discriminator += l_dis.item<double>();
        stats.adversarial += l_adv.item<double>();
        stats.stimulus += sti;
        ++batches;
      }
      if (batches > 0) {
        stats.discriminator /= batches;
        stats.adversarial /= batches;
        stats.stimulus /= batches;
        stats.feature /= batches;
      }
      m.gen->eval();
      m.dis->eval();
      if (m.options.on_epoch) m.options.on_epoch(stats);
    }
    return absl::OkStatus();
  });
}

std::unique_ptr<GanGenerator> GanTrainer::Finish() {
  std::unique_ptr<GanGenerator> g(new GanGenerator());
  g->impl_->arch = impl_->arch;
  g->impl_->net = impl_->gen;
  g->impl_->net->eval();
  impl_ = std::make_unique<Impl>();
  return g;
}

// ---------------------------------------------------------------- posterior

absl::StatusOr<std::unique_ptr<PosteriorGanGenerator>> PosteriorGanGenerator::Create(
    std::unique_ptr<GanGenerator> gan, Eigen::MatrixXd chol) {
  if (gan == nullptr || chol.rows() != gan->input_size() || chol.cols() != gan->input_size() ||
      !chol.allFinite())
    return absl::InvalidArgumentError("posterior factor must be k x k for the GAN's k inputs");
  return std::unique_ptr<PosteriorGanGenerator>(
      new PosteriorGanGenerator(std::move(gan), std::move(chol)));
}

std::string PosteriorGanGenerator::Describe() const {
  return absl::StrCat("DAND ", gan_->Describe(), " with posterior samples");
}

absl::StatusOr<std::vector<Eigen::MatrixXf>> PosteriorGanGenerator::Sample(
    const Eigen::MatrixXf& mean, int samples, uint64_t seed) const {
  return GuardedCall(
      "DAND posterior sampling", [&]() -> absl::StatusOr<std::vector<Eigen::MatrixXf>> {
        if (mean.cols() != input_size())
          return absl::InvalidArgumentError(
              absl::StrCat("DAND generator takes ", input_size(), " latents; got ", mean.cols()));
        if (samples < 1) return absl::InvalidArgumentError("samples must be >= 1");
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> normal(0, 1);
        std::vector<Eigen::MatrixXf> out;
        for (int s = 0; s < samples; ++s) {
          Eigen::MatrixXd eps(mean.rows(), mean.cols());
          for (Eigen::Index i = 0; i < eps.size(); ++i) eps.data()[i] = normal(rng);
          const Eigen::MatrixXf z = mean + (eps * chol_.transpose()).cast<float>();
          ASSIGN_OR_RETURN(Eigen::MatrixXf image, gan_->Generate(z));
          out.push_back(std::move(image));
        }
        return out;
      });
}

absl::Status PosteriorGanGenerator::Save(const std::string& dir) const {
  RETURN_IF_ERROR(gan_->Save(dir));
  return WriteNpyFloat64(dir + "/posterior_chol.npy", chol_);
}

absl::StatusOr<std::unique_ptr<PosteriorGanGenerator>> PosteriorGanGenerator::Load(
    const std::string& dir) {
  ASSIGN_OR_RETURN(auto gan, GanGenerator::Load(dir));
  ASSIGN_OR_RETURN(const NpyArray chol, ReadNpy(dir + "/posterior_chol.npy"));
  ASSIGN_OR_RETURN(Eigen::MatrixXd m, chol.AsMatrix());
  auto g = Create(std::move(gan), std::move(m));
  if (!g.ok()) return absl::DataLossError(absl::StrCat(dir, ": ", g.status().message()));
  return g;
}

}  // namespace v2p::core
