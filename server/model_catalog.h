// What the gateway needs to know about a model to validate a request (its
// voxel count), asked of a worker and remembered briefly so that a stream
// of requests does not ask each time. Holds no model. Thread-safe.
#ifndef V2P_SERVER_MODEL_CATALOG_H_
#define V2P_SERVER_MODEL_CATALOG_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/dispatcher.h"
#include "voxel2pixel/v1/models.pb.h"

namespace v2p::server {

class ModelCatalog {
 public:
  struct Options {
    absl::Duration ttl = absl::Seconds(5);
  };
  ModelCatalog(const Dispatcher* dispatcher, Options options)
      : dispatcher_(dispatcher), options_(options) {}

  // version 0 = latest; NOT_FOUND (from the worker) for unknown models.
  // `done` is called once, at once when the model is remembered, else when
  // a worker has answered, without blocking the caller. `context` (may be
  // null) must stay valid until then. The model is shared, not copied: a
  // lookup per request must not copy its description each time.
  using Model = std::shared_ptr<const voxel2pixel::v1::Model>;
  void LookupAsync(const grpc::ServerContextBase* context, const std::string& name, int64_t version,
                   std::function<void(absl::StatusOr<Model>)> done);

 private:
  using Key = std::pair<std::string, int64_t>;
  // The remembered model if still fresh, else null.
  Model Remembered(const Key& key, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  void Remember(const Key& key, Model model, absl::Time when) ABSL_LOCKS_EXCLUDED(mu_);

  const Dispatcher* const dispatcher_;
  const Options options_;
  absl::Mutex mu_;
  std::map<Key, std::pair<Model, absl::Time>> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace v2p::server

#endif  // V2P_SERVER_MODEL_CATALOG_H_
