// Trains a pipeline on a dataset's train split, scores it on the test split
// (and the mean-image reference), and commits it as a new model version.
// Shared by the local `v2p train` and, later, the remote training jobs.
#ifndef V2P_CORE_PIPELINE_TRAINER_H_
#define V2P_CORE_PIPELINE_TRAINER_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/data/dataset.h"
#include "core/decoding/ridge_decoder.h"
#include "core/pipeline/manifest.h"
#include "core/pipeline/model_repository.h"

namespace v2p::core {

// Plain options converted from a PipelineSpec at the process edge.
struct PipelineOptions {
  enum class Generator { kIdentity };

  RidgeDecoder::Options ridge;
  Generator generator = Generator::kIdentity;
  bool clip_output = true;
  std::string note;  // free text from the spec
};

struct TrainRequest {
  std::string model_name;
  PipelineOptions pipeline;
  // The spec as the user wrote it, stored verbatim with the model.
  std::string spec_text;
};

// One line naming the stages and their settings.
std::string DescribePipeline(const PipelineOptions& options, ImageShape image);

// Returns the committed manifest (with its new version). INVALID_ARGUMENT
// for a bad name or a dataset the pipeline cannot use.
absl::StatusOr<ModelManifest> TrainModel(const Dataset& dataset,
                                         const TrainRequest& request,
                                         ModelRepository& repository);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_TRAINER_H_
