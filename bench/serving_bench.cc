// The serving figures of the README, side by side in one run (rounds
// alternate, so a noisy machine slows both sides alike):
//  1. 16 concurrent unary clients of one sample each against v2p-server
//     with one spawned worker, with dynamic batching (the gateway coalesces
//     concurrent requests, --max_batch_size=32, and the worker batches
//     them, its default) and with batch size one (gateway
//     --max_batch_size=1, worker --max_batch_size=0): throughput and p99
//     of each, and their ratio;
//  2. requests of --batch samples each (a batch evaluation) through server
//     and worker, neither merging requests, from each of --batch_clients
//     clients at once, against the same batches run through the same
//     pipeline in-process: throughput ratio. The in-process figure is the
//     best of running it with each of those thread counts, so the ratio
//     never flatters the server.
//  3. the floor of gRPC itself (--floor): the same clients against
//     null_server, which answers each sample at once with a result of the
//     same size and does nothing else. Any gateway on this gRPC does at
//     least that much per call, so its figures bound what the served ones
//     can reach on this machine. From them, a ceiling for the in-process
//     comparison: two hops at the floor's CPU cost plus the pipeline's own
//     CPU per sample (measured in-process), on every hardware thread; and
//     one for the batching gain: a single-sample call at the floor's cost,
//     a hop inside a batch at the batched floor's, and the pipeline.
// For each, the load clients', the gateway's and the worker's CPU time per
// answered sample (from /proc), and the shares of the machine's CPU time
// left idle and stolen by the hypervisor, which show where the time goes.
// The digit69 ridge pipeline, trained here on the shipped data; or, with
// --repo and --model, a model already in a repository (a heavier pipeline,
// to see where the per-sample compute outweighs the transport), loaded by
// digit69's test betas.
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
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/bench_common.h"
#include "client/load_command.h"
#include "core/base/status_macros.h"
#include "core/data/dataset.h"
#include "core/decoding/blas_threads.h"
#include "core/methods/registry.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/pipeline.h"
#include "proto/serving.h"
#include "server/subprocess.h"

ABSL_FLAG(int, clients, 16, "Concurrent unary clients.");
ABSL_FLAG(double, seconds, 8, "Measured seconds per run.");
ABSL_FLAG(int, rounds, 3, "Rounds; each runs every configuration once.");
ABSL_FLAG(int, batch, 16, "Samples per request for the in-process comparison.");
ABSL_FLAG(std::vector<std::string>, batch_clients, std::vector<std::string>({"2", "4"}),
          "Client counts (and in-process thread counts) for the in-process comparison.");
ABSL_FLAG(std::string, data_root, V2P_DATA_DIR, "Shared data directory.");
ABSL_FLAG(
    std::string, repo, "",
    "An existing model repository serving --model; empty: train the digit69 ridge pipeline into a "
    "temporary one.");
ABSL_FLAG(std::string, model, "digit69",
          "The model served (its latest version), sent digit69's test betas.");
ABSL_FLAG(bool, floor, true, "Also load null_server, a gRPC server that does no work (the floor).");

namespace {

using v2p::bench::Median;

struct Run {
  double throughput = 0;
  double p99_ms = 0;
  bool clean = false;  // nothing lost, no errors
  // CPU time per answered sample during the measured load, from /proc.
  double client_cpu_ms = 0;  // the load clients (this process)
  double gateway_cpu_ms = 0;
  double worker_cpu_ms = 0;
  // Shares of the machine's CPU time during the load, from /proc/stat:
  // idle, and stolen by the hypervisor for other guests (a noisy host).
  double idle = 0;
  double stolen = 0;
};

// The machine's CPU time so far, from the first line of /proc/stat, in
// clock ticks: idle (with iowait), stolen, and all of it.
struct MachineTicks {
  double idle = 0, stolen = 0, total = 0;
};

MachineTicks ReadMachineTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  if (!in || cpu != "cpu") return {};
  return {idle + iowait, steal, user + nice + system + idle + iowait + irq + softirq + steal};
}

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
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"))) {
    std::ifstream in(task.path() / "children");
    pid_t child = 0;
    if (in >> child) return child;
  }
  return 0;
}

// The command line of v2p-server with one spawned worker, plus `flags`.
std::vector<std::string> ServerArgv(const std::string& repo,
                                    const std::vector<std::string>& flags) {
  const std::string bin = v2p::server::ExecutableDir();
  std::vector<std::string> argv = {bin + "/v2p-server",
                                   "--repo=" + repo,
                                   "--port=0",
                                   "--metrics_port=-1",
                                   "--workers=spawn:1",
                                   "--worker_device=cpu",
                                   "--worker_binary=" + bin + "/v2p-worker",
                                   "--shutdown_grace_s=1"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return argv;
}

// One server (v2p-server and its spawned worker, or null_server) for one
// measured run.
absl::StatusOr<Run> ServeAndLoad(const std::vector<std::string>& argv, const std::string& model,
                                 v2p::client::LoadOptions load) {
  auto server = v2p::server::SpawnWithReadyFd(argv, absl::Seconds(60));
  if (!server.ok()) return server.status();
  load.server = absl::StrCat("127.0.0.1:", server->port);
  load.model = model;
  // Warm-up: connections, the model's load, allocator pools.
  v2p::client::LoadOptions warm = load;
  warm.duration_s = 1;
  (void)v2p::client::RunLoad(warm);
  const pid_t worker = FirstChild(server->pid);  // 0: none (null_server)
  auto worker_seconds = [worker] { return worker > 0 ? CpuSeconds(worker) : 0.0; };
  const MachineTicks machine_before = ReadMachineTicks();
  const double client_before = CpuSeconds(getpid()), gateway_before = CpuSeconds(server->pid),
               worker_before = worker_seconds();
  auto report = v2p::client::RunLoad(load);
  const double client_cpu = CpuSeconds(getpid()) - client_before;
  const double gateway_cpu = CpuSeconds(server->pid) - gateway_before;
  const double worker_cpu = worker_seconds() - worker_before;
  const MachineTicks machine_after = ReadMachineTicks();
  const double ticks = std::max(1.0, machine_after.total - machine_before.total);
  kill(server->pid, SIGTERM);
  waitpid(server->pid, nullptr, 0);
  if (!report.ok()) return report.status();
  const double samples = std::max<double>(1, report->received);
  return Run{report->throughput(),
             report->p99_ms,
             report->sent == report->received && report->errors.empty(),
             1e3 * client_cpu / samples,
             1e3 * gateway_cpu / samples,
             1e3 * worker_cpu / samples,
             (machine_after.idle - machine_before.idle) / ticks,
             (machine_after.stolen - machine_before.stolen) / ticks};
}

// The same batches through the pipeline in-process, `threads` at once:
// samples/s, and this process's CPU ms per sample meanwhile.
struct Local {
  double throughput = 0;
  double cpu_ms = 0;
};

Local InProcess(const v2p::core::Pipeline& pipeline, const Eigen::MatrixXf& batch, int threads,
                double seconds) {
  std::atomic<int64_t> samples{0};
  const absl::Time until = absl::Now() + absl::Seconds(seconds);
  const absl::Time start = absl::Now();
  const double cpu_before = CpuSeconds(getpid());
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      while (absl::Now() < until) {
        if (pipeline.Run(batch, {}).ok()) samples += batch.rows();
      }
    });
  }
  for (auto& t : pool) t.join();
  const double n = std::max<double>(1, samples);
  return {samples / absl::ToDoubleSeconds(absl::Now() - start),
          1e3 * (CpuSeconds(getpid()) - cpu_before) / n};
}

// Says why the benchmark stops; returns its exit code.
int Failed(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "serving_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  return 1;
}

// The latest version of `model` in the repository at `root`, as the
// worker loads it.
absl::StatusOr<std::shared_ptr<const v2p::core::Pipeline>> LoadLatest(const std::string& root,
                                                                      const std::string& model) {
  ASSIGN_OR_RETURN(auto repository, v2p::core::ModelRepository::Open({root}));
  ASSIGN_OR_RETURN(const int64_t version, repository->ResolveVersion(model, 0));
  return v2p::core::LoadPipeline(repository->VersionDir(model, version), version);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  v2p::DisableMutexDeadlockDetection();
  namespace core = v2p::core;
  core::SetBlasThreads(1);  // as the worker runs it
  const std::string model = absl::GetFlag(FLAGS_model);
  std::string repo = absl::GetFlag(FLAGS_repo);
  const bool own_repo = repo.empty();
  core::Dataset dataset;
  if (own_repo) {
    auto trained = v2p::bench::TrainDigit69Ridge(absl::GetFlag(FLAGS_data_root), model);
    if (!trained.ok()) return Failed("training digit69", trained.status());
    repo = trained->repository;
    dataset = std::move(trained->dataset);
  } else {
    auto ds = core::LoadDataset(core::Digit69DatasetOptions(absl::GetFlag(FLAGS_data_root)));
    if (!ds.ok()) return Failed("loading digit69", ds.status());
    dataset = std::move(*ds);
  }
  const std::string betas = absl::GetFlag(FLAGS_data_root) + "/digit69/digit69_28x28.mat";
  auto loaded = LoadLatest(repo, model);
  if (!loaded.ok()) return Failed(absl::StrCat("loading ", model, " from ", repo), loaded.status());
  const int batch = absl::GetFlag(FLAGS_batch);
  Eigen::MatrixXf batch_betas(batch, dataset.test.betas.cols());
  for (int i = 0; i < batch; ++i) {
    batch_betas.row(i) = dataset.test.betas.row(i % dataset.test.betas.rows()).cast<float>();
  }

  v2p::client::LoadOptions single;
  single.clients = absl::GetFlag(FLAGS_clients);
  single.duration_s = absl::GetFlag(FLAGS_seconds);
  single.betas = betas;
  single.var = "fmriTest";
  std::vector<int> batch_clients;
  for (const std::string& c : absl::GetFlag(FLAGS_batch_clients)) {
    int n = 0;
    if (!absl::SimpleAtoi(c, &n) || n < 1) {
      std::fprintf(stderr, "serving_bench: --batch_clients: '%s' is not a client count\n",
                   c.c_str());
      return 2;
    }
    batch_clients.push_back(n);
  }
  if (batch_clients.empty()) batch_clients.push_back(2);

  const std::vector<std::string> batching_off = {"--max_batch_size=1",
                                                 "--worker_args=--max_batch_size=0"};
  // The requests reach the pipeline as sent: neither the gateway nor the
  // worker merges two of them into a larger batch than in-process runs.
  const std::vector<std::string> same_batches = {
      "--max_batch_size=1", "--worker_args=--max_batch_size=" + std::to_string(batch)};
  std::printf(
      "serving_bench: %s, v2p-server + 1 spawned worker, %u hardware threads "
      "shared with the clients; %d rounds of %.0f s per configuration\n",
      own_repo ? "digit69 ridge pipeline" : absl::StrCat("model ", model, " of ", repo).c_str(),
      std::thread::hardware_concurrency(), absl::GetFlag(FLAGS_rounds), single.duration_s);
  std::string header =
      absl::StrFormat("%6s %28s %28s %7s", "round", "batch size one (samples/s, p99)",
                      "dynamic batching (samples/s, p99)", "gain");
  for (int c : batch_clients) {
    absl::StrAppend(&header, absl::StrFormat(" %16s", absl::StrCat("b=", batch, " x", c, " gRPC")));
  }
  absl::StrAppend(&header, absl::StrFormat(" %11s", "in-process"));
  for (int c : batch_clients)
    absl::StrAppend(&header, absl::StrFormat(" %9s", absl::StrCat("ratio x", c)));
  std::printf("%s\n", header.c_str());

  // Per configuration (batch size one, dynamic batching, then one per
  // batch client count; with --floor, null_server with the clients of each
  // of those after them): the runs of every round.
  const size_t served = 2 + batch_clients.size();
  const bool floor = absl::GetFlag(FLAGS_floor);
  const size_t configs = floor ? 2 * served - 1 : served;
  // The served configuration whose clients configuration `c` uses: itself,
  // or for a floor configuration the one it mirrors (all but batch size one).
  auto like = [&](size_t c) { return c < served ? c : c - served + 1; };
  auto batch_label = [&](size_t c) {
    return absl::StrCat("b=", batch, " x", batch_clients[like(c) - 2]);
  };
  // null_server's results carry PNGs of the size the pipeline encodes.
  size_t png_bytes = 0;
  if (auto out = (*loaded)->Run(batch_betas, {}); out.ok()) {
    for (const auto& r : *out) png_bytes += r.png.size();
    png_bytes /= std::max<size_t>(1, out->size());
  }
  const std::vector<std::string> null_argv = {v2p::server::ExecutableDir() + "/null_server",
                                              absl::StrCat("--voxels=", batch_betas.cols()),
                                              absl::StrCat("--png_bytes=", png_bytes)};
  std::vector<std::vector<Run>> runs(configs);
  std::vector<double> gains, local_rate, local_cpu;
  std::vector<std::vector<double>> ratios(batch_clients.size());
  bool clean = true;
  // The table row and the CPU row of one round, or of the medians: `at`
  // holds one Run per configuration.
  auto print_rows = [&](const std::string& label, const std::vector<Run>& at, double gain,
                        double local, const std::vector<double>& ratio) {
    std::string line =
        absl::StrFormat("%6s %17.0f %8.2f ms %17.0f %8.2f ms %6.2fx", label, at[0].throughput,
                        at[0].p99_ms, at[1].throughput, at[1].p99_ms, gain);
    for (size_t c = 2; c < served; ++c)
      absl::StrAppend(&line, absl::StrFormat(" %16.0f", at[c].throughput));
    absl::StrAppend(&line, absl::StrFormat(" %11.0f", local));
    for (double r : ratio) absl::StrAppend(&line, absl::StrFormat(" %9.2f", r));
    std::printf("%s\n", line.c_str());
    std::string cpu = absl::StrFormat("%6s CPU ms per sample, clients + gateway + worker: ", "");
    const char* names[] = {"batch size one", "dynamic batching"};
    for (size_t c = 0; c < served; ++c) {
      absl::StrAppend(&cpu, c == 0 ? "" : "; ", c < 2 ? names[c] : batch_label(c),
                      absl::StrFormat(" %.3f + %.3f + %.3f (idle %.0f%%, stolen %.0f%%)",
                                      at[c].client_cpu_ms, at[c].gateway_cpu_ms,
                                      at[c].worker_cpu_ms, 100 * at[c].idle, 100 * at[c].stolen));
    }
    std::printf("%s\n", cpu.c_str());
    if (!floor) return;
    std::string nul = absl::StrFormat(
        "%6s floor, null_server (samples/s; CPU ms per sample, clients + server): ", "");
    for (size_t c = served; c < configs; ++c) {
      absl::StrAppend(&nul, c == served ? "" : "; ",
                      like(c) == 1 ? absl::StrCat(single.clients, " x 1 sample") : batch_label(c),
                      absl::StrFormat(" %.0f; %.3f + %.3f", at[c].throughput, at[c].client_cpu_ms,
                                      at[c].gateway_cpu_ms));
    }
    std::printf("%s\n", nul.c_str());
  };
  for (int round = 1; round <= absl::GetFlag(FLAGS_rounds); ++round) {
    std::vector<Run> now;
    for (size_t c = 0; c < configs; ++c) {
      // A floor configuration loads null_server as the one it mirrors
      // loads v2p-server.
      v2p::client::LoadOptions load = single;
      if (like(c) >= 2) {
        load.clients = batch_clients[like(c) - 2];
        load.samples_per_request = batch;
      }
      const std::vector<std::string> flags = c == 0 ? batching_off
                                             : c == 1
                                                 ? std::vector<std::string>{"--max_batch_size=32"}
                                                 : same_batches;
      auto run = ServeAndLoad(c < served ? ServerArgv(repo, flags) : null_argv, model, load);
      if (!run.ok()) return Failed("a run failed", run.status());
      clean = clean && run->clean;
      now.push_back(*run);
      runs[c].push_back(*run);
    }
    Local best;
    for (int threads : batch_clients) {
      const Local l = InProcess(**loaded, batch_betas, threads, single.duration_s);
      if (l.throughput > best.throughput) best = l;
    }
    const double local = best.throughput;
    local_rate.push_back(local);
    local_cpu.push_back(best.cpu_ms);
    gains.push_back(now[1].throughput / now[0].throughput);
    std::vector<double> ratio;
    for (size_t i = 0; i < batch_clients.size(); ++i) {
      ratio.push_back(now[2 + i].throughput / local);
      ratios[i].push_back(ratio.back());
    }
    print_rows(std::to_string(round), now, gains.back(), local, ratio);
    std::fflush(stdout);
  }
  // Each field's median over the rounds, per configuration.
  std::vector<Run> medians(configs);
  for (size_t c = 0; c < configs; ++c) {
    for (double Run::*field :
         {&Run::throughput, &Run::p99_ms, &Run::client_cpu_ms, &Run::gateway_cpu_ms,
          &Run::worker_cpu_ms, &Run::idle, &Run::stolen}) {
      std::vector<double> v;
      for (const Run& r : runs[c]) v.push_back(r.*field);
      medians[c].*field = Median(v);
    }
  }
  std::vector<double> median_ratios;
  for (const auto& r : ratios) median_ratios.push_back(Median(r));
  print_rows("median", medians, Median(gains), Median(local_rate), median_ratios);
  std::printf("dynamic batching gain at %d clients (median of per-round ratios): %.2fx\n",
              single.clients, Median(gains));
  std::printf("p99 latency at %d clients with dynamic batching (median): %.2f ms\n", single.clients,
              medians[1].p99_ms);
  for (size_t i = 0; i < batch_clients.size(); ++i) {
    std::printf(
        "gRPC / in-process throughput, %d requests of %d samples at a time (median ratio): %.2f\n",
        batch_clients[i], batch, median_ratios[i]);
  }
  if (floor) {
    const double unary_floor = medians[served].throughput;
    std::printf(
        "floor: null_server, which does no work (each result a %zu-byte PNG, as the pipeline's), "
        "sustains %.0f samples/s at %d single-sample clients (%.2fx batch size one, %.2fx dynamic "
        "batching)\n",
        png_bytes, unary_floor, single.clients, unary_floor / medians[0].throughput,
        unary_floor / medians[1].throughput);
    for (size_t i = 0; i < batch_clients.size(); ++i) {
      std::printf(
          "floor: null_server sustains %.0f samples/s with %d requests of %d samples at a time "
          "(%.2f of in-process; served %.2f of it)\n",
          medians[served + 1 + i].throughput, batch_clients[i], batch,
          medians[served + 1 + i].throughput / Median(local_rate),
          medians[2 + i].throughput / medians[served + 1 + i].throughput);
    }
    // What the served path could reach if the gateway and the worker added
    // nothing to gRPC's own work: a sample crosses two hops (client ->
    // gateway, gateway -> worker), each costing at least what the floor's
    // clients and null_server spend on it, and then runs through the
    // pipeline, all on the same hardware threads, never idle.
    const double hw = std::max(1u, std::thread::hardware_concurrency());
    for (size_t i = 0; i < batch_clients.size(); ++i) {
      const Run& f = medians[served + 1 + i];
      const double ms = 2 * (f.client_cpu_ms + f.gateway_cpu_ms) + Median(local_cpu);
      std::printf(
          "ceiling: %d requests of %d samples at a time, two hops at the floor's CPU cost "
          "(2 x %.3f ms) plus the pipeline's %.3f ms per sample: at most %.0f samples/s on %.0f "
          "hardware threads, %.2f of in-process\n",
          batch_clients[i], batch, f.client_cpu_ms + f.gateway_cpu_ms, Median(local_cpu),
          1e3 * hw / ms, hw, 1e3 * hw / ms / Median(local_rate));
    }
    // The same for dynamic batching at the single-sample clients: each
    // sample still costs its clients and the gateway one single-sample call
    // (the floor's, at those clients), then crosses to the worker inside a
    // batch (at best the cheapest --batch-sample floor per sample) and runs
    // through the pipeline (at best at --batch samples a batch). Against the
    // measured batch size one, this bounds the gain.
    double batched_hop = 0;
    for (size_t i = 0; i < batch_clients.size(); ++i) {
      const Run& f = medians[served + 1 + i];
      const double hop = f.client_cpu_ms + f.gateway_cpu_ms;
      if (i == 0 || hop < batched_hop) batched_hop = hop;
    }
    const Run& unary = medians[served];
    const double ms = unary.client_cpu_ms + unary.gateway_cpu_ms + batched_hop + Median(local_cpu);
    std::printf(
        "ceiling: dynamic batching at %d single-sample clients, one call at the floor's CPU cost "
        "(%.3f ms) plus a hop inside a batch at the %d-sample floor's (%.3f ms) plus the "
        "pipeline's "
        "%.3f ms per sample: at most %.0f samples/s on %.0f hardware threads, %.2fx batch size "
        "one\n",
        single.clients, unary.client_cpu_ms + unary.gateway_cpu_ms, batch, batched_hop,
        Median(local_cpu), 1e3 * hw / ms, hw, 1e3 * hw / ms / medians[0].throughput);
  }
  std::printf("every run: %s\n", clean ? "no sample lost, no errors" : "SAMPLES LOST OR ERRORS");
  if (own_repo) std::filesystem::remove_all(repo);
  return clean ? 0 : 1;
}
