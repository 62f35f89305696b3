// A decoder maps rows of betas (one sample per row) to rows of a method's
// target space: pixels, features, a generator's latent. The pipeline runs
// it in two timed stages, preprocess then decode. Implementations are
// immutable after construction and safe to call from several threads.
#ifndef V2P_CORE_DECODING_DECODER_H_
#define V2P_CORE_DECODING_DECODER_H_

#include <string>

#include "Eigen/Core"
#include "absl/status/status.h"

namespace v2p::core {

class Decoder {
 public:
  virtual ~Decoder() = default;

  virtual int num_voxels() const = 0;
  virtual int num_outputs() const = 0;
  // The rank the decode works at when its weights are factored, else 0.
  virtual int decode_rank() const { return 0; }
  // Preprocess stage: rows of raw betas, transformed in place.
  virtual void Standardize(Eigen::MatrixXf* betas) const = 0;
  // Decode stage: preprocessed rows (n x num_voxels()) -> n x num_outputs().
  virtual Eigen::MatrixXf Decode(const Eigen::MatrixXf& preprocessed) const = 0;
  // Writes the decoder's files into a model version directory.
  virtual absl::Status Save(const std::string& dir) const = 0;
};

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_DECODER_H_
