#include "client/command_line.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"

namespace v2p::client {
namespace {

// absl flags are identifiers; accept the dashed spelling labs type.
std::vector<char*> NormaliseFlagNames(int argc, char** argv, std::vector<std::string>* storage) {
  storage->assign(argv, argv + argc);
  for (std::string& a : *storage) {
    if (a.rfind("--", 0) != 0) continue;
    const size_t end = a.find('=') == std::string::npos ? a.size() : a.find('=');
    for (size_t i = 2; i < end; ++i) {
      if (a[i] == '-') a[i] = '_';
    }
  }
  std::vector<char*> out;
  for (std::string& a : *storage) out.push_back(a.data());
  return out;
}

}  // namespace

int RunCommandTable(int argc, char** argv, const CommandTable& commands,
                    int (*usage)(const std::string&)) {
  std::vector<std::string> storage;
  std::vector<char*> args = NormaliseFlagNames(argc, argv, &storage);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (positional.size() < 2) return usage("missing command");
  const std::string command = positional[1];
  const auto it = commands.find(command);
  if (it == commands.end()) return usage("unknown command '" + command.substr(0, 64) + "'");
  Invocation c;
  c.sub = positional.size() > 2 ? positional[2] : "";
  c.command_line = absl::StrJoin(std::vector<std::string>(argv, argv + argc), " ");
  return it->second(c);
}

int ReportStatus(const char* program, const absl::Status& status) {
  if (status.ok()) return 0;
  std::fprintf(stderr, "%s: %s\n", program, status.ToString().c_str());
  return 1;
}

int ReportUsage(const char* program, const std::string& why, const char* usage) {
  std::fprintf(stderr, "%s: %s\n\n%s\n", program, why.c_str(), usage);
  return 2;
}

bool RunsInLab(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return false;
  const std::string command = argv[1];
  if (command == "features" || command == "generators" || command == "gan" ||
      command == "fattention" || command == "shen")
    return true;
  if (command != "train") return false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--repo" || absl::StartsWith(a, "--repo=")) return true;
  }
  return false;
}

int ExecLab(int argc, char** argv) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string lab = (self.parent_path() / "v2p-lab").string();
  std::vector<char*> args(argv, argv + argc);
  args[0] = const_cast<char*>(lab.c_str());
  args.push_back(nullptr);
  execv(lab.c_str(), args.data());
  std::fprintf(stderr, "v2p: `%s` runs in v2p-lab, which should be beside v2p (%s): %s\n", argv[1],
               lab.c_str(), std::strerror(errno));
  return 2;
}

}  // namespace v2p::client
