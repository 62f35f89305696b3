// Soak: N concurrent streams for a duration against v2p-server with one
// spawned worker; prints samples sent/received, errors, and the worker's
// resident memory after the first 10 s and at the end (a leak shows as
// growth between the two).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/bench_common.h"
#include "client/load_command.h"
#include "proto/serving.h"
#include "server/subprocess.h"

ABSL_FLAG(int, streams, 64, "Concurrent streams.");
ABSL_FLAG(double, seconds, 60, "Duration of the soak.");
ABSL_FLAG(std::string, data_root, V2P_DATA_DIR, "Shared data directory.");

namespace {

std::vector<pid_t> Children(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& t :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), ec)) {
    std::ifstream f(t.path() / "children");
    std::string s((std::istreambuf_iterator<char>(f)), {});
    for (absl::string_view p : absl::StrSplit(s, ' ', absl::SkipWhitespace())) {
      pid_t c;
      if (absl::SimpleAtoi(p, &c)) out.push_back(c);
    }
  }
  return out;
}

double RssMiB(pid_t pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      double kb = 0;
      std::istringstream(line.substr(6)) >> kb;
      return kb / 1024.0;
    }
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  v2p::DisableMutexDeadlockDetection();
  namespace core = v2p::core;
  auto trained = v2p::bench::TrainDigit69Ridge(absl::GetFlag(FLAGS_data_root), "soak");
  if (!trained.ok()) return 1;
  const std::string dir = trained->repository;
  const std::string betas_file = absl::GetFlag(FLAGS_data_root) + "/digit69/digit69_28x28.mat";

  const std::string bin = v2p::server::ExecutableDir();
  auto server = v2p::server::SpawnWithReadyFd(
      {bin + "/v2p-server", "--repo=" + dir, "--port=0", "--metrics_port=-1", "--workers=spawn:1",
       "--worker_device=cpu", "--worker_binary=" + bin + "/v2p-worker", "--shutdown_grace_s=1"},
      absl::Seconds(60));
  if (!server.ok()) return 1;
  const auto workers = Children(server->pid);
  if (workers.size() != 1) return 1;

  v2p::client::LoadOptions o;
  o.server = absl::StrCat("127.0.0.1:", server->port);
  o.model = "soak";
  o.clients = absl::GetFlag(FLAGS_streams);
  o.duration_s = absl::GetFlag(FLAGS_seconds);
  o.stream = true;
  o.betas = betas_file;
  o.var = "fmriTest";
  absl::StatusOr<v2p::client::LoadReport> report;
  std::thread load([&] { report = v2p::client::RunLoad(o); });
  std::this_thread::sleep_for(std::chrono::seconds(10));
  const double rss_10s = RssMiB(workers[0]);
  load.join();
  const double rss_end = RssMiB(workers[0]);
  kill(server->pid, SIGTERM);
  waitpid(server->pid, nullptr, 0);
  std::filesystem::remove_all(dir);
  if (!report.ok()) {
    std::fprintf(stderr, "soak: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::printf(
      "soak_bench: %d streams, %.0f s, one worker, 2-core machine (client, server and worker share "
      "it)\n",
      o.clients, o.duration_s);
  std::printf("%s", v2p::client::FormatLoadReport(o, *report).c_str());
  std::printf("  worker RSS: %.1f MiB after 10 s, %.1f MiB at the end (%+.1f%%)\n", rss_10s,
              rss_end, 100.0 * (rss_end - rss_10s) / rss_10s);
  return report->sent == report->received && report->errors.empty() ? 0 : 1;
}
