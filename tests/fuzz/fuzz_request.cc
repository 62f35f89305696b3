// libFuzzer harness: any bytes as a ReconstructRequest on the wire, checked
// by the gateway's validation (server/validation.h) against a 16-voxel
// model; every message it returns must stay bounded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/validation.h"
#include "voxel2pixel/v1/models.pb.h"
#include "voxel2pixel/v1/reconstruction.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  voxel2pixel::v1::ReconstructRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  voxel2pixel::v1::Model model;
  model.set_name("m");
  model.set_version(1);
  model.set_num_voxels(16);
  absl::Status s = v2p::server::ValidateModelRef(request.model(), request.model_version());
  if (s.ok()) s = v2p::server::ValidateNotEmpty(request);
  for (int i = 0; s.ok() && i < request.samples_size(); ++i)
    s = v2p::server::ValidateSample(request.samples(i), i, model);
  if (s.message().size() > 1024) std::abort();  // an echo left unbounded
  return 0;
}
