// What `v2p` and `v2p-lab` share on the command line: dashed flag names,
// a table of commands, exit codes (0 done, 1 failed, 2 usage), and the
// hand-over of the commands that run LibTorch from `v2p` to `v2p-lab`.
#ifndef V2P_CLIENT_COMMAND_LINE_H_
#define V2P_CLIENT_COMMAND_LINE_H_

#include <map>
#include <string>

#include "absl/status/status.h"

namespace v2p::client {

// A parsed command line: the subcommand (e.g. "train" of "features
// train") and the whole line, recorded by the experiments.
struct Invocation {
  std::string sub;
  std::string command_line;
};
using CommandTable = std::map<std::string, int (*)(const Invocation&)>;

// Accepts dashed flag names (--stimuli-var = --stimuli_var), parses the
// flags and runs the command named first; `usage(why)` for a missing or
// unknown one. Returns the exit code.
int RunCommandTable(int argc, char** argv, const CommandTable& commands,
                    int (*usage)(const std::string&));

// 0 for OK; otherwise prints "program: status" to stderr and returns 1.
int ReportStatus(const char* program, const absl::Status& status);
// Prints "program: why" and the usage text to stderr; returns 2.
int ReportUsage(const char* program, const std::string& why, const char* usage);

// Whether argv (`v2p COMMAND ...`) names a command v2p-lab runs: features,
// generators, gan, and train with --repo (local training).
bool RunsInLab(int argc, char** argv);
// Replaces this process with v2p-lab from this executable's directory,
// same arguments; returns only on failure, with the exit code (2).
int ExecLab(int argc, char** argv);

}  // namespace v2p::client

#endif  // V2P_CLIENT_COMMAND_LINE_H_
