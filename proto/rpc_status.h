// The one mapping between absl::Status (inside every process) and
// grpc::Status (on the wire). Codes map 1:1; messages pass through, cut to
// kMaxStatusMessage bytes on the way out: a status message travels as a
// header, and one over the peer's header limit would fail the call with a
// confusing error (and tear down a connection other calls share).
#ifndef V2P_PROTO_RPC_STATUS_H_
#define V2P_PROTO_RPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

namespace v2p {

inline constexpr size_t kMaxStatusMessage = 2048;

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

void ToDurationProto(absl::Duration d, google::protobuf::Duration* out);
absl::Duration FromDurationProto(const google::protobuf::Duration& d);

}  // namespace v2p

#endif  // V2P_PROTO_RPC_STATUS_H_
