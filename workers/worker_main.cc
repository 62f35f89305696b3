// v2p-worker's flags and start-up (see worker_main.h).
#include "workers/worker_main.h"

#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/base/status_macros.h"
#include "core/decoding/blas_threads.h"
#include "core/pipeline/device.h"
#include "proto/rpc_metrics.h"
#include "proto/serving.h"
#include "proto/tls.h"
#include "workers/job_runner.h"
#include "workers/model_registry.h"
#include "workers/worker_metrics.h"
#include "workers/worker_service.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on (0.0.0.0 for all interfaces).");
ABSL_FLAG(int, port, 0, "Port to listen on; 0 picks a free one (see --ready_fd).");
ABSL_FLAG(std::string, repo, "", "Model repository directory (required).");
ABSL_FLAG(std::string, device, "auto", "auto, cpu or cuda:N.");
ABSL_FLAG(int, ready_fd, -1, "Write the bound port to this file descriptor, then close it.");
ABSL_FLAG(int, max_message_mb, 64, "Largest request or response, in MiB.");
ABSL_FLAG(int, shutdown_grace_s, 5,
          "On SIGTERM, how long calls in flight may finish before they are cancelled.");
ABSL_FLAG(int, max_batch_size, 32,
          "Dynamic batching: most samples per batch; 0 turns batching off.");
ABSL_FLAG(int, threads_per_model, 2,
          "Threads running one model's batches: at most this many batches (or, with batching "
          "off, requests) of one model run at once.");
ABSL_FLAG(int, max_queue_delay_us, 0,
          "Dynamic batching: longest a sample waits for company. 0 batches only what queued while "
          "the previous batch ran.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate to serve TLS with (with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA: only clients (the gateway) with a certificate it signed are accepted.");
ABSL_FLAG(int, progress_stall_s, 10,
          "ReconstructWithProgress: end a call whose caller takes no progress message for this "
          "long (RESOURCE_EXHAUSTED), so that it holds no batch thread.");
ABSL_FLAG(int, metrics_port, -1, "Prometheus /metrics port; 0 picks a free one, -1 turns it off.");
ABSL_FLAG(int, blas_threads, 1, "Threads per BLAS call (requests run in parallel already).");
ABSL_FLAG(bool, run_jobs, true, "Run training jobs from the repository on this worker.");
ABSL_FLAG(int, max_concurrent_jobs, 1, "Training jobs run at once (each on its own thread).");
ABSL_FLAG(
    int, job_lease_s, 10,
    "Lease of a running job; another worker takes a job over this long after its worker died.");

namespace v2p::worker {
namespace {

absl::Status CheckFlags() {
  RETURN_IF_ERROR(v2p::CheckFlagRanges({
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
      {"progress_stall_s", absl::GetFlag(FLAGS_progress_stall_s), 1, 86400},
  }));
  if (absl::GetFlag(FLAGS_repo).empty()) return absl::InvalidArgumentError("--repo is required");
  return absl::OkStatus();
}

// The /metrics endpoint when --metrics_port >= 0 (null otherwise).
absl::StatusOr<std::unique_ptr<v2p::MetricsEndpoint>> StartMetrics(
    const std::shared_ptr<prometheus::Registry>& registry) {
  if (absl::GetFlag(FLAGS_metrics_port) < 0) return nullptr;
  ASSIGN_OR_RETURN(auto endpoint, v2p::MetricsEndpoint::Start(absl::GetFlag(FLAGS_host),
                                                              absl::GetFlag(FLAGS_metrics_port)));
  endpoint->RegisterCollectable(registry);
  return endpoint;
}

// Every reconstruction runs on the batcher's threads; with
// --max_batch_size=0 each request is a batch of its own.
Batcher::Options BatcherOptions(WorkerMetrics& metrics) {
  Batcher::Options o;
  o.max_batch_size = std::max(0, absl::GetFlag(FLAGS_max_batch_size));
  o.max_queue_delay = absl::Microseconds(absl::GetFlag(FLAGS_max_queue_delay_us));
  o.threads_per_model = std::max(1, absl::GetFlag(FLAGS_threads_per_model));
  o.on_batch = [&metrics](int rows) { metrics.RecordBatch(rows); };
  o.on_queue_change = [&metrics](int rows) { metrics.SetQueuedRows(rows); };
  return o;
}

// The model registry, whose loaded versions the batcher serves from load
// to unload (it outlives the registry).
absl::StatusOr<std::unique_ptr<ModelRegistry>> StartRegistry(Batcher& batcher,
                                                             WorkerMetrics& metrics) {
  ModelRegistry::Options o;
  o.repository = absl::GetFlag(FLAGS_repo);
  o.on_loaded_count = [&metrics](int n) { metrics.SetModelsLoaded(n); };
  o.on_load = [&batcher](const auto& pipeline) { batcher.Start(pipeline); };
  o.on_unload = [&batcher](const auto& pipeline) { batcher.Release(pipeline); };
  return ModelRegistry::Create(o);
}

// Training jobs, unless --run_jobs=false (null then).
absl::StatusOr<std::unique_ptr<JobRunner>> StartJobs() {
  if (!absl::GetFlag(FLAGS_run_jobs)) return nullptr;
  JobRunner::Options o;
  o.repository = absl::GetFlag(FLAGS_repo);
  o.max_concurrent_jobs = absl::GetFlag(FLAGS_max_concurrent_jobs);
  o.lease_ttl = absl::Seconds(absl::GetFlag(FLAGS_job_lease_s));
  return JobRunner::Create(o);
}

// *serving is set once start-up succeeded.
absl::Status Run(bool* serving) {
  auto metrics_registry = std::make_shared<prometheus::Registry>();
  ASSIGN_OR_RETURN(std::unique_ptr<v2p::MetricsEndpoint> metrics, StartMetrics(metrics_registry));
  core::SetBlasThreads(absl::GetFlag(FLAGS_blas_threads));
  ASSIGN_OR_RETURN(const std::string device, core::PickDevice(absl::GetFlag(FLAGS_device)));
  v2p::RpcMetrics rpc_metrics(*metrics_registry, "worker", V2P_VERSION);
  WorkerMetrics worker_metrics(*metrics_registry);
  Batcher batcher(BatcherOptions(worker_metrics));
  ASSIGN_OR_RETURN(std::unique_ptr<ModelRegistry> registry, StartRegistry(batcher, worker_metrics));
  ASSIGN_OR_RETURN(std::unique_ptr<JobRunner> jobs, StartJobs());
  WorkerService service(registry.get(), &batcher, &worker_metrics,
                        {device, absl::Seconds(absl::GetFlag(FLAGS_progress_stall_s))});
  v2p::ServeOptions serve;
  ASSIGN_OR_RETURN(serve.credentials, v2p::ServerCredentials({absl::GetFlag(FLAGS_tls_cert),
                                                              absl::GetFlag(FLAGS_tls_key),
                                                              absl::GetFlag(FLAGS_tls_client_ca)}));
  serve.name = "v2p-worker[" + device + "]";
  // The gateway pings every 2 s to find a hung worker.
  serve.channel_args = v2p::KeepalivePingArgs();
  serve.host = absl::GetFlag(FLAGS_host);
  serve.port = absl::GetFlag(FLAGS_port);
  serve.ready_fd = absl::GetFlag(FLAGS_ready_fd);
  serve.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  serve.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s));
  serve.interceptors.push_back(rpc_metrics.InterceptorFactory());
  serve.metrics_port = metrics ? metrics->port() : 0;
  serve.services = {&service};
  *serving = true;
  return v2p::ServeUntilSignalled(std::move(serve));
}

}  // namespace

int WorkerMain(int argc, char** argv) {
  v2p::ListFlagsOfFileInHelp(__FILE__);
  absl::SetProgramUsageMessage("v2p-worker --repo=DIR [--port=P] [--device=auto|cpu|cuda:N]");
  absl::ParseCommandLine(argc, argv);
  v2p::DisableMutexDeadlockDetection();
  // A file-size limit (RLIMIT_FSIZE, a quota) then fails the write that
  // crosses it, as a full disk does, instead of killing the worker: the
  // job that wrote fails, nothing else.
  signal(SIGXFSZ, SIG_IGN);
  // A flag out of range or missing is a usage error (exit 2); so is
  // anything that stops the worker before it serves.
  if (absl::Status s = CheckFlags(); !s.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n", s.ToString().c_str());
    return 2;
  }
  bool serving = false;
  const absl::Status status = Run(&serving);
  if (!status.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n", status.ToString().c_str());
    return serving ? 1 : 2;
  }
  return 0;
}

}  // namespace v2p::worker
