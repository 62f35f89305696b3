// The served half of the foreground-attention method (fattention_method.h):
// standardised betas -> attention decoder -> map A; (betas, A) -> image
// decoder -> image. Immutable; Generate() and Attention() are thread-safe.
#ifndef V2P_CORE_METHODS_FATTENTION_FATTENTION_GENERATOR_H_
#define V2P_CORE_METHODS_FATTENTION_FATTENTION_GENERATOR_H_

#include <functional>
#include <memory>
#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/generation/generator.h"

namespace at {
class Tensor;  // LibTorch's, declared only: this header stays free of torch
}

namespace v2p::core {

namespace internal {
struct FAttentionNets;
}

class FAttentionGenerator final : public Generator {
 public:
  explicit FAttentionGenerator(std::unique_ptr<internal::FAttentionNets> nets);
  ~FAttentionGenerator() override;
  // Reads fattention.txt, attention.pt and image_decoder.pt; DATA_LOSS
  // naming the file when one is missing or malformed.
  static absl::StatusOr<std::unique_ptr<FAttentionGenerator>> Load(const std::string& dir);
  absl::Status Save(const std::string& dir) const;

  ImageShape image_shape() const override;
  int input_size() const override;  // the voxels
  std::string Describe() const override;
  // Standardised betas (n x voxels) -> n x pixels.
  absl::StatusOr<Eigen::MatrixXf> Generate(const Eigen::MatrixXf& betas) const override;
  bool gives_attention() const override { return true; }
  // The decoded attention maps: n x (height * width) in (0, 1).
  absl::StatusOr<Eigen::MatrixXf> Attention(const Eigen::MatrixXf& betas) const override;

 private:
  absl::StatusOr<Eigen::MatrixXf> Run(
      const char* what, const Eigen::MatrixXf& betas,
      const std::function<at::Tensor(const at::Tensor&)>& net) const;
  std::unique_ptr<internal::FAttentionNets> nets_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_FATTENTION_FATTENTION_GENERATOR_H_
