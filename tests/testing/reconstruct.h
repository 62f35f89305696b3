// Reconstruct calls on digit69's test trials, as the integration tests
// make them against a served model.
#ifndef V2P_TESTS_TESTING_RECONSTRUCT_H_
#define V2P_TESTS_TESTING_RECONSTRUCT_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "Eigen/Core"
#include "core/data/dataset.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p::testing {

// Row `i` of `betas` (one trial's betas) as a sample named `id`.
voxel2pixel::v1::Sample BetasSample(const Eigen::MatrixXd& betas, Eigen::Index i,
                                    const std::string& id);

// Every test trial of `ds` in one Reconstruct call to `model` (ids "t0",
// "t1", ...), with `num_samples` draws each (0: none), under a 60 s
// deadline.
grpc::Status ReconstructTestTrials(voxel2pixel::v1::Reconstruction::Stub& stub,
                                   const std::string& model, const core::Dataset& ds,
                                   bool include_pixels, int num_samples,
                                   voxel2pixel::v1::ReconstructResponse* response);

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_RECONSTRUCT_H_
