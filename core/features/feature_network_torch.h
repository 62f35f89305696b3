// Internal: includes torch, so only implementation files include it.
//
// The feature network as a differentiable function of its input, for losses
// that compare images through its layers: DAND's feature loss (Güçlütürk
// et al. 2017, §2.2, on relu3_3 of VGG-16; ours on a layer of our network).
#ifndef V2P_CORE_FEATURES_FEATURE_NETWORK_TORCH_H_
#define V2P_CORE_FEATURES_FEATURE_NETWORK_TORCH_H_

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/features/feature_network.h"

namespace v2p::core::internal {

// The output of `layer` (n x layer size, flattened C x H x W) for images x
// (n x pixels, row-major HWC in [0, 1], of `shape`; resized to the
// network's input by adaptive average pooling or bilinear interpolation),
// differentiable with respect to x. The network itself is not trained: its
// parameters stop requiring gradients on the first call. INVALID_ARGUMENT
// for an unknown layer, another channel count or a wrong width.
absl::StatusOr<torch::Tensor> DifferentiableLayer(const FeatureNetwork& network,
                                                  const torch::Tensor& x, ImageShape shape,
                                                  const std::string& layer);

// As DifferentiableLayer, for several layers from one pass through the
// network.
absl::StatusOr<std::map<std::string, torch::Tensor>> DifferentiableLayers(
    const FeatureNetwork& network, const torch::Tensor& x, ImageShape shape,
    const std::vector<std::string>& layers);

}  // namespace v2p::core::internal

#endif  // V2P_CORE_FEATURES_FEATURE_NETWORK_TORCH_H_
