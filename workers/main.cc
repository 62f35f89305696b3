// v2p-worker: serves the internal worker API from a model repository on one
// device. Usually started and supervised by v2p-server (--workers=spawn:N).
#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/decoding/blas_threads.h"
#include "core/pipeline/device.h"
#include "proto/rpc_metrics.h"
#include "proto/serving.h"
#include "workers/job_runner.h"
#include "workers/model_registry.h"
#include "workers/worker_metrics.h"
#include "workers/worker_service.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on (0.0.0.0 for all interfaces).");
ABSL_FLAG(int, port, 0,
          "Port to listen on; 0 picks a free one (see --ready_fd).");
ABSL_FLAG(std::string, repo, "", "Model repository directory (required).");
ABSL_FLAG(std::string, device, "auto", "auto, cpu or cuda:N.");
ABSL_FLAG(int, ready_fd, -1,
          "Write the bound port to this file descriptor, then close it.");
ABSL_FLAG(int, max_message_mb, 64, "Largest request or response, in MiB.");
ABSL_FLAG(int, shutdown_grace_s, 5,
          "On SIGTERM, how long calls in flight may finish before they are cancelled.");
ABSL_FLAG(int, max_batch_size, 32, "Dynamic batching: most samples per batch; 0 turns batching off.");
ABSL_FLAG(int, threads_per_model, 2,
          "Threads running one model's batches: at most this many batches (or, with batching "
          "off, requests) of one model run at once.");
ABSL_FLAG(int, max_queue_delay_us, 0,
          "Dynamic batching: longest a sample waits for company. 0 batches only what queued while the previous batch ran.");
ABSL_FLAG(int, metrics_port, -1, "Prometheus /metrics port; 0 picks a free one, -1 turns it off.");
ABSL_FLAG(int, blas_threads, 1, "Threads per BLAS call (requests run in parallel already).");
ABSL_FLAG(bool, run_jobs, true, "Run training jobs from the repository on this worker.");
ABSL_FLAG(int, max_concurrent_jobs, 1, "Training jobs run at once (each on its own thread).");
ABSL_FLAG(int, job_lease_s, 10, "Lease of a running job; another worker takes a job over this long after its worker died.");

int main(int argc, char** argv) {
  v2p::ListFlagsOfFileInHelp(__FILE__);
  absl::SetProgramUsageMessage(
      "v2p-worker --repo=DIR [--port=P] [--device=auto|cpu|cuda:N]");
  absl::ParseCommandLine(argc, argv);
  v2p::DisableMutexDeadlockDetection();
  if (auto s = v2p::CheckFlagRanges({
          {"port", absl::GetFlag(FLAGS_port), 0, 65535},
          {"metrics_port", absl::GetFlag(FLAGS_metrics_port), -1, 65535},
          {"max_message_mb", absl::GetFlag(FLAGS_max_message_mb), 1, 2047},
          {"max_batch_size", absl::GetFlag(FLAGS_max_batch_size), 0, INT32_MAX},
          {"max_queue_delay_us", absl::GetFlag(FLAGS_max_queue_delay_us), 0, INT32_MAX},
          {"threads_per_model", absl::GetFlag(FLAGS_threads_per_model), 1, 256},
          {"blas_threads", absl::GetFlag(FLAGS_blas_threads), 1, 256},
          {"max_concurrent_jobs", absl::GetFlag(FLAGS_max_concurrent_jobs), 1, INT32_MAX},
          {"job_lease_s", absl::GetFlag(FLAGS_job_lease_s), 1, INT32_MAX},
          {"shutdown_grace_s", absl::GetFlag(FLAGS_shutdown_grace_s), 0, INT32_MAX},
      });
      !s.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n", s.ToString().c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_repo).empty()) {
    std::fprintf(stderr, "v2p-worker: --repo is required\n");
    return 2;
  }
  auto metrics_registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<v2p::MetricsEndpoint> metrics;
  if (absl::GetFlag(FLAGS_metrics_port) >= 0) {
    auto endpoint = v2p::MetricsEndpoint::Start(absl::GetFlag(FLAGS_host),
                                              absl::GetFlag(FLAGS_metrics_port));
    if (!endpoint.ok()) {
      std::fprintf(stderr, "v2p-worker: %s\n", endpoint.status().ToString().c_str());
      return 2;
    }
    metrics = *std::move(endpoint);
    metrics->RegisterCollectable(metrics_registry);
  }
  v2p::core::SetBlasThreads(absl::GetFlag(FLAGS_blas_threads));
  auto device = v2p::core::PickDevice(absl::GetFlag(FLAGS_device));
  if (!device.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n",
                 device.status().ToString().c_str());
    return 2;
  }
  v2p::RpcMetrics rpc_metrics(*metrics_registry, "worker", V2P_VERSION);
  v2p::worker::WorkerMetrics worker_metrics(*metrics_registry);
  // Every reconstruction runs on the batcher's threads; with
  // --max_batch_size=0 each request is a batch of its own. It serves each
  // model version from its load to its unload (it outlives the registry).
  v2p::worker::Batcher::Options batch_options;
  batch_options.max_batch_size = std::max(0, absl::GetFlag(FLAGS_max_batch_size));
  batch_options.max_queue_delay = absl::Microseconds(absl::GetFlag(FLAGS_max_queue_delay_us));
  batch_options.threads_per_model = std::max(1, absl::GetFlag(FLAGS_threads_per_model));
  batch_options.on_batch = [&](int rows) { worker_metrics.RecordBatch(rows); };
  batch_options.on_queue_change = [&](int rows) { worker_metrics.SetQueuedRows(rows); };
  v2p::worker::Batcher batcher(batch_options);
  v2p::worker::ModelRegistry::Options registry_options;
  registry_options.repository = absl::GetFlag(FLAGS_repo);
  registry_options.on_loaded_count = [&](int n) { worker_metrics.SetModelsLoaded(n); };
  registry_options.on_load = [&](const auto& pipeline) { batcher.Start(pipeline); };
  registry_options.on_unload = [&](const auto& pipeline) { batcher.Release(pipeline); };
  auto registry = v2p::worker::ModelRegistry::Create(registry_options);
  if (!registry.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n",
                 registry.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<v2p::worker::JobRunner> jobs;
  if (absl::GetFlag(FLAGS_run_jobs)) {
    v2p::worker::JobRunner::Options job_options;
    job_options.repository = absl::GetFlag(FLAGS_repo);
    job_options.max_concurrent_jobs = absl::GetFlag(FLAGS_max_concurrent_jobs);
    job_options.lease_ttl = absl::Seconds(absl::GetFlag(FLAGS_job_lease_s));
    auto runner = v2p::worker::JobRunner::Create(job_options);
    if (!runner.ok()) {
      std::fprintf(stderr, "v2p-worker: %s\n", runner.status().ToString().c_str());
      return 2;
    }
    jobs = *std::move(runner);
  }
  v2p::worker::WorkerService service(registry->get(), &batcher, &worker_metrics, {*device});
  v2p::ServeOptions serve;
  serve.name = "v2p-worker[" + *device + "]";
  serve.host = absl::GetFlag(FLAGS_host);
  serve.port = absl::GetFlag(FLAGS_port);
  serve.ready_fd = absl::GetFlag(FLAGS_ready_fd);
  serve.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  serve.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s));
  serve.interceptors.push_back(rpc_metrics.InterceptorFactory());
  serve.metrics_port = metrics ? metrics->port() : 0;
  serve.services = {&service};
  const absl::Status status = v2p::ServeUntilSignalled(std::move(serve));
  if (!status.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
