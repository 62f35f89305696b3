// The one place where the worker translates between protobuf messages and
// core/ types.
#ifndef V2P_WORKERS_CONVERSIONS_H_
#define V2P_WORKERS_CONVERSIONS_H_

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/pipeline/pipeline.h"
#include "voxel2pixel/v1/models.pb.h"
#include "voxel2pixel/v1/reconstruction.pb.h"
#include "workers/model_registry.h"

namespace v2p::worker {

// Samples -> n x num_voxels betas. INVALID_ARGUMENT for an empty batch or a
// sample whose voxel count differs, naming the sample id and both counts.
absl::StatusOr<Eigen::MatrixXf> SamplesToBetas(
    const google::protobuf::RepeatedPtrField<voxel2pixel::v1::Sample>& samples, int num_voxels,
    const std::string& model);

void ToResultProto(const core::Reconstruction& rec, const core::ModelManifest& manifest,
                   bool include_pixels, voxel2pixel::v1::ReconstructionResult* out);

// A refiner's progress (RunOptions::on_progress) for the samples of
// `request`: their losses and images (n x pixels, row-major HWC) so far.
absl::Status ToProgressProto(int iteration, const Eigen::VectorXd& loss,
                             const Eigen::MatrixXf& images,
                             const voxel2pixel::v1::ReconstructRequest& request,
                             const core::ModelManifest& manifest,
                             voxel2pixel::v1::RefineProgress* out);

void ToEvaluationProto(const core::ModelManifest::Evaluation& evaluation,
                       voxel2pixel::v1::Evaluation* out);

void ToModelProto(const ModelRegistry::ModelInfo& info, voxel2pixel::v1::Model* out);

}  // namespace v2p::worker

#endif  // V2P_WORKERS_CONVERSIONS_H_
