// A method defined only under tests/, to prove the method seam: "nearest
// training stimulus" serves, for each sample, the stimulus of the training
// trial whose betas correlate best with it (voxels z-scored with the
// training statistics unless standardize_voxels is "false"). It is trained
// by a service job, loaded by a real worker and served over gRPC with no
// edit outside tests/ but its registration (nearest_worker_main.cc).
#ifndef V2P_TESTS_METHODS_NEAREST_STIMULUS_METHOD_H_
#define V2P_TESTS_METHODS_NEAREST_STIMULUS_METHOD_H_

#include <memory>
#include <string>

#include "core/methods/registry.h"
#include "core/pipeline/method.h"

namespace v2p::testing {

class NearestStimulusMethod : public core::Method {
 public:
  static constexpr char kName[] = "nearest_stimulus";
  explicit NearestStimulusMethod(bool standardize) : standardize_(standardize) {}

  std::string name() const override { return kName; }
  std::string Describe(core::ImageShape image) const override;
  absl::StatusOr<core::FittedMethod> Fit(const core::FitContext& context) const override;

  // Its registry entry: the loader and the parameters' parser.
  static core::MethodEntry Entry();

 private:
  bool standardize_;
};

}  // namespace v2p::testing

#endif  // V2P_TESTS_METHODS_NEAREST_STIMULUS_METHOD_H_
