// The foreground-attention method's networks (fattention_method.h).
// Internal: includes torch, so only implementation files include it.
//
// Images are h x w with h and w divisible by 4; q = (h/4, w/4). C is
// `channels`.
//   SelfAttention2d: SAGAN's block (Zhang et al. 2019) with d_k = 1:
//     q = Wq x, k = Wk x (1x1 convolutions to one channel), v = Wv x (1x1,
//     C channels); for positions i, j: a_ij = softmax_j(q_i k_j);
//     o_i = sum_j a_ij v_j; y = gamma * o + x (gamma starts at 0).
//   AttentionDecoderNet (betas -> map): fully connected -> C x q, ReLU;
//     bilinear x2, 3x3 convolution, ReLU; self-attention; bilinear x2, 3x3
//     convolution to C/2, ReLU, 3x3 convolution to 1, plus the logit of the
//     mean training map, sigmoid (the network learns the departure from
//     the mean map; ours, where the paper is silent on initialisation).
//   FmriEncoderNet (image -> betas): a layer of the feature network
//     (frozen, computed by the caller) -> 3x3 convolution to C/2, ReLU,
//     fully connected to the voxels. Without a feature network, two 3x3
//     stride-2 convolutions of its own (C/2, C) stand in for it.
//   ImageDecoderNet (betas, map -> image): fully connected -> C x q, ReLU;
//     then three stages (at q, 2q, 4q; bilinear x2 and a 3x3 convolution
//     between them, channels C, C/2, C/4, ReLU), each modulated as
//     F' = lambda * A o F + mu * F with the map A resized to the stage;
//     a 3x3 convolution to the image's channels, plus the logit of the mean
//     training stimulus, sigmoid.
#ifndef V2P_CORE_METHODS_FATTENTION_NETWORKS_H_
#define V2P_CORE_METHODS_FATTENTION_NETWORKS_H_

#include <torch/torch.h>

#include <mutex>
#include <vector>

namespace v2p::core::internal {

struct FAttentionArch {
  int voxels = 0;
  int height = 28, width = 28, image_channels = 1;
  int channels = 32;
  double lambda = 0.7, mu = 0.3;  // the attention modulation
  int qh() const { return height / 4; }
  int qw() const { return width / 4; }
};

struct SelfAttention2dImpl : torch::nn::Module {
  explicit SelfAttention2dImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);  // [n, C, h, w]
  torch::nn::Conv2d query{nullptr}, key{nullptr}, value{nullptr};
  torch::Tensor gamma;
};
TORCH_MODULE(SelfAttention2d);

struct AttentionDecoderNetImpl : torch::nn::Module {
  explicit AttentionDecoderNetImpl(const FAttentionArch& a);
  torch::Tensor forward(const torch::Tensor& betas);  // -> [n, 1, h, w] in (0, 1)
  FAttentionArch arch;
  torch::Tensor prior;  // [1, 1, h, w]: logit of the mean training map
  torch::nn::Linear dense{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  SelfAttention2d attention{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(AttentionDecoderNet);

struct FmriEncoderNetImpl : torch::nn::Module {
  // feature_shape: C, H, W of the feature network's layer, or empty for
  // the encoder's own convolutions over the image.
  FmriEncoderNetImpl(const FAttentionArch& a, std::vector<int64_t> feature_shape);
  // features: [n, C*H*W] of the layer (or [n, pixels] without one).
  torch::Tensor forward(const torch::Tensor& features);
  FAttentionArch arch;
  std::vector<int64_t> feature_shape;
  torch::nn::Sequential body{nullptr};
  torch::nn::Linear dense{nullptr};
};
TORCH_MODULE(FmriEncoderNet);

struct ImageDecoderNetImpl : torch::nn::Module {
  explicit ImageDecoderNetImpl(const FAttentionArch& a);
  // betas [n, voxels], map [n, 1, h, w] -> images [n, pixels] (HWC rows).
  torch::Tensor forward(const torch::Tensor& betas, const torch::Tensor& map);
  FAttentionArch arch;
  torch::Tensor prior;  // [1, c, h, w]: logit of the mean training stimulus
  torch::nn::Linear dense{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, out{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ImageDecoderNet);

// The served pair: the attention decoder and the image decoder.
struct FAttentionNets {
  explicit FAttentionNets(const FAttentionArch& a)
      : arch(a), attention(AttentionDecoderNet(a)), decoder(ImageDecoderNet(a)) {}
  FAttentionArch arch;
  AttentionDecoderNet attention;
  ImageDecoderNet decoder;
  std::mutex mu;  // modules are not safe to call concurrently
};

// The logit of mean rows (n x pixels, HWC, in [0, 1]) as [1, c, h, w],
// clamped to [0.01, 0.99] first.
torch::Tensor MeanLogit(const torch::Tensor& rows, int h, int w, int c);

// Rows of pixels (row-major HWC) <-> [n, c, h, w].
torch::Tensor ToNchw(const torch::Tensor& rows, int h, int w, int c);
torch::Tensor ToRows(const torch::Tensor& nchw);

}  // namespace v2p::core::internal

#endif  // V2P_CORE_METHODS_FATTENTION_NETWORKS_H_
