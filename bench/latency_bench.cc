// Latency of one-sample reconstructions of the digit69 ridge pipeline:
// through v2p-server + v2p-worker over loopback gRPC versus the same
// pipeline called in-process. Both paths run interleaved in one process
// run (in-process, then gRPC, per iteration) so that machine noise hits
// both alike; the ratio is the figure to quote.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "bench/bench_common.h"
#include "client/output_files.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/decoding/blas_threads.h"
#include "core/methods/registry.h"
#include "core/pipeline/pipeline.h"
#include "proto/serving.h"
#include "server/subprocess.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

ABSL_FLAG(int, runs, 500, "Measured iterations per path.");
ABSL_FLAG(int, warmup, 50, "Unmeasured iterations per path first.");
ABSL_FLAG(std::string, data_root, V2P_DATA_DIR, "Shared data directory.");

namespace {

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "latency_bench: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  v2p::DisableMutexDeadlockDetection();
  // As the worker does: one BLAS thread per call.
  v2p::core::SetBlasThreads(1);
  namespace core = v2p::core;
  namespace v1 = voxel2pixel::v1;
  const int runs = absl::GetFlag(FLAGS_runs), warmup = absl::GetFlag(FLAGS_warmup);

  auto trained = v2p::bench::TrainDigit69Ridge(absl::GetFlag(FLAGS_data_root), "bench_ridge");
  if (!trained.ok()) return Fail(trained.status());
  const std::string repo_dir = trained->repository;
  const core::Dataset* dataset = &trained->dataset;
  auto pipeline = core::LoadPipeline(repo_dir + "/models/bench_ridge/1", 1);
  if (!pipeline.ok()) return Fail(pipeline.status());

  const std::string bin = v2p::server::ExecutableDir();
  auto server = v2p::server::SpawnWithReadyFd(
      {bin + "/v2p-server", "--repo=" + repo_dir, "--port=0", "--metrics_port=-1",
       "--workers=spawn:1", "--worker_device=cpu", "--worker_binary=" + bin + "/v2p-worker"},
      absl::Seconds(60));
  if (!server.ok()) return Fail(server.status());
  auto stub = v1::Reconstruction::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server->port), grpc::InsecureChannelCredentials()));

  const Eigen::MatrixXf betas = dataset->test.betas.cast<float>();
  std::vector<v1::ReconstructRequest> requests(betas.rows());
  for (Eigen::Index i = 0; i < betas.rows(); ++i) {
    requests[i].set_model("bench_ridge");
    auto* s = requests[i].add_samples();
    s->set_id(std::to_string(i));
    s->mutable_betas()->Add(betas.row(i).data(), betas.row(i).data() + betas.cols());
  }
  std::vector<absl::Duration> local, remote;
  for (int it = 0; it < warmup + runs; ++it) {
    const Eigen::Index i = it % betas.rows();
    core::Stopwatch w1;
    auto rec = (*pipeline)->Run(betas.row(i));
    const absl::Duration t_local = w1.Elapsed();
    if (!rec.ok()) return Fail(rec.status());

    v1::ReconstructResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    core::Stopwatch w2;
    const grpc::Status st = stub->Reconstruct(&ctx, requests[i], &resp);
    const absl::Duration t_remote = w2.Elapsed();
    if (!st.ok()) return Fail(absl::InternalError(st.error_message()));
    if (it >= warmup) {
      local.push_back(t_local);
      remote.push_back(t_remote);
    }
  }
  kill(server->pid, SIGTERM);
  waitpid(server->pid, nullptr, 0);
  std::filesystem::remove_all(repo_dir);

  const auto l = v2p::client::Summarize(local), r = v2p::client::Summarize(remote);
  std::printf(
      "latency_bench: digit69 ridge betas->pixels (3092 voxels -> 28x28 PNG), "
      "batch 1\n");
  std::printf(
      "machine: %s, %u hardware threads; runs %d per path (after %d warm-up), "
      "interleaved\n",
      CpuModel().c_str(), std::thread::hardware_concurrency(), runs, warmup);
  std::printf("%-34s %10s %10s\n", "path", "median ms", "p99 ms");
  std::printf("%-34s %10.3f %10.3f\n", "in-process Pipeline::Run", l.median_ms, l.p99_ms);
  std::printf("%-34s %10.3f %10.3f\n", "gRPC client->server->worker", r.median_ms, r.p99_ms);
  std::printf("%-34s %10.2f %10.2f\n", "ratio (gRPC / in-process)", r.median_ms / l.median_ms,
              r.p99_ms / l.p99_ms);
  return 0;
}
