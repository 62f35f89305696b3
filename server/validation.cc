#include "server/validation.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "proto/client_text.h"
#include "store/names.h"

namespace v2p::server {

namespace {

// Whether every value is finite, in one pass without early exit: a value is
// not finite when its exponent bits are all set, tested on the bits in
// blocks of a fixed count so that the loop vectorises at -O2 (as
// core::CheckFiniteRows does in the worker; batch_throughput_bench times
// the two ways).
bool AllFinite(const float* v, int n) {
  constexpr uint32_t kExponent = 0x7f800000u;
  constexpr int kBlock = 16;
  uint32_t bad = 0;
  int i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    uint32_t bits[kBlock];
    std::memcpy(bits, v + i, sizeof(bits));
    for (int k = 0; k < kBlock; ++k)
      bad |= static_cast<uint32_t>((bits[k] & kExponent) == kExponent);
  }
  for (; i < n; ++i) bad |= static_cast<uint32_t>(!std::isfinite(v[i]));
  return bad == 0;
}

}  // namespace

absl::Status ValidateModelRef(const std::string& model, int64_t version) {
  if (model.empty()) {
    return absl::InvalidArgumentError("no model named: set 'model' (see Models.ListModels)");
  }
  if (absl::Status s = store::ValidateName(model, "model name"); !s.ok()) return s;
  if (version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model version is ", version, "; give 0 for the latest, or a version >= 1"));
  }
  return absl::OkStatus();
}

absl::Status ValidateNotEmpty(const voxel2pixel::v1::ReconstructRequest& request) {
  if (request.samples().empty()) {
    return absl::InvalidArgumentError("empty batch: expected at least one sample, received 0");
  }
  return absl::OkStatus();
}

absl::Status ValidateSample(const voxel2pixel::v1::Sample& sample, int index,
                            const voxel2pixel::v1::Model& model) {
  if (sample.betas_size() != model.num_voxels()) {
    return absl::InvalidArgumentError(absl::StrCat("sample '", ClientText(sample.id()), "' (index ",
                                                   index, "): model ", model.name(), " v",
                                                   model.version(), " expects ", model.num_voxels(),
                                                   " betas, received ", sample.betas_size()));
  }
  if (AllFinite(sample.betas().data(), sample.betas_size())) return absl::OkStatus();
  for (int v = 0; v < sample.betas_size(); ++v) {
    if (!std::isfinite(sample.betas(v))) {
      return absl::InvalidArgumentError(absl::StrCat("sample '", ClientText(sample.id()),
                                                     "' (index ", index, "): beta ", v, " is ",
                                                     sample.betas(v), "; expected finite values"));
    }
  }
  return absl::OkStatus();
}

}  // namespace v2p::server
