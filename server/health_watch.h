// Follows one worker's grpc.health.v1 status with a Health/Watch stream
// (https://github.com/grpc/grpc/blob/master/doc/health-checking.md) and
// reports each change, so the gateway routes only to workers that say they
// serve: a worker that is unreachable, draining (v2p-worker turns NOT_SERVING
// on SIGTERM, proto/serving.cc) or not yet listening is left out until it
// serves again.
//
// A stream that fails or ends reports not serving and is reopened after
// `retry` (a worker that cannot be reached fails it at once, so it is
// reported down rather than waited for). The stream is also closed on
// NOT_SERVING: a draining worker waits for every open call before it
// exits, and a Watch would keep it for its whole grace period. A worker
// without the health service (UNIMPLEMENTED) is reported serving once and
// not watched further: its calls' own failures are all the gateway learns
// of it.
#ifndef V2P_SERVER_HEALTH_WATCH_H_
#define V2P_SERVER_HEALTH_WATCH_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace v2p::server {

class HealthWatch {
 public:
  // `on_change(serving)` runs on the watch's own thread, first when the
  // first answer (or failure) arrives, then on every change. It must not
  // destroy this watch.
  HealthWatch(std::shared_ptr<grpc::Channel> channel, std::string service,
              std::function<void(bool serving)> on_change,
              absl::Duration retry = absl::Milliseconds(200));
  ~HealthWatch();  // cancels the stream and waits for the thread

  HealthWatch(const HealthWatch&) = delete;
  HealthWatch& operator=(const HealthWatch&) = delete;

 private:
  void Run();
  void Report(bool serving);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::string service_;
  const std::function<void(bool)> on_change_;
  const absl::Duration retry_;
  int last_ = -1;  // -1 before the first report; only the thread uses it
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_HEALTH_WATCH_H_
