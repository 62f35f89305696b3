// How every `v2p` command talks to a server: one channel setup (message
// size bounded as the server's), deadlines, and gRPC errors turned into
// absl::Status naming the call that failed.
#ifndef V2P_CLIENT_RPC_HELPERS_H_
#define V2P_CLIENT_RPC_HELPERS_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace v2p::client {

// The channels' credentials, read once from the environment: TLS trusting
// the CA in V2P_TLS_CA (a PEM file), presenting V2P_TLS_CERT and
// V2P_TLS_KEY when set (a server that requires client certificates);
// plaintext when V2P_TLS_CA is unset. `v2p` checks it at start, so that a
// missing file is reported before any command runs.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ClientCredentials();

// `args` may carry more channel options; the message bounds are added.
// Uses ClientCredentials() (plaintext if they failed to load). When
// V2P_TOKEN is set, every call carries "authorization: Bearer <V2P_TOKEN>"
// (a server started with --auth_tokens).
std::shared_ptr<grpc::Channel> Connect(const std::string& server, grpc::ChannelArguments args = {});
// The same with `token` as the bearer token ("" sends none).
std::shared_ptr<grpc::Channel> ConnectAs(const std::string& server, const std::string& token,
                                         grpc::ChannelArguments args = {});
void SetDeadline(grpc::ClientContext* context, int seconds);
// OK stays OK; otherwise the same code with "<what>: " before the message.
absl::Status RpcStatus(const grpc::Status& status, absl::string_view what);

}  // namespace v2p::client

#endif  // V2P_CLIENT_RPC_HELPERS_H_
