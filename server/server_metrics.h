// The gateway's own Prometheus metrics. Worker state and operations by
// state are read from their sources when Prometheus scrapes (Collectables),
// so no second copy of that state is kept. Thread-safe.
#ifndef V2P_SERVER_SERVER_METRICS_H_
#define V2P_SERVER_SERVER_METRICS_H_

#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "server/worker_pool.h"
#include "store/operation_store.h"

namespace v2p::server {

// v2p_worker_up{worker} and v2p_worker_restarts_total{worker}.
class WorkerPoolCollector final : public prometheus::Collectable {
 public:
  explicit WorkerPoolCollector(const WorkerPool* pool) : pool_(pool) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const WorkerPool* pool_;
};

// v2p_operations{state=queued|running|succeeded|failed|cancelled}. Reads
// every operation's record per scrape: fine for thousands of operations.
class OperationsCollector final : public prometheus::Collectable {
 public:
  explicit OperationsCollector(const store::OperationStore* operations) : operations_(operations) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const store::OperationStore* operations_;
};

// v2p_streams_in_flight.
prometheus::Gauge& StreamsInFlightGauge(prometheus::Registry& registry);

// v2p_gateway_batch_size: samples per coalesced worker call.
prometheus::Histogram& GatewayBatchSizeHistogram(prometheus::Registry& registry);

// v2p_gateway_queued_samples: samples waiting in the gateway for a batch.
prometheus::Gauge& GatewayQueuedSamplesGauge(prometheus::Registry& registry);

}  // namespace v2p::server

#endif  // V2P_SERVER_SERVER_METRICS_H_
