// Text-proto files a lab writes (dataset descriptions, pipeline specs),
// parsed here at the edge and converted to core/'s plain options.
#ifndef V2P_WORKERS_SPEC_FILES_H_
#define V2P_WORKERS_SPEC_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/pipeline/trainer.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::worker {

// The pipeline `v2p train` runs without --spec: ridge from z-scored voxels
// straight to pixels, its alpha chosen by 5-fold cross-validation on the
// training trials, the intercept unpenalised, pixels clipped to [0, 1].
inline constexpr char kDefaultPipelineSpec[] =
    "# v2p's default pipeline (no --spec given)\n"
    "description: \"ridge to pixels, alpha by cross-validation\"\n"
    "target: TARGET_SPACE_PIXELS\n"
    "decoder { ridge { standardize_voxels: true } }\n"
    "generator { identity {} }\n"
    "clip_output: true\n";

// The spec text at `path`, or kDefaultPipelineSpec when `path` is empty.
absl::StatusOr<std::string> PipelineSpecText(const std::string& path);

// INVALID_ARGUMENT names the file, line and column of a syntax error.
absl::StatusOr<voxel2pixel::v1::PipelineSpec> ReadPipelineSpec(
    const std::string& path);
// Parses spec text as sent in CreateTrainingJobRequest.pipeline_spec.
absl::StatusOr<voxel2pixel::v1::PipelineSpec> ParsePipelineSpec(const std::string& text);
absl::StatusOr<voxel2pixel::v1::DatasetDescription> ReadDatasetDescription(
    const std::string& path);

// Checks the spec and converts it. INVALID_ARGUMENT for a spec no pipeline
// supports (no decoder, negative alpha, a target space without generator).
// Sets request's method (built from the spec), clip_output and note;
// INVALID_ARGUMENT saying what the spec lacks or holds wrongly.
absl::Status ToTrainRequest(const voxel2pixel::v1::PipelineSpec& spec,
                            core::TrainRequest* request);

// The folder a description's relative `file` is resolved against:
// `data_root` when given, else the directory of the description file.
std::string DescriptionDataRoot(const std::string& description_path,
                                const std::string& data_root);

// `data_root` resolves a relative `file`.
absl::StatusOr<core::DatasetOptions> ToDatasetOptions(
    const voxel2pixel::v1::DatasetDescription& description,
    const std::string& data_root);

}  // namespace v2p::worker

#endif  // V2P_WORKERS_SPEC_FILES_H_
