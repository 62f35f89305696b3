// What one caller may hold at once on the gateway: streams and uploads.
// The caller is its lab when tokens are required (server/auth.h), else its
// peer's address without the port. Beyond a ceiling the call gets
// RESOURCE_EXHAUSTED naming the flag, with gRPC's retry pushback
// (grpc-retry-pushback-ms) in its trailers, and other callers are not
// affected. Thread-safe.
#ifndef V2P_SERVER_CALLER_LIMITS_H_
#define V2P_SERVER_CALLER_LIMITS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/auth.h"

namespace v2p::server {

class CallerLimits {
 public:
  enum Kind { kStream = 0, kUpload = 1 };
  struct Options {
    int max_streams = 32;  // 0: no ceiling
    int max_uploads = 2;
  };
  explicit CallerLimits(Options options) : options_(options) {}

  // Held while the call lasts; releases its place when destroyed.
  class Place {
   public:
    ~Place();
    Place(const Place&) = delete;
    Place& operator=(const Place&) = delete;

   private:
    friend class CallerLimits;
    Place(CallerLimits* limits, std::string key, Kind kind)
        : limits_(limits), key_(std::move(key)), kind_(kind) {}
    CallerLimits* limits_;
    std::string key_;
    Kind kind_;
  };

  // A place for one more call of `kind` by the caller of `context`, or
  // RESOURCE_EXHAUSTED (with the pushback added to `context`'s trailers).
  absl::StatusOr<std::unique_ptr<Place>> Take(Kind kind, const Caller& caller,
                                              grpc::ServerContextBase* context);
  int Held(const std::string& key, Kind kind) const;

  // The caller's key: "lab:<lab>", or "peer:<address>" without tokens.
  static std::string Key(const Caller& caller, const std::string& peer);

 private:
  void Release(const std::string& key, Kind kind);
  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> held_[2] ABSL_GUARDED_BY(mu_);
};

}  // namespace v2p::server

#endif  // V2P_SERVER_CALLER_LIMITS_H_
