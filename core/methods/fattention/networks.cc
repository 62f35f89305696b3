#include "core/methods/fattention/networks.h"

namespace v2p::core::internal {
namespace {

namespace F = torch::nn::functional;

torch::nn::Conv2d Conv3(int in, int out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1));
}

torch::Tensor Up(const torch::Tensor& x) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .scale_factor(std::vector<double>{2, 2})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

torch::Tensor Resize(const torch::Tensor& map, int64_t h, int64_t w) {
  if (map.size(2) == h && map.size(3) == w) return map;
  return F::interpolate(map, F::InterpolateFuncOptions()
                                 .size(std::vector<int64_t>{h, w})
                                 .mode(torch::kBilinear)
                                 .align_corners(false));
}

}  // namespace

torch::Tensor ToNchw(const torch::Tensor& rows, int h, int w, int c) {
  return rows.view({rows.size(0), h, w, c}).permute({0, 3, 1, 2});
}

torch::Tensor MeanLogit(const torch::Tensor& rows, int h, int w, int c) {
  const torch::Tensor m = rows.mean(0, /*keepdim=*/true).clamp(0.01, 0.99);
  return ToNchw(torch::log(m / (1 - m)), h, w, c).contiguous();
}

torch::Tensor ToRows(const torch::Tensor& nchw) {
  return nchw.permute({0, 2, 3, 1}).reshape({nchw.size(0), -1});
}

SelfAttention2dImpl::SelfAttention2dImpl(int channels) {
  query = register_module("query", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 1, 1)));
  key = register_module("key", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 1, 1)));
  value =
      register_module("value", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 1)));
  gamma = register_parameter("gamma", torch::zeros({1}));
}

torch::Tensor SelfAttention2dImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1), positions = x.size(2) * x.size(3);
  const torch::Tensor q = query(x).view({n, positions, 1});             // [n, N, 1]
  const torch::Tensor k = key(x).view({n, 1, positions});               // [n, 1, N]
  const torch::Tensor a = torch::softmax(torch::bmm(q, k), /*dim=*/2);  // [n, N, N]: a_ij
  const torch::Tensor v = value(x).view({n, c, positions});             // [n, C, N]
  const torch::Tensor o = torch::bmm(v, a.transpose(1, 2));             // o_i = sum_j a_ij v_j
  return gamma * o.view_as(x) + x;
}

AttentionDecoderNetImpl::AttentionDecoderNetImpl(const FAttentionArch& a) : arch(a) {
  const int c = a.channels;
  dense = register_module("dense", torch::nn::Linear(a.voxels, c * a.qh() * a.qw()));
  conv1 = register_module("conv1", Conv3(c, c));
  attention = register_module("attention", SelfAttention2d(c));
  conv2 = register_module("conv2", Conv3(c, c / 2));
  conv3 = register_module("conv3", Conv3(c / 2, 1));
  prior = register_buffer("prior", torch::zeros({1, 1, a.height, a.width}));
  dropout = register_module("dropout", torch::nn::Dropout(0.5));
}

torch::Tensor AttentionDecoderNetImpl::forward(const torch::Tensor& betas) {
  torch::Tensor x =
      torch::relu(dense(dropout(betas))).view({betas.size(0), arch.channels, arch.qh(), arch.qw()});
  x = torch::relu(conv1(Up(x)));
  x = attention(x);
  x = torch::relu(conv2(Up(x)));
  return torch::sigmoid(conv3(x) + prior);
}

FmriEncoderNetImpl::FmriEncoderNetImpl(const FAttentionArch& a, std::vector<int64_t> shape)
    : arch(a), feature_shape(std::move(shape)) {
  const int c = a.channels;
  body = torch::nn::Sequential();
  int64_t flat = 0;
  if (feature_shape.size() == 3) {
    body->push_back(Conv3(static_cast<int>(feature_shape[0]), c / 2));
    body->push_back(torch::nn::ReLU());
    flat = (c / 2) * feature_shape[1] * feature_shape[2];
  } else {
    body->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(a.image_channels, c / 2, 3).stride(2).padding(1)));
    body->push_back(torch::nn::ReLU());
    body->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(c / 2, c, 3).stride(2).padding(1)));
    body->push_back(torch::nn::ReLU());
    flat = c * a.qh() * a.qw();
  }
  register_module("body", body);
  dense = register_module("dense", torch::nn::Linear(flat, a.voxels));
}

torch::Tensor FmriEncoderNetImpl::forward(const torch::Tensor& features) {
  const int64_t n = features.size(0);
  const torch::Tensor x =
      feature_shape.size() == 3
          ? features.view({n, feature_shape[0], feature_shape[1], feature_shape[2]})
          : ToNchw(features, arch.height, arch.width, arch.image_channels);
  return dense(body->forward(x).flatten(1));
}

ImageDecoderNetImpl::ImageDecoderNetImpl(const FAttentionArch& a) : arch(a) {
  const int c = a.channels;
  dense = register_module("dense", torch::nn::Linear(a.voxels, c * a.qh() * a.qw()));
  conv1 = register_module("conv1", Conv3(c, c / 2));
  conv2 = register_module("conv2", Conv3(c / 2, c / 4));
  out = register_module("out", Conv3(c / 4, a.image_channels));
  prior = register_buffer("prior", torch::zeros({1, a.image_channels, a.height, a.width}));
  dropout = register_module("dropout", torch::nn::Dropout(0.5));
}

torch::Tensor ImageDecoderNetImpl::forward(const torch::Tensor& betas, const torch::Tensor& map) {
  auto modulate = [&](const torch::Tensor& f) {
    if (arch.lambda == 0 && arch.mu == 1) return f;
    return arch.lambda * Resize(map, f.size(2), f.size(3)) * f + arch.mu * f;
  };
  torch::Tensor x =
      torch::relu(dense(dropout(betas))).view({betas.size(0), arch.channels, arch.qh(), arch.qw()});
  x = modulate(x);
  x = modulate(torch::relu(conv1(Up(x))));
  x = modulate(torch::relu(conv2(Up(x))));
  return ToRows(torch::sigmoid(out(x) + prior));
}

}  // namespace v2p::core::internal
