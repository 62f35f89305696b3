// A decoder that only standardises: each voxel z-scored by the fitted
// trials' mean and population SD (an SD of 0 leaves the voxel centred),
// and decode passes the standardised betas on. For methods whose network
// takes the betas themselves (the foreground-attention decoders).
#ifndef V2P_CORE_DECODING_STANDARDIZING_DECODER_H_
#define V2P_CORE_DECODING_STANDARDIZING_DECODER_H_

#include <memory>
#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/decoding/decoder.h"

namespace v2p::core {

class StandardizingDecoder final : public Decoder {
 public:
  // INVALID_ARGUMENT for fewer than 2 rows, no columns or a non-finite value.
  static absl::StatusOr<std::unique_ptr<StandardizingDecoder>> Fit(const Eigen::MatrixXd& betas);
  // DATA_LOSS naming the file when it is missing or malformed.
  static absl::StatusOr<std::unique_ptr<StandardizingDecoder>> Load(const std::string& dir);
  absl::Status Save(const std::string& dir) const override;  // standardize.npy

  int num_voxels() const override { return static_cast<int>(mean_.size()); }
  int num_outputs() const override { return num_voxels(); }
  void Standardize(Eigen::MatrixXf* betas) const override {
    betas->array().rowwise() -= mean_.array();
    betas->array().rowwise() *= inv_sd_.array();
  }
  Eigen::MatrixXf Decode(const Eigen::MatrixXf& standardized) const override {
    return standardized;
  }

 private:
  StandardizingDecoder(Eigen::RowVectorXf mean, Eigen::RowVectorXf inv_sd)
      : mean_(std::move(mean)), inv_sd_(std::move(inv_sd)) {}
  Eigen::RowVectorXf mean_, inv_sd_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_STANDARDIZING_DECODER_H_
