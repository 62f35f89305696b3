#include "proto/serving.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace v2p {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

absl::Status ServeUntilSignalled(const ServeOptions& options) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::StrCat(options.host, ":", options.port),
                           grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  for (grpc::Service* s : options.services) builder.RegisterService(s);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat(options.name, ": cannot listen on ", options.host, ":", options.port));
  }
  std::fprintf(stderr, "%s listening on %s:%d (pid %d)\n", options.name.c_str(),
               options.host.c_str(), port, getpid());
  if (options.ready_fd >= 0) {
    const std::string line = absl::StrCat(port, "\n");
    (void)!write(options.ready_fd, line.data(), line.size());
    close(options.ready_fd);
  }
  if (options.on_started) options.on_started(server.get(), port);

  std::thread waiter([&] {
    sigset_t set = TerminationSignals();
    int sig = 0;
    sigwait(&set, &sig);
    std::fprintf(stderr, "%s: signal %d, shutting down\n", options.name.c_str(), sig);
    server->Shutdown(std::chrono::system_clock::now() +
                     absl::ToChronoSeconds(options.shutdown_grace));
  });
  server->Wait();
  waiter.join();
  return absl::OkStatus();
}

}  // namespace v2p
