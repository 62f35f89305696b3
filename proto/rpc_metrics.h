// Prometheus metrics shared by both processes: every RPC's count by method
// and code and its duration (recorded once, in a server interceptor, not in
// each handler), build info, and the HTTP endpoint that exposes a
// registry. Metric names follow Prometheus conventions: base units,
// _seconds histograms, _total counters, bounded labels.
#ifndef V2P_PROTO_RPC_METRICS_H_
#define V2P_PROTO_RPC_METRICS_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"

namespace v2p {

// Latency buckets in seconds, 100 µs .. 10 s.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

class RpcMetrics {
 public:
  // `process` ("server", "worker") and `version` go into v2p_build_info.
  RpcMetrics(prometheus::Registry& registry, const std::string& process,
             const std::string& version);

  // For ServerBuilder::experimental().SetInterceptorCreators().
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // Counts one finished RPC. `method` is gRPC's full method name; the
  // metric handles of each method are cached by that pointer, which gRPC
  // keeps stable, so no label lookup happens per call after the first.
  void Record(const char* method, grpc::StatusCode code, double seconds);

 private:
  struct PerMethod {
    prometheus::Histogram* duration;
    std::map<int, prometheus::Counter*> by_code;
  };
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  std::mutex mu_;
  std::map<const char*, PerMethod> methods_;
};

// Serves the registered collectables at http://host:port/metrics in the
// Prometheus text format (0.0.4); port 0 picks a free one. A small endpoint
// of our own: CivetWeb (prometheus-cpp's exposer) fails to start in any
// process that has LibTorch 1.13 loaded (reproduced with LD_PRELOAD of
// libtorch_cpu.so into a minimal exposer program). One thread; each
// scrape is one short connection.
class MetricsEndpoint {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(const std::string& host, int port);
  ~MetricsEndpoint();  // stops serving

  void RegisterCollectable(std::shared_ptr<prometheus::Collectable> collectable);
  int port() const { return port_; }

 private:
  MetricsEndpoint(int fd, int port) : fd_(fd), port_(port) {}
  void Serve();
  std::string Render();

  const int fd_;
  const int port_;
  std::mutex mu_;
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace v2p

#endif  // V2P_PROTO_RPC_METRICS_H_
