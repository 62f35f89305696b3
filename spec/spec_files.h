// Text-proto files a lab writes (pipeline specs, dataset descriptions),
// read and parsed for any process edge: the lab CLI, the gateway, the
// worker. Protobuf only; converting them to core/'s options is the
// worker's (workers/spec_files.h).
#ifndef V2P_SPEC_SPEC_FILES_H_
#define V2P_SPEC_SPEC_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::spec {

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

// The file's bytes; NOT_FOUND "cannot open PATH".
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

// The spec text at `path`, or kDefaultPipelineSpec when `path` is empty.
absl::StatusOr<std::string> PipelineSpecText(const std::string& path);

// INVALID_ARGUMENT names the file, line and column of a syntax error.
absl::StatusOr<voxel2pixel::v1::PipelineSpec> ReadPipelineSpec(const std::string& path);
// Parses spec text as sent in CreateTrainingJobRequest.pipeline_spec.
absl::StatusOr<voxel2pixel::v1::PipelineSpec> ParsePipelineSpec(const std::string& text);
absl::StatusOr<voxel2pixel::v1::DatasetDescription> ReadDatasetDescription(const std::string& path);

// The folder a description's relative `file` is resolved against:
// `data_root` when given, else the directory of the description file.
std::string DescriptionDataRoot(const std::string& description_path, const std::string& data_root);

}  // namespace v2p::spec

#endif  // V2P_SPEC_SPEC_FILES_H_
