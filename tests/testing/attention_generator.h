// Test doubles for the attention-map path (Generator::attention): a
// generator with a known attention map, and the size and colour type of a
// PNG.
#ifndef V2P_TESTS_TESTING_ATTENTION_GENERATOR_H_
#define V2P_TESTS_TESTING_ATTENTION_GENERATOR_H_

#include <string>
#include <tuple>

#include "core/generation/generator.h"
#include "core/generation/identity_generator.h"

namespace v2p::testing {

// A generator for the attention tests: the identity on pixels, whose
// "attention" is each pixel's mean over the channels times `gain` (so it
// leaves [0, 1] and must be clipped), `width` values per row.
class ChannelMeanAttention final : public core::Generator {
 public:
  ChannelMeanAttention(core::ImageShape shape, float gain, int width)
      : identity_(shape), gain_(gain), width_(width) {}
  core::ImageShape image_shape() const override { return identity_.image_shape(); }
  int input_size() const override { return identity_.input_size(); }
  std::string Describe() const override { return "channel-mean attention"; }
  absl::StatusOr<Eigen::MatrixXf> Generate(const Eigen::MatrixXf& targets) const override {
    return identity_.Generate(targets);
  }
  bool gives_attention() const override { return true; }
  absl::StatusOr<Eigen::MatrixXf> Attention(const Eigen::MatrixXf& targets) const override {
    const int c = image_shape().channels;
    Eigen::MatrixXf a(targets.rows(), width_);
    for (int p = 0; p < width_; ++p) {
      a.col(p) = gain_ * targets.middleCols(p * c, c).rowwise().mean();
    }
    return a;
  }

 private:
  core::IdentityGenerator identity_;
  float gain_;
  int width_;
};

// Height, width and colour type from a PNG's IHDR chunk.
inline std::tuple<int, int, int> PngHeader(const std::string& png) {
  auto u32 = [&](size_t at) {
    return (static_cast<unsigned char>(png[at]) << 24) |
           (static_cast<unsigned char>(png[at + 1]) << 16) |
           (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]);
  };
  if (png.size() < 26 || png.compare(12, 4, "IHDR") != 0) return {-1, -1, -1};
  return {static_cast<int>(u32(20)), static_cast<int>(u32(16)), png[25]};
}

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_ATTENTION_GENERATOR_H_
