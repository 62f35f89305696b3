// What one caller may hold at once on the gateway: streams, uploads and
// the samples of unary Reconstruct calls in flight (a stream's samples are
// bounded by its window, --stream_window).
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
  enum Kind { kStream = 0, kUpload = 1, kSample = 2 };
  struct Options {
    int max_streams = 32;  // 0: no ceiling
    int max_uploads = 2;
    int max_samples = 1024;
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
    Place(CallerLimits* limits, std::string key, Kind kind, int count)
        : limits_(limits), key_(std::move(key)), kind_(kind), count_(count) {}
    CallerLimits* limits_;
    std::string key_;
    Kind kind_;
    int count_;
  };

  // `count` more places of `kind` (calls, or samples for kSample) for the
  // caller of `context`, or RESOURCE_EXHAUSTED: with the pushback added to
  // `context`'s trailers when waiting can help, without it when `count`
  // alone is over the ceiling.
  absl::StatusOr<std::unique_ptr<Place>> Take(Kind kind, const Caller& caller,
                                              grpc::ServerContextBase* context, int count = 1);
  int Held(const std::string& key, Kind kind) const;

  // The caller's key: "lab:<lab>", or "peer:<address>" without tokens.
  static std::string Key(const Caller& caller, const std::string& peer);

 private:
  void Release(const std::string& key, Kind kind, int count);
  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> held_[3] ABSL_GUARDED_BY(mu_);
};

}  // namespace v2p::server

#endif  // V2P_SERVER_CALLER_LIMITS_H_
