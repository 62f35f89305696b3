#include "server/caller_limits.h"

#include "absl/strings/str_cat.h"

namespace v2p::server {

namespace {

// Per kind (indexed by Kind): what it counts, which names its flag
// (--max_<what>_per_caller), and its ceiling among the options.
struct KindInfo {
  const char* what;
  int CallerLimits::Options::*most;
};
constexpr KindInfo kKinds[] = {{"streams", &CallerLimits::Options::max_streams},
                               {"uploads", &CallerLimits::Options::max_uploads},
                               {"samples", &CallerLimits::Options::max_samples}};

}  // namespace

CallerLimits::Place::~Place() { limits_->Release(key_, kind_, count_); }

std::string CallerLimits::Key(const Caller& caller, const std::string& peer) {
  if (!caller.lab.empty()) return "lab:" + caller.lab;
  // "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000": the address without its port.
  const size_t colon = peer.rfind(':');
  return "peer:" + (colon == std::string::npos ? peer : peer.substr(0, colon));
}

absl::StatusOr<std::unique_ptr<CallerLimits::Place>> CallerLimits::Take(
    Kind kind, const Caller& caller, grpc::ServerContextBase* context, int count) {
  const int most = options_.*kKinds[kind].most;
  const std::string key = Key(caller, context->peer());
  const char* what = kKinds[kind].what;
  const std::string flag = absl::StrCat("--max_", what, "_per_caller");
  if (most != 0 && count > most) {  // waiting cannot help
    return absl::ResourceExhaustedError(absl::StrCat("one call carries ", count, " ", what,
                                                     "; the server takes at most ", most,
                                                     " per caller (", flag, "): split it"));
  }
  int held_now = 0;
  {
    absl::MutexLock lock(&mu_);
    int& held = held_[kind][key];
    if (most == 0 || held + count <= most) {
      held += count;
      return std::unique_ptr<Place>(new Place(this, key, kind, count));
    }
    held_now = held;
  }
  context->AddTrailingMetadata("grpc-retry-pushback-ms", "1000");
  const std::string who =
      caller.lab.empty() ? "this address" : absl::StrCat("lab '", caller.lab, "'");
  if (kind == kSample) {
    return absl::ResourceExhaustedError(
        absl::StrCat(who, " has ", held_now, " samples in flight and this call adds ", count,
                     "; the server's limit per caller is ", most, " (", flag,
                     "); retry when some are answered"));
  }
  return absl::ResourceExhaustedError(absl::StrCat(who, " has ", most, " ", what,
                                                   " open, the server's limit per caller (", flag,
                                                   "); retry when one ends"));
}

int CallerLimits::Held(const std::string& key, Kind kind) const {
  absl::MutexLock lock(&mu_);
  auto it = held_[kind].find(key);
  return it == held_[kind].end() ? 0 : it->second;
}

void CallerLimits::Release(const std::string& key, Kind kind, int count) {
  absl::MutexLock lock(&mu_);
  auto it = held_[kind].find(key);
  if (it != held_[kind].end() && (it->second -= count) <= 0) held_[kind].erase(it);
}

}  // namespace v2p::server
