#include "proto/serving.h"

#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>

#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace v2p {
namespace {

// Self-pipe: the handler may only make async-signal-safe calls, so it
// writes the signal number for the waiter thread to read.
int g_signal_pipe[2] = {-1, -1};

void OnTerminationSignal(int sig) {
  const char byte = static_cast<char>(sig);
  (void)!write(g_signal_pipe[1], &byte, 1);
}

absl::Status InstallTerminationHandlers() {
  if (g_signal_pipe[0] < 0 && pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError("cannot create the signal pipe");
  }
  struct sigaction sa {};
  sa.sa_handler = OnTerminationSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return absl::OkStatus();
}

}  // namespace

absl::Status ServeUntilSignalled(ServeOptions options) {
  if (absl::Status s = InstallTerminationHandlers(); !s.ok()) return s;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      absl::StrCat(options.host, ":", options.port),
      options.credentials ? options.credentials : grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  for (const auto& [name, value] : options.channel_args) builder.AddChannelArgument(name, value);
  for (grpc::Service* s : options.services) builder.RegisterService(s);
  if (!options.interceptors.empty()) {
    builder.experimental().SetInterceptorCreators(std::move(options.interceptors));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        options.name, ": cannot listen on ", options.host, ":", options.port,
        " (the port taken by another process, or the host not an address of this machine; "
        "--port=0 picks a free port)"));
  }
  // on_started publishes state callers read as soon as they hear the port
  // (the readiness health status): run it before announcing the port.
  if (options.on_started) options.on_started(server.get(), port);
  std::fprintf(stderr, "%s listening on %s:%d (pid %d)\n", options.name.c_str(),
               options.host.c_str(), port, getpid());
  if (options.ready_fd >= 0) {
    const std::string line = absl::StrCat(port, " ", options.metrics_port, "\n");
    (void)!write(options.ready_fd, line.data(), line.size());
    close(options.ready_fd);
  }

  std::thread waiter([&] {
    char sig = 0;
    while (read(g_signal_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    std::fprintf(stderr, "%s: signal %d, shutting down\n", options.name.c_str(), sig);
    // Every health status turns NOT_SERVING (and stays so) and watchers
    // hear it at once: a gateway stops sending here and closes its Watch
    // stream, and a readiness probe fails while calls in flight finish.
    if (auto* health = server->GetHealthCheckService()) health->Shutdown();
    server->Shutdown(std::chrono::system_clock::now() +
                     absl::ToChronoSeconds(options.shutdown_grace));
  });
  server->Wait();
  waiter.join();
  if (options.on_stopped) options.on_stopped();
  return absl::OkStatus();
}

std::vector<std::pair<std::string, int>> KeepalivePingArgs() {
  return {{GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000},
          {GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0}};
}

void DisableMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

void ListFlagsOfFileInHelp(absl::string_view main_file) {
  absl::FlagsUsageConfig usage;
  // absl passes the defining file's name with the build's leading
  // directories trimmed: a suffix of __FILE__.
  usage.contains_help_flags = [main = std::string(main_file)](absl::string_view file) {
    return !file.empty() && absl::EndsWith(main, file);
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
}

absl::Status CheckFlagRanges(const std::vector<FlagRange>& flags) {
  for (const FlagRange& f : flags) {
    if (f.value < f.min || f.value > f.max) {
      return absl::InvalidArgumentError(
          f.max >= INT32_MAX
              ? absl::StrCat("--", f.name, "=", f.value, ": must be at least ", f.min)
              : absl::StrCat("--", f.name, "=", f.value, ": must be from ", f.min, " to ", f.max));
    }
  }
  return absl::OkStatus();
}

}  // namespace v2p
