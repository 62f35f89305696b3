// The rules a dataset description must keep, checked by the gateway when a
// dataset is uploaded (before a byte is stored) and by the worker when it
// reads one: one protobuf-only library, one message for one mistake.
#ifndef V2P_SPEC_DATASET_RULES_H_
#define V2P_SPEC_DATASET_RULES_H_

#include "absl/status/status.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::spec {

inline constexpr int kMaxImageSide = 4096;

// INVALID_ARGUMENT, naming the field, for: an image side outside
// 1..kMaxImageSide, channels other than 0 (= 1), 1 or 3, no layout, a
// pixel_max that is negative or not finite, a variable name that is not
// 1-63 characters of [A-Za-z0-9_] starting with a letter (MATLAB's rule)
// where one is given (or "<source>:<variable>" for a source the
// description names), no training betas, more than kMaxSources sources, a
// source key that is not such a name, a source without a path, no `file`
// while a plain variable name needs one, or text fields over their bounds
// (name, citation, file, source paths and masks, test_trials.ranges 4096
// bytes).
absl::Status ValidateDatasetDescription(const voxel2pixel::v1::DatasetDescription& d);

inline constexpr int kMaxSources = 64;

// ValidateDatasetDescription, and no sources: an uploaded dataset is the
// one file uploaded (`v2p datasets upload` bundles sources into it), so
// `file` may be empty.
absl::Status ValidateUploadedDescription(const voxel2pixel::v1::DatasetDescription& d);

}  // namespace v2p::spec

#endif  // V2P_SPEC_DATASET_RULES_H_
