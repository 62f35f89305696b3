#include "client/rpc_helpers.h"

#include <chrono>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "proto/rpc_status.h"
#include "proto/tls.h"

namespace v2p::client {

// The servers' default bound (--max_message_mb).
constexpr int kMaxMessageBytes = 64 << 20;

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials() {
  static const auto* credentials = [] {
    auto env = [](const char* name) {
      const char* v = std::getenv(name);
      return std::string(v == nullptr ? "" : v);
    };
    return new absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>>(
        ChannelCredentials({env("V2P_TLS_CERT"), env("V2P_TLS_KEY"), env("V2P_TLS_CA")}));
  }();
  return *credentials;
}

std::shared_ptr<grpc::Channel> Connect(const std::string& server, grpc::ChannelArguments args) {
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  auto credentials = ClientCredentials();
  return grpc::CreateCustomChannel(
      server, credentials.ok() ? *credentials : grpc::InsecureChannelCredentials(), args);
}

void SetDeadline(grpc::ClientContext* context, int seconds) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

absl::Status RpcStatus(const grpc::Status& status, absl::string_view what) {
  const absl::Status s = FromGrpcStatus(status);
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

}  // namespace v2p::client
