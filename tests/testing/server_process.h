// A real v2p-server (with its spawned workers) for end-to-end tests:
// started on 127.0.0.1:0, the port read back through --ready_fd.
#ifndef V2P_TESTS_TESTING_SERVER_PROCESS_H_
#define V2P_TESTS_TESTING_SERVER_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace v2p::testing {

class ServerProcess {
 public:
  // Starts bin/v2p-server --repo=repo --port=0 plus `extra_args`.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& repo, const std::vector<std::string>& extra_args = {});
  ~ServerProcess();  // SIGTERM, then waits

  std::string address() const;
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  // The direct children of the server (its workers), from /proc.
  std::vector<pid_t> Children() const;

 private:
  ServerProcess(pid_t pid, int port, int metrics_port);
  pid_t pid_;
  int port_;
  int metrics_port_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Runs a command to completion; returns its exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::string& command_line);

// `v2p train` of examples/digit69_ridge.pbtxt on examples/digit69_dataset.pbtxt
// into `repo` as `model`: the served model most end-to-end tests start from.
CommandResult TrainDigit69Ridge(const std::string& repo, const std::string& model);

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_SERVER_PROCESS_H_
