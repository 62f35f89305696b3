#include "core/methods/fattention/fattention_generator.h"

#include <filesystem>
#include <map>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/exceptions.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/generation/tensor_convert.h"
#include "core/methods/fattention/networks.h"

namespace v2p::core {
namespace {

constexpr char kConfigFile[] = "fattention.txt";
constexpr char kAttentionFile[] = "attention.pt";
constexpr char kDecoderFile[] = "image_decoder.pt";

absl::StatusOr<internal::FAttentionArch> ReadArch(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  std::map<std::string, double> kv;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    double v = 0;
    if (colon == absl::string_view::npos ||
        !absl::SimpleAtod(absl::StripAsciiWhitespace(line.substr(colon + 1)), &v))
      return absl::DataLossError(absl::StrCat(path, ": bad line '", line.substr(0, 80), "'"));
    kv[std::string(line.substr(0, colon))] = v;
  }
  internal::FAttentionArch a;
  a.voxels = static_cast<int>(kv["voxels"]);
  a.height = static_cast<int>(kv["height"]);
  a.width = static_cast<int>(kv["width"]);
  a.image_channels = static_cast<int>(kv["image_channels"]);
  a.channels = static_cast<int>(kv["channels"]);
  a.lambda = kv["lambda"];
  a.mu = kv["mu"];
  if (a.voxels < 1 || a.height < 4 || a.height % 4 != 0 || a.width < 4 || a.width % 4 != 0 ||
      a.image_channels < 1 || a.channels < 4 || a.channels % 4 != 0)
    return absl::DataLossError(absl::StrCat(path, ": bad architecture"));
  return a;
}

}  // namespace

FAttentionGenerator::FAttentionGenerator(std::unique_ptr<internal::FAttentionNets> nets)
    : nets_(std::move(nets)) {
  nets_->attention->eval();
  nets_->decoder->eval();
}
FAttentionGenerator::~FAttentionGenerator() = default;

ImageShape FAttentionGenerator::image_shape() const {
  const auto& a = nets_->arch;
  return {a.height, a.width, a.image_channels};
}
int FAttentionGenerator::input_size() const { return nets_->arch.voxels; }
std::string FAttentionGenerator::Describe() const {
  const auto& a = nets_->arch;
  return absl::StrCat("F-attention map -> image decoder (", a.lambda, " A.F + ", a.mu, " F)");
}

// One guarded, gradient-free, serialised pass of `net` over checked betas.
absl::StatusOr<Eigen::MatrixXf> FAttentionGenerator::Run(
    const char* what, const Eigen::MatrixXf& betas,
    const std::function<torch::Tensor(const torch::Tensor&)>& net) const {
  return GuardedCall(what, [&]() -> absl::StatusOr<Eigen::MatrixXf> {
    if (betas.cols() != input_size())
      return absl::InvalidArgumentError(
          absl::StrCat("F-attention decoder takes ", input_size(), " voxels; got ", betas.cols()));
    torch::NoGradGuard no_grad;
    std::lock_guard<std::mutex> lock(nets_->mu);
    return internal::FromTensor(net(internal::ToTensor(betas)));
  });
}

absl::StatusOr<Eigen::MatrixXf> FAttentionGenerator::Generate(const Eigen::MatrixXf& betas) const {
  return Run("F-attention image decoder", betas, [&](const torch::Tensor& x) {
    return nets_->decoder->forward(x, nets_->attention->forward(x));
  });
}

absl::StatusOr<Eigen::MatrixXf> FAttentionGenerator::Attention(const Eigen::MatrixXf& betas) const {
  return Run("F-attention map", betas,
             [&](const torch::Tensor& x) { return nets_->attention->forward(x); });
}

absl::Status FAttentionGenerator::Save(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const auto& a = nets_->arch;
  RETURN_IF_ERROR(
      WriteFile(dir + "/" + kConfigFile,
                absl::StrCat("voxels: ", a.voxels, "\nheight: ", a.height, "\nwidth: ", a.width,
                             "\nimage_channels: ", a.image_channels, "\nchannels: ", a.channels,
                             "\nlambda: ", a.lambda, "\nmu: ", a.mu, "\n")));
  RETURN_IF_ERROR(internal::SaveModule(nets_->attention, dir + "/" + kAttentionFile));
  return internal::SaveModule(nets_->decoder, dir + "/" + kDecoderFile);
}

absl::StatusOr<std::unique_ptr<FAttentionGenerator>> FAttentionGenerator::Load(
    const std::string& dir) {
  ASSIGN_OR_RETURN(const internal::FAttentionArch a, ReadArch(dir + "/" + kConfigFile));
  auto nets = std::make_unique<internal::FAttentionNets>(a);
  RETURN_IF_ERROR(internal::LoadModule(nets->attention, dir + "/" + kAttentionFile));
  RETURN_IF_ERROR(internal::LoadModule(nets->decoder, dir + "/" + kDecoderFile));
  return std::make_unique<FAttentionGenerator>(std::move(nets));
}

}  // namespace v2p::core
