// v2p-server: the public, stateless gateway. Starts and supervises local
// workers (--workers=spawn:N) or uses running ones (--workers=host:port,...).
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "proto/rpc_metrics.h"
#include "proto/serving.h"
#include "proto/tls.h"
#include "server/auth.h"
#include "server/datasets_service.h"
#include "server/dispatcher.h"
#include "server/model_catalog.h"
#include "server/models_service.h"
#include "server/operations_service.h"
#include "server/reconstruction_service.h"
#include "server/server_metrics.h"
#include "server/subprocess.h"
#include "server/training_service.h"
#include "server/worker_pool.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on (0.0.0.0 for all interfaces).");
ABSL_FLAG(int, port, 8500, "Port to listen on; 0 picks a free one (see --ready_fd).");
ABSL_FLAG(std::string, repo, "", "Model repository directory, shared with the workers (required).");
ABSL_FLAG(std::string, workers, "spawn:1",
          "spawn:N; dns:///NAME:PORT (every address NAME resolves to, re-resolved: a headless "
          "service); or host:port[,host:port...] of running workers.");
ABSL_FLAG(std::string, worker_binary, "", "v2p-worker to spawn; default: beside this binary.");
ABSL_FLAG(std::string, worker_device, "auto",
          "Device of spawned workers: auto (round the visible GPUs, else cpu), cpu or cuda:N.");
ABSL_FLAG(int, ready_fd, -1, "Write the bound port to this file descriptor, then close it.");
ABSL_FLAG(int, max_message_mb, 64, "Largest request or response, in MiB.");
ABSL_FLAG(int, shutdown_grace_s, 5,
          "On SIGTERM, how long calls in flight may finish before they are cancelled.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate to serve clients TLS with (with --tls_key).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA: only clients with a certificate it signed are accepted (mutual TLS).");
ABSL_FLAG(std::string, worker_tls_ca, "",
          "PEM CA the workers' certificates are signed by: the gateway talks TLS to them.");
ABSL_FLAG(std::string, worker_tls_cert, "",
          "PEM certificate the gateway presents to workers (mutual TLS; with --worker_tls_key).");
ABSL_FLAG(std::string, worker_tls_key, "", "PEM private key of --worker_tls_cert.");
ABSL_FLAG(std::string, worker_tls_server_name, "",
          "Name the workers' certificates carry, when not their address (e.g. v2p-worker).");
ABSL_FLAG(std::string, auth_tokens, "",
          "File of token hashes, labs and roles (README, Security): every call but health "
          "checks then needs 'authorization: Bearer <token>'. Re-read when it changes. "
          "Empty: no tokens (anyone who reaches the port may do anything).");
ABSL_FLAG(bool, open_reflection, true,
          "With --auth_tokens: gRPC reflection answers without a token (false: admins only).");
ABSL_FLAG(int, max_upload_mb, 512, "Largest dataset upload, in MiB.");
ABSL_FLAG(int, max_concurrent_uploads, 8,
          "Dataset uploads received at once; more get RESOURCE_EXHAUSTED with a retry pushback.");
ABSL_FLAG(int, max_streams_per_caller, 64,
          "StreamReconstruct streams one caller (its lab with --auth_tokens, else its address) "
          "may hold open; more get RESOURCE_EXHAUSTED with a retry pushback. 0: no limit.");
ABSL_FLAG(int, max_uploads_per_caller, 4,
          "Dataset uploads one caller may run at once (within --max_concurrent_uploads). 0: no "
          "limit.");
ABSL_FLAG(int, max_samples_per_caller, 1024,
          "Samples of unary Reconstruct calls one caller may have in flight; a call that would "
          "pass it gets RESOURCE_EXHAUSTED with a retry pushback. 0: no limit. (A stream's "
          "samples are bounded by --stream_window.)");
ABSL_FLAG(int, upload_idle_timeout_s, 60,
          "An upload that sends nothing for this long is cancelled and its staging removed.");
ABSL_FLAG(
    int, max_batch_size, 32,
    "Dynamic batching at the gateway: concurrent requests for one model go to a worker as one "
    "call of at most this many samples; a lone request is sent at once. 1 sends every "
    "request alone (bench/serving_bench measures both).");
ABSL_FLAG(int, max_batches_in_flight, 1,
          "With --max_batch_size > 1: coalesced batches of one model in flight per ready worker. "
          "1 makes the largest batches (on a CPU worker sharing its cores, more throughput and a "
          "lower p99 than 2 in paired runs); 2 keeps a worker busy while the next batch forms, "
          "which can pay where the compute is elsewhere (a GPU).");
ABSL_FLAG(int, stream_window, 8,
          "StreamReconstruct: samples of one stream in flight at once; beyond it the stream reads "
          "no further, so the client's sends wait (HTTP/2 flow control).");
ABSL_FLAG(int, metrics_port, 8501,
          "Prometheus /metrics port; 0 picks a free one, -1 turns it off.");
ABSL_FLAG(std::vector<std::string>, worker_args, {},
          "Extra flags for spawned workers, comma-separated (e.g. --job_lease_s=3).");

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "v2p-server: %s\n", s.ToString().c_str());
  return 2;
}

absl::Status CheckFlags() {
  if (auto s = v2p::CheckFlagRanges({
          {"port", absl::GetFlag(FLAGS_port), 0, 65535},
          {"metrics_port", absl::GetFlag(FLAGS_metrics_port), -1, 65535},
          {"max_message_mb", absl::GetFlag(FLAGS_max_message_mb), 1, 2047},
          {"max_upload_mb", absl::GetFlag(FLAGS_max_upload_mb), 1, INT32_MAX},
          {"max_concurrent_uploads", absl::GetFlag(FLAGS_max_concurrent_uploads), 1, 4096},
          {"upload_idle_timeout_s", absl::GetFlag(FLAGS_upload_idle_timeout_s), 1, 86400},
          {"max_streams_per_caller", absl::GetFlag(FLAGS_max_streams_per_caller), 0, 1 << 20},
          {"max_uploads_per_caller", absl::GetFlag(FLAGS_max_uploads_per_caller), 0, 4096},
          {"max_samples_per_caller", absl::GetFlag(FLAGS_max_samples_per_caller), 0, 1 << 24},
          {"max_batch_size", absl::GetFlag(FLAGS_max_batch_size), 1, INT32_MAX},
          {"max_batches_in_flight", absl::GetFlag(FLAGS_max_batches_in_flight), 1, INT32_MAX},
          {"stream_window", absl::GetFlag(FLAGS_stream_window), 1, INT32_MAX},
          {"shutdown_grace_s", absl::GetFlag(FLAGS_shutdown_grace_s), 0, INT32_MAX},
      });
      !s.ok())
    return s;
  const std::string repo = absl::GetFlag(FLAGS_repo);
  if (repo.empty()) return absl::InvalidArgumentError("--repo is required");
  if (!std::filesystem::is_directory(repo))
    return absl::NotFoundError("--repo=" + repo + " is not a directory");
  return absl::OkStatus();
}

// Readiness: the health service "voxel2pixel.v1.Reconstruction" is SERVING
// only while at least one worker is (what a load balancer and a Kubernetes
// readiness probe should ask); "" stays SERVING while the process is alive
// (liveness). The pool reports every change in order, from its creation on
// (workers given by address become ready on their first health answer,
// which may come before or after the server starts).
class Readiness {
 public:
  void SetReadyWorkers(int ready) {
    absl::MutexLock lock(&mu_);
    ready_ = ready;
    if (health_) health_->SetServingStatus("voxel2pixel.v1.Reconstruction", ready > 0);
  }
  void Started(grpc::Server* server) {
    absl::MutexLock lock(&mu_);
    health_ = server->GetHealthCheckService();
    health_->SetServingStatus("voxel2pixel.v1.Reconstruction", ready_.load() > 0);
  }
  void Stopped() {
    absl::MutexLock lock(&mu_);
    health_ = nullptr;  // the pool may still report while it stops
  }
  int ready_workers() const { return ready_.load(); }

 private:
  absl::Mutex mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::atomic<int> ready_{0};
};

absl::StatusOr<v2p::server::WorkerPool::Options> PoolOptions(Readiness* readiness) {
  v2p::server::WorkerPool::Options o;
  if (absl::Status s = v2p::server::WorkerPool::ParseWorkersFlag(absl::GetFlag(FLAGS_workers), &o);
      !s.ok())
    return s;
  o.repository = std::filesystem::absolute(absl::GetFlag(FLAGS_repo)).string();
  o.worker_binary = absl::GetFlag(FLAGS_worker_binary);
  if (o.worker_binary.empty()) o.worker_binary = v2p::server::ExecutableDir() + "/v2p-worker";
  o.worker_args = {"--metrics_port=0",
                   "--max_message_mb=" + std::to_string(absl::GetFlag(FLAGS_max_message_mb))};
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  for (const std::string& a : absl::GetFlag(FLAGS_worker_args)) o.worker_args.push_back(a);
  auto credentials = v2p::ChannelCredentials({absl::GetFlag(FLAGS_worker_tls_cert),
                                              absl::GetFlag(FLAGS_worker_tls_key),
                                              absl::GetFlag(FLAGS_worker_tls_ca)});
  if (!credentials.ok()) return credentials.status();
  o.credentials = *std::move(credentials);
  o.tls_server_name = absl::GetFlag(FLAGS_worker_tls_server_name);
  o.on_change = [readiness](int ready) { readiness->SetReadyWorkers(ready); };
  o.devices =
      v2p::server::AssignDevices(absl::GetFlag(FLAGS_worker_device), v2p::server::VisibleGpus());
  return o;
}

v2p::server::RequestCoalescer::Options Coalescing(prometheus::Registry& registry,
                                                  const Readiness* readiness) {
  v2p::server::RequestCoalescer::Options o;
  o.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  const int batches_per_worker = std::max(1, absl::GetFlag(FLAGS_max_batches_in_flight));
  o.max_calls = [readiness, batches_per_worker] {
    return batches_per_worker * std::max(1, readiness->ready_workers());
  };
  auto* gateway_batches = &v2p::server::GatewayBatchSizeHistogram(registry);
  o.on_batch = [gateway_batches](int samples) { gateway_batches->Observe(samples); };
  auto* queued = &v2p::server::GatewayQueuedSamplesGauge(registry);
  o.on_queued = [queued](int delta) { queued->Increment(delta); };
  return o;
}

// The /metrics endpoint when --metrics_port >= 0 (null otherwise).
absl::StatusOr<std::unique_ptr<v2p::MetricsEndpoint>> StartMetrics(
    const std::vector<std::shared_ptr<prometheus::Collectable>>& collectables) {
  if (absl::GetFlag(FLAGS_metrics_port) < 0) return nullptr;
  auto metrics =
      v2p::MetricsEndpoint::Start(absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_metrics_port));
  if (!metrics.ok()) return metrics.status();
  for (const auto& c : collectables) (*metrics)->RegisterCollectable(c);
  std::fprintf(stderr, "v2p-server metrics on http://%s:%d/metrics\n",
               absl::GetFlag(FLAGS_host).c_str(), (*metrics)->port());
  return metrics;
}

// The token judge when --auth_tokens is set (null otherwise).
absl::StatusOr<std::unique_ptr<v2p::server::Authorizer>> OpenAuthorizer() {
  if (absl::GetFlag(FLAGS_auth_tokens).empty()) return nullptr;
  v2p::server::Authorizer::Options o;
  o.tokens_file = absl::GetFlag(FLAGS_auth_tokens);
  o.open_reflection = absl::GetFlag(FLAGS_open_reflection);
  return v2p::server::Authorizer::Open(std::move(o));
}

int Serve() {
  auto auth = OpenAuthorizer();
  if (!auth.ok()) return Fail(auth.status());
  Readiness readiness;
  auto pool_options = PoolOptions(&readiness);
  if (!pool_options.ok()) return Fail(pool_options.status());
  auto pool = v2p::server::WorkerPool::Create(*pool_options);
  if (!pool.ok()) return Fail(pool.status());
  const std::string& repo = pool_options->repository;
  auto registry = std::make_shared<prometheus::Registry>();
  v2p::RpcMetrics rpc_metrics(*registry, "server", V2P_VERSION);
  v2p::server::Dispatcher dispatcher(pool->get(), {});
  v2p::server::ModelCatalog catalog(&dispatcher, {});
  v2p::server::ReconstructionService reconstruction(
      &dispatcher, &catalog, &v2p::server::StreamsInFlightGauge(*registry),
      Coalescing(*registry, &readiness), absl::GetFlag(FLAGS_stream_window));
  v2p::server::ModelsService models(&dispatcher, pool->get());
  auto operations = v2p::store::OperationStore::Open(repo);
  if (!operations.ok()) return Fail(operations.status());
  auto datasets = v2p::store::DatasetStore::Open(repo);
  if (!datasets.ok()) return Fail(datasets.status());
  v2p::server::DatasetsService::Options upload_options;
  upload_options.max_upload_bytes = static_cast<int64_t>(absl::GetFlag(FLAGS_max_upload_mb)) << 20;
  upload_options.max_concurrent_uploads = absl::GetFlag(FLAGS_max_concurrent_uploads);
  upload_options.upload_idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_upload_idle_timeout_s));
  upload_options.auth = auth->get();
  v2p::server::CallerLimits limits({absl::GetFlag(FLAGS_max_streams_per_caller),
                                    absl::GetFlag(FLAGS_max_uploads_per_caller),
                                    absl::GetFlag(FLAGS_max_samples_per_caller)});
  upload_options.limits = &limits;
  reconstruction.set_caller_limits(&limits);
  v2p::server::DatasetsService datasets_service(datasets->get(), &dispatcher, upload_options);
  v2p::server::TrainingService training(datasets->get(), operations->get());
  v2p::server::OperationsService::Options operations_options;
  operations_options.auth = auth->get();
  v2p::server::OperationsService operations_service(operations->get(), operations_options);
  reconstruction.set_authorizer(auth->get());
  models.set_authorizer(auth->get(), repo);
  training.set_authorizer(auth->get());
  auto metrics =
      StartMetrics({registry, std::make_shared<v2p::server::WorkerPoolCollector>(pool->get()),
                    std::make_shared<v2p::server::OperationsCollector>(operations->get())});
  if (!metrics.ok()) return Fail(metrics.status());

  v2p::ServeOptions serve;
  auto credentials =
      v2p::ServerCredentials({absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                              absl::GetFlag(FLAGS_tls_client_ca)});
  if (!credentials.ok()) return Fail(credentials.status());
  serve.credentials = *std::move(credentials);
  serve.name = "v2p-server";
  serve.host = absl::GetFlag(FLAGS_host);
  serve.port = absl::GetFlag(FLAGS_port);
  serve.ready_fd = absl::GetFlag(FLAGS_ready_fd);
  serve.max_message_bytes = pool_options->max_message_bytes;
  serve.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_s));
  serve.on_started = [&readiness](grpc::Server* server, int) { readiness.Started(server); };
  serve.on_stopped = [&readiness] { readiness.Stopped(); };
  if (*auth) serve.interceptors.push_back((*auth)->InterceptorFactory());
  serve.interceptors.push_back(rpc_metrics.InterceptorFactory());
  serve.metrics_port = *metrics ? (*metrics)->port() : 0;
  serve.services = {&reconstruction, &models, &datasets_service, &training, &operations_service};
  const absl::Status status = v2p::ServeUntilSignalled(std::move(serve));
  if (!status.ok()) return Fail(status);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  v2p::ListFlagsOfFileInHelp(__FILE__);
  absl::SetProgramUsageMessage(
      "v2p-server --repo=DIR [--port=P] [--workers=spawn:N|host:port,...]");
  absl::ParseCommandLine(argc, argv);
  v2p::DisableMutexDeadlockDetection();
  if (absl::Status s = CheckFlags(); !s.ok()) return Fail(s);
  return Serve();
}
