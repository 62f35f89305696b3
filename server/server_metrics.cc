#include "server/server_metrics.h"

#include <map>
#include <string>

#include <grpcpp/grpcpp.h>

namespace v2p::server {
namespace {

prometheus::ClientMetric Value(const std::string& label, const std::string& value, double v,
                               prometheus::MetricType type) {
  prometheus::ClientMetric m;
  m.label.push_back({label, value});
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  return m;
}

}  // namespace

std::vector<prometheus::MetricFamily> WorkerPoolCollector::Collect() const {
  prometheus::MetricFamily up{"v2p_worker_up",
                              "1 when the worker slot has a serving worker.",
                              prometheus::MetricType::Gauge,
                              {}};
  prometheus::MetricFamily restarts{"v2p_worker_restarts_total",
                                    "Times a supervised worker was restarted after dying.",
                                    prometheus::MetricType::Counter,
                                    {}};
  const auto slots = pool_->Slots();
  for (size_t i = 0; i < slots.size(); ++i) {
    const std::string w = std::to_string(i);
    up.metric.push_back(Value("worker", w, slots[i].ready ? 1 : 0, prometheus::MetricType::Gauge));
    restarts.metric.push_back(
        Value("worker", w, slots[i].restarts, prometheus::MetricType::Counter));
  }
  return {up, restarts};
}

std::vector<prometheus::MetricFamily> OperationsCollector::Collect() const {
  std::map<std::string, int> counts = {
      {"queued", 0}, {"running", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  for (const std::string& id : operations_->ListIds()) {
    auto op = operations_->Get(id);
    if (!op.ok()) continue;
    if (!op->done()) {
      const auto phase = store::GetMetadata(*op).phase();
      ++counts[phase == voxel2pixel::v1::TrainingJobMetadata::QUEUED ? "queued" : "running"];
    } else if (!op->has_error()) {
      ++counts["succeeded"];
    } else {
      ++counts[op->error().code() == static_cast<int>(grpc::StatusCode::CANCELLED) ? "cancelled"
                                                                                   : "failed"];
    }
  }
  prometheus::MetricFamily f{"v2p_operations",
                             "Training operations in the repository, by state.",
                             prometheus::MetricType::Gauge,
                             {}};
  for (const auto& [state, n] : counts) {
    f.metric.push_back(Value("state", state, n, prometheus::MetricType::Gauge));
  }
  return {f};
}

prometheus::Gauge& StreamsInFlightGauge(prometheus::Registry& registry) {
  return prometheus::BuildGauge()
      .Name("v2p_streams_in_flight")
      .Help("StreamReconstruct calls open now.")
      .Register(registry)
      .Add({});
}

prometheus::Histogram& GatewayBatchSizeHistogram(prometheus::Registry& registry) {
  return prometheus::BuildHistogram()
      .Name("v2p_gateway_batch_size")
      .Help("Samples per worker call when the gateway coalesces concurrent requests.")
      .Register(registry)
      .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128});
}

prometheus::Gauge& GatewayQueuedSamplesGauge(prometheus::Registry& registry) {
  return prometheus::BuildGauge()
      .Name("v2p_gateway_queued_samples")
      .Help("Samples waiting in the gateway for a worker batch (coalescing queue).")
      .Register(registry)
      .Add({});
}

}  // namespace v2p::server
