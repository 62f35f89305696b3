// Starting a child v2p process that reports its listening port on a pipe.
#ifndef V2P_SERVER_SUBPROCESS_H_
#define V2P_SERVER_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace v2p::server {

struct ChildProcess {
  pid_t pid = 0;
  int port = 0;
  int metrics_port = 0;  // 0 when the child serves no metrics
};

// Runs argv[0] with argv[1..] plus "--ready_fd=3", fd 3 being the write end
// of a pipe, and waits up to `timeout` for the child to write
// "<port> [<metrics port>]".
// The child gets SIGTERM when the calling thread's process dies. Errors:
// the child exited (its status named) or timed out (it is killed).
absl::StatusOr<ChildProcess> SpawnWithReadyFd(const std::vector<std::string>& argv,
                                              absl::Duration timeout);

// Describes a waitpid() status: "exit code 3", "killed by signal 9".
std::string DescribeExit(int wait_status);

// Directory of the running executable (/proc/self/exe), for finding
// sibling binaries.
std::string ExecutableDir();

}  // namespace v2p::server

#endif  // V2P_SERVER_SUBPROCESS_H_
