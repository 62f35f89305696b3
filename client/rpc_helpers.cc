#include "client/rpc_helpers.h"

#include <chrono>
#include <cstdlib>

#include <grpcpp/support/client_interceptor.h>

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

namespace {

// Adds the bearer token to every call's headers.
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(std::string header) : header_(std::move(header)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(&header_);
  }

 private:
  const std::string header_;
};

}  // namespace

std::shared_ptr<grpc::Channel> Connect(const std::string& server, grpc::ChannelArguments args) {
  const char* token = std::getenv("V2P_TOKEN");
  return ConnectAs(server, token == nullptr ? "" : token, std::move(args));
}

std::shared_ptr<grpc::Channel> ConnectAs(const std::string& server, const std::string& token,
                                         grpc::ChannelArguments args) {
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  auto credentials = ClientCredentials();
  auto channel_credentials = credentials.ok() ? *credentials : grpc::InsecureChannelCredentials();
  if (token.empty()) {
    return grpc::CreateCustomChannel(server, channel_credentials, args);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<TokenInterceptorFactory>(absl::StrCat("Bearer ", token)));
  return grpc::experimental::CreateCustomChannelWithInterceptors(server, channel_credentials, args,
                                                                 std::move(interceptors));
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
