// How every `v2p` command talks to a server: one channel setup (message
// size bounded as the server's), deadlines, and gRPC errors turned into
// absl::Status naming the call that failed.
#ifndef V2P_CLIENT_RPC_HELPERS_H_
#define V2P_CLIENT_RPC_HELPERS_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace v2p::client {

// `args` may carry more channel options; the message bounds are added.
std::shared_ptr<grpc::Channel> Connect(const std::string& server, grpc::ChannelArguments args = {});
void SetDeadline(grpc::ClientContext* context, int seconds);
// OK stays OK; otherwise the same code with "<what>: " before the message.
absl::Status RpcStatus(const grpc::Status& status, absl::string_view what);

}  // namespace v2p::client

#endif  // V2P_CLIENT_RPC_HELPERS_H_
