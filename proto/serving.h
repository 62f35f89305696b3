// Runs a gRPC server the way both v2p processes do: bind host:port (0 picks
// a free port), turn on grpc.health.v1 and reflection, report the bound
// port, serve until SIGTERM or SIGINT, then shut down gracefully.
#ifndef V2P_PROTO_SERVING_H_
#define V2P_PROTO_SERVING_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace v2p {

struct ServeOptions {
  std::string name;  // for logs: "v2p-server", "v2p-worker"
  std::string host = "127.0.0.1";
  int port = 0;
  // When >= 0, the bound port is written to this file descriptor as
  // "<port>\n" and the descriptor closed: how a parent learns the port of
  // a child started with port 0.
  int ready_fd = -1;
  int max_message_bytes = 64 << 20;
  // More integer channel arguments for the listener (GRPC_ARG_...).
  std::vector<std::pair<std::string, int>> channel_args;
  // The listener's credentials (proto/tls.h); null: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::vector<grpc::Service*> services;
  // Interceptors for every RPC (e.g. RpcMetrics::InterceptorFactory()).
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  // Reported on ready_fd after the gRPC port (0 = no metrics endpoint).
  int metrics_port = 0;
  // Called once serving starts, with the bound port.
  std::function<void(grpc::Server*, int port)> on_started;
  // Called once the server has stopped, before it is destroyed.
  std::function<void()> on_stopped;
  absl::Duration shutdown_grace = absl::Seconds(5);
};

// The listener arguments a worker needs to take the gateway's keepalive
// pings (every 2 s, server/worker_pool.cc) on a call that sends no data (a
// health Watch): gRPC's defaults answer such pings with GOAWAY
// "too_many_pings" after the third.
std::vector<std::pair<std::string, int>> KeepalivePingArgs();

// Installs SIGTERM/SIGINT handlers (whichever thread the kernel picks, the
// signal only wakes the shutdown waiter), then serves until one arrives.
absl::Status ServeUntilSignalled(ServeOptions options);

// Makes --help and --helpshort list the flags defined in `main_file` (the
// caller's __FILE__): absl picks a program's flags by file name, and ours
// are defined in files named main.cc, not after the program.
void ListFlagsOfFileInHelp(absl::string_view main_file);

// An integer flag's value and the range it must lie in.
struct FlagRange {
  const char* name;  // without dashes
  int64_t value;
  int64_t min;
  int64_t max;
};

// INVALID_ARGUMENT naming the first flag outside its range, e.g.
// "--port=99999: must be from 0 to 65535" (or "must be at least N" for a
// maximum of INT32_MAX or more); OK when all are in range. A
// port beyond 65535 would otherwise be bound modulo 65536, and a size in
// MiB beyond 2047 would overflow its count of bytes.
absl::Status CheckFlagRanges(const std::vector<FlagRange>& flags);

// Turns off absl::Mutex's lock-order (deadlock) detection for the process.
// Debian builds Abseil without NDEBUG, so detection is on there by default:
// every nested acquisition updates a global lock graph under a global lock.
// gRPC takes absl::Mutex locks on every call; the bookkeeping costs about
// four times the lock itself (two nested locks: 172 ns against 44 ns). The
// v2p binaries and benchmarks call this first thing in main; tests do not,
// so a lock-order inversion still aborts them.
void DisableMutexDeadlockDetection();

}  // namespace v2p

#endif  // V2P_PROTO_SERVING_H_
