// Text-proto files a lab writes (dataset descriptions, pipeline specs),
// parsed here at the edge and converted to core/'s plain options.
#ifndef V2P_WORKERS_SPEC_FILES_H_
#define V2P_WORKERS_SPEC_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/pipeline/trainer.h"
#include "spec/spec_files.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"
#include "workers/dataset_options.h"

namespace v2p::worker {

// Reading and parsing are protobuf-only (spec/spec_files.h), shared with
// the lab CLI and the gateway.
using spec::DescriptionDataRoot;
using spec::kDefaultPipelineSpec;
using spec::ParsePipelineSpec;
using spec::PipelineSpecText;
using spec::ReadDatasetDescription;
using spec::ReadPipelineSpec;

// Checks the spec and converts it. INVALID_ARGUMENT for a spec no pipeline
// supports (no decoder, negative alpha, a target space without generator).
// Sets request's method (built from the spec), clip_output and note;
// INVALID_ARGUMENT saying what the spec lacks or holds wrongly.
absl::Status ToTrainRequest(const voxel2pixel::v1::PipelineSpec& spec, core::TrainRequest* request);

}  // namespace v2p::worker

#endif  // V2P_WORKERS_SPEC_FILES_H_
