#include "server/caller_limits.h"

#include "absl/strings/str_cat.h"

namespace v2p::server {

CallerLimits::Place::~Place() { limits_->Release(key_, kind_); }

std::string CallerLimits::Key(const Caller& caller, const std::string& peer) {
  if (!caller.lab.empty()) return "lab:" + caller.lab;
  // "ipv4:127.0.0.1:5000", "ipv6:[::1]:5000": the address without its port.
  const size_t colon = peer.rfind(':');
  return "peer:" + (colon == std::string::npos ? peer : peer.substr(0, colon));
}

absl::StatusOr<std::unique_ptr<CallerLimits::Place>> CallerLimits::Take(
    Kind kind, const Caller& caller, grpc::ServerContextBase* context) {
  const int most = kind == kStream ? options_.max_streams : options_.max_uploads;
  const std::string key = Key(caller, context->peer());
  {
    absl::MutexLock lock(&mu_);
    int& held = held_[kind][key];
    if (most == 0 || held < most) {
      ++held;
      return std::unique_ptr<Place>(new Place(this, key, kind));
    }
  }
  context->AddTrailingMetadata("grpc-retry-pushback-ms", "1000");
  const char* what = kind == kStream ? "streams" : "uploads";
  return absl::ResourceExhaustedError(
      absl::StrCat(caller.lab.empty() ? "this address" : absl::StrCat("lab '", caller.lab, "'"),
                   " has ", most, " ", what, " open, the server's limit per caller (--max_", what,
                   "_per_caller); retry when one ends"));
}

int CallerLimits::Held(const std::string& key, Kind kind) const {
  absl::MutexLock lock(&mu_);
  auto it = held_[kind].find(key);
  return it == held_[kind].end() ? 0 : it->second;
}

void CallerLimits::Release(const std::string& key, Kind kind) {
  absl::MutexLock lock(&mu_);
  auto it = held_[kind].find(key);
  if (it != held_[kind].end() && --it->second == 0) held_[kind].erase(it);
}

}  // namespace v2p::server
