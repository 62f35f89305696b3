// Rules for the generic form of a pipeline spec, `method { name
// parameters }`, checked the same way by the gateway (before a training job
// exists) and by the worker and the local `v2p train` (before the method
// is built). Protobuf only: no LibTorch, no core/. The method's own rules
// for its parameters are its own (core/methods).
#ifndef V2P_SPEC_METHOD_SPEC_H_
#define V2P_SPEC_METHOD_SPEC_H_

#include <string>

#include "absl/status/status.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::spec {

inline constexpr int kMaxMethodParameters = 64;
inline constexpr int kMaxParameterValueBytes = 1024;

// 1-64 characters of [A-Za-z0-9_.-] starting with a letter or digit: the
// names a spec may give (methods, parameters, stored networks, generators).
bool IsPlainName(const std::string& name);

// INVALID_ARGUMENT (echoing at most 64 characters of what it names) when
// spec.method is set together with the typed fields (target, decoder,
// generator, features, pixel_components), or when its name or a parameter
// key is not 1-64 characters of [A-Za-z0-9_.-] starting with a letter or
// digit, it has over kMaxMethodParameters parameters, or a value is longer
// than kMaxParameterValueBytes. OK when spec.method is not set.
absl::Status ValidateMethodSpec(const voxel2pixel::v1::PipelineSpec& spec);

}  // namespace v2p::spec

#endif  // V2P_SPEC_METHOD_SPEC_H_
