// Internal: includes torch, so only implementation files include it.
//
// A stored generator as a differentiable function of its condition, for
// losses over what it draws: Shen et al.'s (2019) deep-generator-network
// prior optimises the condition so that the feature network's responses to
// G(condition) match decoded features.
#ifndef V2P_CORE_GENERATION_ICG_TORCH_H_
#define V2P_CORE_GENERATION_ICG_TORCH_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "core/generation/icg.h"

namespace v2p::core::internal {

// G(z = 0, h) for conditions h (n x input_size(), as Generate takes them:
// not standardised): n x pixels in [0, 1], differentiable with respect to
// h. The generator's parameters stop requiring gradients on the first call.
absl::StatusOr<torch::Tensor> DifferentiableGenerate(const IcgGenerator& generator,
                                                     const torch::Tensor& h);

}  // namespace v2p::core::internal

#endif  // V2P_CORE_GENERATION_ICG_TORCH_H_
