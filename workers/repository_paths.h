// Messages that leave the worker name files as the repository does
// ("models/m/1/generator/generator.pt"), never where the repository lies on
// this machine.
#ifndef V2P_WORKERS_REPOSITORY_PATHS_H_
#define V2P_WORKERS_REPOSITORY_PATHS_H_

#include <string>

#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace v2p::worker {

// `message` with "<root>/" removed and a bare <root> written ".".
inline std::string RelativeToRepository(absl::string_view message, const std::string& root) {
  return absl::StrReplaceAll(message, {{root + "/", ""}, {root, "."}});
}

}  // namespace v2p::worker

#endif  // V2P_WORKERS_REPOSITORY_PATHS_H_
