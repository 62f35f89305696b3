#include "proto/rpc_status.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace v2p {

// absl::StatusCode and grpc::StatusCode share numeric values 0..16 by
// design (both follow google.rpc.Code), so the cast is exact.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  absl::string_view message = status.message();
  std::string bounded(message.substr(0, kMaxStatusMessage));
  if (message.size() > kMaxStatusMessage)
    absl::StrAppend(&bounded, "... (", message.size(), " bytes)");
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::move(bounded));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

void ToDurationProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

absl::Duration FromDurationProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

}  // namespace v2p
