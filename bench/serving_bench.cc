// The serving figures of the README, side by side in one run (rounds
// alternate, so a noisy machine slows both sides alike):
//  1. 16 concurrent unary clients of one sample each against v2p-server
//     with one spawned worker, with dynamic batching (the gateway coalesces
//     concurrent requests, --max_batch_size=32, and the worker batches
//     them, its default) and with batch size one (gateway
//     --max_batch_size=1, worker --max_batch_size=0): throughput and p99
//     of each, and their ratio;
//  2. requests of --batch samples each (a batch evaluation) through server
//     and worker, neither merging requests, against the same batches run
//     through the same pipeline in-process with as many threads as
//     clients: throughput ratio.
// For each, the gateway's and the worker's CPU time per answered sample
// (from /proc), which shows where the time goes. The digit69 ridge
// pipeline, trained here on the shipped data.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/bench_common.h"
#include "client/load_command.h"
#include "core/decoding/blas_threads.h"
#include "core/pipeline/pipeline.h"
#include "proto/serving.h"
#include "server/subprocess.h"

ABSL_FLAG(int, clients, 16, "Concurrent unary clients.");
ABSL_FLAG(double, seconds, 8, "Measured seconds per run.");
ABSL_FLAG(int, rounds, 3, "Rounds; each runs every configuration once.");
ABSL_FLAG(int, batch, 16, "Samples per request for the in-process comparison.");
ABSL_FLAG(int, batch_clients, 2, "Clients (and in-process threads) for the in-process comparison.");
ABSL_FLAG(std::string, data_root, V2P_DATA_DIR, "Shared data directory.");

namespace {

struct Run {
  double throughput = 0;
  double p99_ms = 0;
  bool clean = false;  // nothing lost, no errors
  // CPU time per answered sample during the measured load, from /proc.
  double gateway_cpu_ms = 0;
  double worker_cpu_ms = 0;
};

// User + system CPU seconds of process `pid` (all its threads), or 0.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses: state is
  // field 3, utime 14 and stime 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  if (fields.size() < 13) return 0;
  double ticks = 0;
  if (!absl::SimpleAtod(fields[11], &ticks)) return 0;
  double sys = 0;
  if (!absl::SimpleAtod(fields[12], &sys)) return 0;
  return (ticks + sys) / sysconf(_SC_CLK_TCK);
}

// The first child process of `pid` (the spawned worker), or 0.
pid_t FirstChild(pid_t pid) {
  for (const auto& task : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"))) {
    std::ifstream in(task.path() / "children");
    pid_t child = 0;
    if (in >> child) return child;
  }
  return 0;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : (v[h - 1] + v[h]) / 2;
}

// One server (and its spawned worker) for one measured run.
absl::StatusOr<Run> ServeAndLoad(const std::string& repo, const std::string& model,
                                 const std::vector<std::string>& server_flags,
                                 v2p::client::LoadOptions load) {
  const std::string bin = v2p::server::ExecutableDir();
  std::vector<std::string> argv = {bin + "/v2p-server", "--repo=" + repo, "--port=0",
                                   "--metrics_port=-1", "--workers=spawn:1",
                                   "--worker_device=cpu", "--worker_binary=" + bin + "/v2p-worker",
                                   "--shutdown_grace_s=1"};
  argv.insert(argv.end(), server_flags.begin(), server_flags.end());
  auto server = v2p::server::SpawnWithReadyFd(argv, absl::Seconds(60));
  if (!server.ok()) return server.status();
  load.server = absl::StrCat("127.0.0.1:", server->port);
  load.model = model;
  // Warm-up: connections, the model's load, allocator pools.
  v2p::client::LoadOptions warm = load;
  warm.duration_s = 1;
  (void)v2p::client::RunLoad(warm);
  const pid_t worker = FirstChild(server->pid);
  const double gateway_before = CpuSeconds(server->pid), worker_before = CpuSeconds(worker);
  auto report = v2p::client::RunLoad(load);
  const double gateway_cpu = CpuSeconds(server->pid) - gateway_before;
  const double worker_cpu = CpuSeconds(worker) - worker_before;
  kill(server->pid, SIGTERM);
  waitpid(server->pid, nullptr, 0);
  if (!report.ok()) return report.status();
  const double samples = std::max<double>(1, report->received);
  return Run{report->throughput(), report->p99_ms,
             report->sent == report->received && report->errors.empty(),
             1e3 * gateway_cpu / samples, 1e3 * worker_cpu / samples};
}

// The same batches through the pipeline in-process, `threads` at once.
double InProcess(const v2p::core::Pipeline& pipeline, const Eigen::MatrixXf& batch, int threads,
                 double seconds) {
  std::atomic<int64_t> samples{0};
  const absl::Time until = absl::Now() + absl::Seconds(seconds);
  const absl::Time start = absl::Now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (absl::Now() < until) {
        if (pipeline.Run(batch, {}).ok()) samples += batch.rows();
      }
    });
  }
  for (auto& t : pool) t.join();
  return samples / absl::ToDoubleSeconds(absl::Now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  v2p::DisableMutexDeadlockDetection();
  namespace core = v2p::core;
  core::SetBlasThreads(1);  // as the worker runs it
  auto trained = v2p::bench::TrainDigit69Ridge(absl::GetFlag(FLAGS_data_root), "digit69");
  if (!trained.ok()) return 1;
  const std::string repo = trained->repository;
  const std::string betas = absl::GetFlag(FLAGS_data_root) + "/digit69/digit69_28x28.mat";
  auto loaded = core::Pipeline::Load(repo + "/models/digit69/1", 1);
  if (!loaded.ok()) return 1;
  const int batch = absl::GetFlag(FLAGS_batch);
  Eigen::MatrixXf batch_betas(batch, trained->dataset.test.betas.cols());
  for (int i = 0; i < batch; ++i) {
    batch_betas.row(i) = trained->dataset.test.betas.row(i % trained->dataset.test.betas.rows()).cast<float>();
  }

  v2p::client::LoadOptions single;
  single.clients = absl::GetFlag(FLAGS_clients);
  single.duration_s = absl::GetFlag(FLAGS_seconds);
  single.betas = betas;
  single.var = "fmriTest";
  v2p::client::LoadOptions batched = single;
  batched.clients = absl::GetFlag(FLAGS_batch_clients);
  batched.samples_per_request = batch;

  const std::vector<std::string> batching_off = {"--max_batch_size=1",
                                                 "--worker_args=--max_batch_size=0"};
  // The requests reach the pipeline as sent: neither the gateway nor the
  // worker merges two of them into a larger batch than in-process runs.
  const std::vector<std::string> same_batches = {
      "--max_batch_size=1", "--worker_args=--max_batch_size=" + std::to_string(batch)};
  std::printf("serving_bench: digit69 ridge pipeline, v2p-server + 1 spawned worker, %u hardware threads "
              "shared with the clients; %d rounds of %.0f s per configuration\n",
              std::thread::hardware_concurrency(), absl::GetFlag(FLAGS_rounds), single.duration_s);
  std::printf("%5s %28s %28s %12s %12s %12s\n", "round", "batch size one (samples/s, p99)",
              "dynamic batching (samples/s, p99)", "gain",
              ("gRPC b=" + std::to_string(batch)).c_str(), "in-process");
  std::vector<double> off_rate, on_rate, off_p99, on_p99, gains, grpc_rate, local_rate, ratios;
  // CPU ms per sample: gateway and worker, for each configuration.
  std::vector<double> cpu[3][2];
  bool clean = true;
  for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
    auto off = ServeAndLoad(repo, "digit69", batching_off, single);
    auto on = ServeAndLoad(repo, "digit69", {"--max_batch_size=32"}, single);
    auto remote = ServeAndLoad(repo, "digit69", same_batches, batched);
    if (!off.ok() || !on.ok() || !remote.ok()) {
      std::fprintf(stderr, "serving_bench: a run failed: %s %s %s\n", off.status().ToString().c_str(),
                   on.status().ToString().c_str(), remote.status().ToString().c_str());
      return 1;
    }
    const double local = InProcess(**loaded, batch_betas, batched.clients, batched.duration_s);
    clean = clean && off->clean && on->clean && remote->clean;
    off_rate.push_back(off->throughput);
    on_rate.push_back(on->throughput);
    off_p99.push_back(off->p99_ms);
    on_p99.push_back(on->p99_ms);
    gains.push_back(on->throughput / off->throughput);
    grpc_rate.push_back(remote->throughput);
    local_rate.push_back(local);
    ratios.push_back(remote->throughput / local);
    const Run* runs[3] = {&*off, &*on, &*remote};
    for (int c = 0; c < 3; ++c) {
      cpu[c][0].push_back(runs[c]->gateway_cpu_ms);
      cpu[c][1].push_back(runs[c]->worker_cpu_ms);
    }
    std::printf("%5d %17.0f %8.2f ms %17.0f %8.2f ms %11.2fx %12.0f %12.0f\n", round, off->throughput,
                off->p99_ms, on->throughput, on->p99_ms, gains.back(), remote->throughput, local);
    std::printf("%5s CPU ms per sample, gateway + worker: batch size one %.3f + %.3f, dynamic batching "
                "%.3f + %.3f, gRPC b=%d %.3f + %.3f\n",
                "", off->gateway_cpu_ms, off->worker_cpu_ms, on->gateway_cpu_ms, on->worker_cpu_ms, batch,
                remote->gateway_cpu_ms, remote->worker_cpu_ms);
    std::fflush(stdout);
  }
  std::printf("%5s %17.0f %8.2f ms %17.0f %8.2f ms %11.2fx %12.0f %12.0f\n", "median", Median(off_rate),
              Median(off_p99), Median(on_rate), Median(on_p99), Median(gains), Median(grpc_rate),
              Median(local_rate));
  std::printf("%5s CPU ms per sample, gateway + worker: batch size one %.3f + %.3f, dynamic batching "
              "%.3f + %.3f, gRPC b=%d %.3f + %.3f\n",
              "", Median(cpu[0][0]), Median(cpu[0][1]), Median(cpu[1][0]), Median(cpu[1][1]), batch,
              Median(cpu[2][0]), Median(cpu[2][1]));
  std::printf("dynamic batching gain at %d clients (median of per-round ratios): %.2fx\n", single.clients,
              Median(gains));
  std::printf("p99 latency at %d clients with dynamic batching (median): %.2f ms\n", single.clients,
              Median(on_p99));
  std::printf("gRPC / in-process throughput, %d requests of %d samples at a time (median ratio): %.2f\n",
              batched.clients, batch, Median(ratios));
  std::printf("every run: %s\n", clean ? "no sample lost, no errors" : "SAMPLES LOST OR ERRORS");
  std::filesystem::remove_all(repo);
  return clean ? 0 : 1;
}
