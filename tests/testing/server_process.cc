#include "tests/testing/server_process.h"

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/subprocess.h"
#include "tests/testing/test_paths.h"

namespace v2p::testing {

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::string& repo, const std::vector<std::string>& extra_args) {
  // Test clients keep their connections open while the server stops, which
  // makes it wait out its whole grace period.
  std::vector<std::string> argv = {BinDir() + "/v2p-server", "--repo=" + repo, "--port=0",
                                   "--shutdown_grace_s=1", "--metrics_port=0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  auto child = server::SpawnWithReadyFd(argv, absl::Seconds(90));
  if (!child.ok()) return child.status();
  return std::unique_ptr<ServerProcess>(
      new ServerProcess(child->pid, child->port, child->metrics_port));
}

ServerProcess::ServerProcess(pid_t pid, int port, int metrics_port)
    : pid_(pid),
      port_(port),
      metrics_port_(metrics_port),
      channel_(grpc::CreateChannel(address(), grpc::InsecureChannelCredentials())) {}

ServerProcess::~ServerProcess() {
  kill(pid_, SIGTERM);
  waitpid(pid_, nullptr, 0);
}

std::string ServerProcess::address() const { return absl::StrCat("127.0.0.1:", port_); }

std::vector<pid_t> ServerProcess::Children() const {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid_, "/task"), ec)) {
    std::ifstream f(task.path() / "children");
    std::stringstream ss;
    ss << f.rdbuf();
    for (absl::string_view p : absl::StrSplit(ss.str(), ' ', absl::SkipWhitespace())) {
      pid_t pid;
      if (absl::SimpleAtoi(p, &pid)) out.push_back(pid);
    }
  }
  return out;
}

CommandResult RunCommand(const std::string& command_line) {
  CommandResult r;
  FILE* p = popen((command_line + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

CommandResult TrainDigit69Ridge(const std::string& repo, const std::string& model) {
  return RunCommand(absl::StrCat(
      BinDir(), "/v2p train --dataset ", SourceDir(), "/examples/digit69_dataset.pbtxt --spec ",
      SourceDir(), "/examples/digit69_ridge.pbtxt --repo ", repo, " --model ", model));
}

}  // namespace v2p::testing
