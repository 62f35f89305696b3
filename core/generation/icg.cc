#include "core/generation/icg.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/exceptions.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/data/npy.h"
#include "core/generation/icg_torch.h"
#include "core/generation/tensor_convert.h"

namespace v2p::core {
namespace {

constexpr char kConfigFile[] = "generator.txt";
constexpr char kDecoderFile[] = "decoder.pt";
constexpr char kMeanFile[] = "condition_mean.npy";
constexpr char kSdFile[] = "condition_sd.npy";

using internal::FromTensor;
using internal::ToTensor;

// Halvings from the image side to the smallest feature map.
int Stages(int side) { return side == 28 ? 2 : 4; }

struct Architecture {
  int side = 28;
  int condition_size = 0;
  int latent_size = 16;  // 0: De-CNN (no z)
  int embedding_size = 128;
  int base_channels = 32;
  int base() const { return side >> Stages(side); }
  int top_channels() const { return base_channels << (Stages(side) - 1); }
};

// q(z | y, h) -> (mu, logvar).
struct EncoderImpl : torch::nn::Module {
  explicit EncoderImpl(const Architecture& a) : arch(a) {
    int in = 1;
    for (int s = 0; s < Stages(a.side); ++s) {
      const int out = a.base_channels << s;
      convs->push_back(
          torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 4).stride(2).padding(1)));
      in = out;
    }
    register_module("convs", convs);
    embed = register_module("embed", torch::nn::Linear(a.condition_size, a.embedding_size));
    const int flat = a.top_channels() * a.base() * a.base();
    hidden = register_module("hidden", torch::nn::Linear(flat + a.embedding_size, 256));
    head = register_module("head", torch::nn::Linear(256, 2 * a.latent_size));
  }
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& y, const torch::Tensor& h) {
    torch::Tensor x = y.view({y.size(0), 1, arch.side, arch.side});
    for (auto& m : *convs) x = torch::leaky_relu(m->as<torch::nn::Conv2d>()->forward(x), 0.2);
    x = torch::cat({x.flatten(1), torch::relu(embed(h))}, 1);
    x = torch::leaky_relu(hidden(x), 0.2);
    const torch::Tensor out = head(x);
    return {out.narrow(1, 0, arch.latent_size),
            out.narrow(1, arch.latent_size, arch.latent_size).clamp(-20, 10)};
  }
  Architecture arch;
  torch::nn::ModuleList convs;
  torch::nn::Linear embed{nullptr}, hidden{nullptr}, head{nullptr};
};
TORCH_MODULE(Encoder);

// p(y | z, h): images in [0, 1] as n x side^2.
struct DecoderImpl : torch::nn::Module {
  explicit DecoderImpl(const Architecture& a) : arch(a) {
    embed = register_module("embed", torch::nn::Linear(a.condition_size, a.embedding_size));
    const int flat = a.top_channels() * a.base() * a.base();
    dense = register_module("dense", torch::nn::Linear(a.latent_size + a.embedding_size, flat));
    int in = a.top_channels();
    for (int s = Stages(a.side) - 1; s >= 0; --s) {
      const int out = s == 0 ? 1 : (a.base_channels << (s - 1));
      deconvs->push_back(torch::nn::ConvTranspose2d(
          torch::nn::ConvTranspose2dOptions(in, out, 4).stride(2).padding(1)));
      if (s > 0) norms->push_back(torch::nn::BatchNorm2d(out));
      in = out;
    }
    register_module("deconvs", deconvs);
    register_module("norms", norms);
  }
  torch::Tensor forward(const torch::Tensor& z, const torch::Tensor& h) {
    torch::Tensor e = torch::relu(embed(h));
    torch::Tensor x = arch.latent_size > 0 ? torch::cat({z, e}, 1) : e;
    x = torch::relu(dense(x)).view({x.size(0), arch.top_channels(), arch.base(), arch.base()});
    const size_t n = deconvs->size();
    for (size_t i = 0; i < n; ++i) {
      x = deconvs[i]->as<torch::nn::ConvTranspose2d>()->forward(x);
      if (i + 1 < n) x = torch::relu(norms[i]->as<torch::nn::BatchNorm2d>()->forward(x));
    }
    return torch::sigmoid(x).view({x.size(0), arch.side * arch.side});
  }
  Architecture arch;
  torch::nn::Linear embed{nullptr}, dense{nullptr};
  torch::nn::ModuleList deconvs, norms;
};
TORCH_MODULE(Decoder);

torch::Tensor Kl(const torch::Tensor& mu, const torch::Tensor& logvar) {
  return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1);
}

}  // namespace

absl::StatusOr<IcgOptions> IcgOptions::Preset(const std::string& kind) {
  IcgOptions o;
  o.kind = kind;
  if (kind == "ICG") {
    o.alpha = 0.5;
    o.beta = 1;
  } else if (kind == "CVAE") {
    o.alpha = 0;
    o.beta = 1;
  } else if (kind == "CGAN") {
    o.alpha = 1;
    o.beta = 0;
  } else if (kind == "DeCNN") {
    o.alpha = 0;
    o.beta = 0;
    o.latent_size = 0;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown generator kind '", kind, "'; kinds: ICG, CVAE, CGAN, DeCNN"));
  }
  return o;
}

Eigen::VectorXd KlToStandardNormal(const Eigen::MatrixXf& mu, const Eigen::MatrixXf& logvar) {
  torch::NoGradGuard no_grad;
  return FromTensor(Kl(ToTensor(mu), ToTensor(logvar)).unsqueeze(1)).col(0).cast<double>();
}

// ---------------------------------------------------------------- generator

struct IcgGenerator::Impl {
  std::string kind;
  Architecture arch;
  Eigen::RowVectorXf mean, sd;
  mutable Decoder decoder{nullptr};
  mutable std::mutex mu;  // torch modules are not re-entrant in eval either

  torch::Tensor Standardise(const Eigen::MatrixXf& c) const {
    const Eigen::MatrixXf s = (c.rowwise() - mean).array().rowwise() / sd.array();
    return ToTensor(s);
  }
};

IcgGenerator::IcgGenerator() : impl_(std::make_unique<Impl>()) {}
IcgGenerator::~IcgGenerator() = default;

ImageShape IcgGenerator::image_shape() const { return {impl_->arch.side, impl_->arch.side, 1}; }
int IcgGenerator::input_size() const { return impl_->arch.condition_size; }
const std::string& IcgGenerator::kind() const { return impl_->kind; }
bool IcgGenerator::stochastic() const { return impl_->arch.latent_size > 0; }

std::string IcgGenerator::Describe() const {
  return absl::StrCat(impl_->kind, "(latent ", impl_->arch.latent_size, ", condition ",
                      impl_->arch.condition_size, ")");
}

absl::StatusOr<Eigen::MatrixXf> IcgGenerator::Generate(const Eigen::MatrixXf& conditions) const {
  return GuardedCall("generator forward pass", [&]() -> absl::StatusOr<Eigen::MatrixXf> {
    if (conditions.cols() != input_size())
      return absl::InvalidArgumentError(absl::StrCat(impl_->kind, " takes ", input_size(),
                                                     " condition units; got ", conditions.cols()));
    torch::NoGradGuard no_grad;
    std::lock_guard<std::mutex> lock(impl_->mu);
    const torch::Tensor h = impl_->Standardise(conditions);
    const torch::Tensor z = torch::zeros({h.size(0), impl_->arch.latent_size});
    return FromTensor(impl_->decoder->forward(z, h));
  });
}

namespace internal {

absl::StatusOr<torch::Tensor> DifferentiableGenerate(const IcgGenerator& generator,
                                                     const torch::Tensor& h) {
  const IcgGenerator::Impl& m = generator.impl();
  if (h.dim() != 2 || h.size(1) != generator.input_size())
    return absl::InvalidArgumentError(
        absl::StrCat(m.kind, " takes ", generator.input_size(), " condition units"));
  std::lock_guard<std::mutex> lock(m.mu);
  for (auto& p : m.decoder->parameters()) p.requires_grad_(false);
  const torch::Tensor mean = ToTensor(Eigen::MatrixXf(m.mean));
  const torch::Tensor sd = ToTensor(Eigen::MatrixXf(m.sd));
  const torch::Tensor z = torch::zeros({h.size(0), m.arch.latent_size});
  return m.decoder->forward(z, (h - mean) / sd);
}

}  // namespace internal

absl::StatusOr<std::vector<Eigen::MatrixXf>> IcgGenerator::Sample(const Eigen::MatrixXf& conditions,
                                                                  int samples,
                                                                  uint64_t seed) const {
  return GuardedCall("generator sampling", [&]() -> absl::StatusOr<std::vector<Eigen::MatrixXf>> {
    if (conditions.cols() != input_size())
      return absl::InvalidArgumentError(absl::StrCat(impl_->kind, " takes ", input_size(),
                                                     " condition units; got ", conditions.cols()));
    if (samples < 1) return absl::InvalidArgumentError("samples must be >= 1");
    if (!stochastic()) return Generator::Sample(conditions, samples, seed);
    torch::NoGradGuard no_grad;
    std::lock_guard<std::mutex> lock(impl_->mu);
    const torch::Tensor h = impl_->Standardise(conditions);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    std::vector<Eigen::MatrixXf> out;
    for (int s = 0; s < samples; ++s) {
      const torch::Tensor z = at::normal(0.0, 1.0, {h.size(0), impl_->arch.latent_size}, gen);
      out.push_back(FromTensor(impl_->decoder->forward(z, h)));
    }
    return out;
  });
}

absl::Status IcgGenerator::Save(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const Architecture& a = impl_->arch;
  RETURN_IF_ERROR(WriteFile(dir + "/" + kConfigFile,
                            absl::StrCat("kind: ", impl_->kind, "\nside: ", a.side,
                                         "\ncondition_size: ", a.condition_size, "\nlatent_size: ",
                                         a.latent_size, "\nembedding_size: ", a.embedding_size,
                                         "\nbase_channels: ", a.base_channels, "\n")));
  RETURN_IF_ERROR(WriteNpyFloat32(dir + "/" + kMeanFile, impl_->mean));
  RETURN_IF_ERROR(WriteNpyFloat32(dir + "/" + kSdFile, impl_->sd));
  return internal::SaveModule(impl_->decoder, dir + "/" + kDecoderFile);
}

absl::StatusOr<std::unique_ptr<IcgGenerator>> IcgGenerator::Load(const std::string& dir) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(dir + "/" + kConfigFile));
  std::map<std::string, std::string> kv;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos)
      return absl::DataLossError(absl::StrCat(dir, "/", kConfigFile, ": bad line '", line, "'"));
    kv[std::string(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  auto number = [&](const std::string& key, int* out) -> absl::Status {
    if (!kv.count(key) || !absl::SimpleAtoi(kv[key], out) || *out < 0)
      return absl::DataLossError(absl::StrCat(dir, "/", kConfigFile, ": missing or bad ", key));
    return absl::OkStatus();
  };
  std::unique_ptr<IcgGenerator> g(new IcgGenerator());
  Architecture& a = g->impl_->arch;
  RETURN_IF_ERROR(number("side", &a.side));
  RETURN_IF_ERROR(number("condition_size", &a.condition_size));
  RETURN_IF_ERROR(number("latent_size", &a.latent_size));
  RETURN_IF_ERROR(number("embedding_size", &a.embedding_size));
  RETURN_IF_ERROR(number("base_channels", &a.base_channels));
  if ((a.side != 28 && a.side != 64) || a.condition_size <= 0 || a.embedding_size <= 0 ||
      a.base_channels <= 0)
    return absl::DataLossError(absl::StrCat(dir, "/", kConfigFile, ": bad architecture"));
  g->impl_->kind = kv["kind"];
  ASSIGN_OR_RETURN(NpyArray mean, ReadNpy(dir + "/" + kMeanFile));
  ASSIGN_OR_RETURN(NpyArray sd, ReadNpy(dir + "/" + kSdFile));
  if (mean.size() != a.condition_size || sd.size() != a.condition_size)
    return absl::DataLossError(
        absl::StrCat(dir, ": condition statistics do not match ", a.condition_size, " units"));
  g->impl_->mean =
      Eigen::Map<const Eigen::RowVectorXd>(mean.values.data(), mean.size()).cast<float>();
  g->impl_->sd = Eigen::Map<const Eigen::RowVectorXd>(sd.values.data(), sd.size()).cast<float>();
  g->impl_->decoder = Decoder(a);
  RETURN_IF_ERROR(internal::LoadModule(g->impl_->decoder, dir + "/" + kDecoderFile));
  return g;
}

// ---------------------------------------------------------------- trainer

struct IcgTrainer::Impl {
  IcgOptions options;
  Architecture arch;
  torch::Tensor images, conditions;  // standardised conditions
  Eigen::RowVectorXf mean, sd;
  Encoder encoder{nullptr};
  Decoder decoder{nullptr};
  std::unique_ptr<torch::optim::Adam> enc_opt, dec_opt;
  at::Generator gen;

  bool introspective() const { return arch.latent_size > 0; }

  torch::Tensor Normal(int64_t n) { return at::normal(0.0, 1.0, {n, arch.latent_size}, gen); }

  // Reconstruction loss and the pieces both steps need.
  struct Pass {
    torch::Tensor reconstruction, kl_real, y_r, y_p;
  };
  Pass Forward(const torch::Tensor& y, const torch::Tensor& h) {
    Pass p;
    if (!introspective()) {
      p.y_r = decoder->forward(torch::Tensor(), h);
      p.reconstruction = (p.y_r - y).pow(2).sum(1).mean();
      return p;
    }
    auto [mu, logvar] = encoder->forward(y, h);
    const torch::Tensor z = mu + (0.5 * logvar).exp() * Normal(y.size(0));
    p.kl_real = Kl(mu, logvar).mean();
    p.y_r = decoder->forward(z, h);
    p.y_p = decoder->forward(Normal(y.size(0)), h);
    p.reconstruction = (p.y_r - y).pow(2).sum(1).mean();
    return p;
  }

  torch::Tensor FakeKl(const torch::Tensor& fake, const torch::Tensor& h) {
    auto [mu, logvar] = encoder->forward(fake, h);
    return Kl(mu, logvar);
  }

  void EncoderStep(const torch::Tensor& y, const torch::Tensor& h) {
    if (!introspective()) return;
    Pass p = Forward(y, h);
    torch::Tensor loss = p.reconstruction + options.beta * p.kl_real;
    if (options.alpha > 0) {
      const torch::Tensor kr = FakeKl(p.y_r.detach(), h), kp = FakeKl(p.y_p.detach(), h);
      const torch::Tensor fake = options.margin > 0
                                     ? 0.5 * ((options.margin - kr).clamp_min(0).mean() +
                                              (options.margin - kp).clamp_min(0).mean())
                                     : -0.5 * (kr.mean() + kp.mean());
      loss = loss + options.alpha * fake;
    }
    enc_opt->zero_grad();
    loss.backward();
    enc_opt->step();
  }

  void DecoderStep(const torch::Tensor& y, const torch::Tensor& h) {
    Pass p = Forward(y, h);
    torch::Tensor loss = p.reconstruction;
    if (introspective() && options.alpha > 0) {
      // The encoder judges the fakes but is not updated here.
      loss = loss + options.alpha * 0.5 * (FakeKl(p.y_r, h).mean() + FakeKl(p.y_p, h).mean());
    }
    dec_opt->zero_grad();
    loss.backward();
    dec_opt->step();
  }

  IcgLosses Measure(const torch::Tensor& y, const torch::Tensor& h) {
    torch::NoGradGuard no_grad;
    Pass p = Forward(y, h);
    IcgLosses l;
    l.reconstruction = p.reconstruction.item<double>();
    if (introspective()) {
      l.kl_real = p.kl_real.item<double>();
      l.kl_reconstructed = FakeKl(p.y_r, h).mean().item<double>();
      l.kl_sampled = FakeKl(p.y_p, h).mean().item<double>();
    }
    return l;
  }
};

IcgTrainer::IcgTrainer() : impl_(std::make_unique<Impl>()) {}
IcgTrainer::~IcgTrainer() = default;

absl::StatusOr<std::unique_ptr<IcgTrainer>> IcgTrainer::Create(const Eigen::MatrixXf& images,
                                                               const Eigen::MatrixXf& conditions,
                                                               ImageShape shape,
                                                               const IcgOptions& options) {
  if (!(shape.channels == 1 && shape.height == shape.width &&
        (shape.height == 28 || shape.height == 64)))
    return absl::InvalidArgumentError(
        absl::StrCat("ICG generators take 28x28 or 64x64 grey images; got ", shape.height, "x",
                     shape.width, "x", shape.channels));
  if (images.rows() < 2 || images.rows() != conditions.rows() ||
      images.cols() != shape.num_pixels() || conditions.cols() == 0)
    return absl::InvalidArgumentError(absl::StrCat(
        "ICG needs >= 2 images of ", shape.num_pixels(),
        " pixels with one condition row each; got ", images.rows(), " x ", images.cols(),
        " images and ", conditions.rows(), " x ", conditions.cols(), " conditions"));
  if (!images.allFinite() || !conditions.allFinite())
    return absl::InvalidArgumentError("ICG training data contain NaN or Inf");
  RETURN_IF_ERROR(IcgOptions::Preset(options.kind).status());  // a known kind
  if ((options.kind == "DeCNN") != (options.latent_size == 0) || options.latent_size < 0 ||
      options.epochs < 0 || options.batch_size < 1 || options.learning_rate <= 0 ||
      options.alpha < 0 || options.beta < 0 || options.margin < 0)
    return absl::InvalidArgumentError(
        "ICG options: latent_size > 0 (0 exactly for DeCNN), epochs >= 0, batch_size >= 1, "
        "learning_rate > 0, alpha, beta, margin >= 0");
  std::unique_ptr<IcgTrainer> t(new IcgTrainer());
  Impl& m = *t->impl_;
  m.options = options;
  m.arch.side = shape.height;
  m.arch.condition_size = static_cast<int>(conditions.cols());
  m.arch.latent_size = options.latent_size;
  m.arch.embedding_size = options.embedding_size;
  m.arch.base_channels = options.base_channels;
  m.mean = conditions.colwise().mean();
  m.sd = ((conditions.rowwise() - m.mean).array().square().colwise().mean()).sqrt();
  for (Eigen::Index j = 0; j < m.sd.size(); ++j)
    if (!(m.sd(j) > 1e-6f)) m.sd(j) = 1;
  m.images = ToTensor(images);
  m.conditions = ToTensor((conditions.rowwise() - m.mean).array().rowwise() / m.sd.array());
  torch::manual_seed(options.seed);
  m.gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  m.decoder = Decoder(m.arch);
  m.dec_opt = std::make_unique<torch::optim::Adam>(
      m.decoder->parameters(),
      torch::optim::AdamOptions(options.learning_rate).betas({0.5, 0.999}));
  if (m.introspective()) {
    m.encoder = Encoder(m.arch);
    m.enc_opt = std::make_unique<torch::optim::Adam>(
        m.encoder->parameters(),
        torch::optim::AdamOptions(options.learning_rate).betas({0.5, 0.999}));
  }
  return t;
}

IcgLosses IcgTrainer::Measure(int64_t begin, int64_t n) {
  return impl_->Measure(impl_->images.narrow(0, begin, n), impl_->conditions.narrow(0, begin, n));
}

void IcgTrainer::EncoderStep(int64_t begin, int64_t n) {
  impl_->EncoderStep(impl_->images.narrow(0, begin, n), impl_->conditions.narrow(0, begin, n));
}

void IcgTrainer::DecoderStep(int64_t begin, int64_t n) {
  impl_->DecoderStep(impl_->images.narrow(0, begin, n), impl_->conditions.narrow(0, begin, n));
}

absl::Status IcgTrainer::Train() {
  return GuardedCall("generator training", [&]() -> absl::Status {
    Impl& m = *impl_;
    const int64_t n = m.images.size(0);
    std::mt19937_64 rng(m.options.seed);
    for (int epoch = 1; epoch <= m.options.epochs; ++epoch) {
      IcgEpoch stats;
      stats.epoch = epoch;
      int64_t batches = 0;
      for (const torch::Tensor& idx : internal::ShuffledBatches(n, m.options.batch_size, rng)) {
        if (m.options.is_cancelled && m.options.is_cancelled())
          return absl::CancelledError(absl::StrCat(m.options.kind, " training cancelled"));
        const torch::Tensor y = m.images.index_select(0, idx);
        const torch::Tensor h = m.conditions.index_select(0, idx);
        if (!m.encoder.is_empty()) m.encoder->train();
        m.decoder->train();
        m.EncoderStep(y, h);
        m.DecoderStep(y, h);
        m.decoder->eval();
        if (!m.encoder.is_empty()) m.encoder->eval();
        const IcgLosses l = m.Measure(y, h);
        stats.reconstruction += l.reconstruction;
        stats.kl_real += l.kl_real;
        stats.kl_fake += 0.5 * (l.kl_reconstructed + l.kl_sampled);
        ++batches;
      }
      if (batches > 0) {
        stats.reconstruction /= batches;
        stats.kl_real /= batches;
        stats.kl_fake /= batches;
      }
      if (m.options.on_epoch) m.options.on_epoch(stats);
    }
    return absl::OkStatus();
  });
}

std::unique_ptr<IcgGenerator> IcgTrainer::Finish() {
  std::unique_ptr<IcgGenerator> g(new IcgGenerator());
  g->impl_->kind = impl_->options.kind;
  g->impl_->arch = impl_->arch;
  g->impl_->mean = impl_->mean;
  g->impl_->sd = impl_->sd;
  g->impl_->decoder = impl_->decoder;
  g->impl_->decoder->eval();
  impl_ = std::make_unique<Impl>();
  return g;
}

}  // namespace v2p::core
