#include "server/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace v2p::server {

std::string DescribeExit(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exit code ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return absl::StrCat("killed by signal ", WTERMSIG(wait_status));
  return absl::StrCat("wait status ", wait_status);
}

std::string ExecutableDir() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).parent_path().string();
}

absl::StatusOr<ChildProcess> SpawnWithReadyFd(const std::vector<std::string>& argv,
                                              absl::Duration timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to run");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  // Everything the child needs is prepared before fork(): after it, in a
  // multi-threaded parent, only async-signal-safe calls are allowed.
  std::vector<std::string> args = argv;
  args.push_back("--ready_fd=3");
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(fds[1], 3);  // dup2 clears O_CLOEXEC on the new descriptor
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  close(fds[1]);

  std::string line;
  const absl::Time deadline = absl::Now() + timeout;
  while (line.find('\n') == std::string::npos) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ms > 0 ? poll(&p, 1, static_cast<int>(ms)) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      close(fds[0]);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return absl::DeadlineExceededError(
          absl::StrCat(argv[0], " did not report a port within ", absl::FormatDuration(timeout)));
    }
    char buf[64];
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      line.append(buf, n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return absl::UnavailableError(
        absl::StrCat(argv[0], " exited before serving (", DescribeExit(status), ")"));
  }
  close(fds[0]);
  // "<grpc port> [<metrics port>]"
  const std::vector<std::string> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(line), ' ', absl::SkipWhitespace());
  int port = 0, metrics_port = 0;
  if (fields.size() > 1) (void)absl::SimpleAtoi(fields[1], &metrics_port);
  if (fields.empty() || !absl::SimpleAtoi(fields[0], &port) || port <= 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return absl::InternalError(absl::StrCat(argv[0], " reported a bad port: '", line, "'"));
  }
  return ChildProcess{pid, port, metrics_port};
}

}  // namespace v2p::server
