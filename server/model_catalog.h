// What the gateway needs to know about a model to validate a request (its
// voxel count), asked of a worker and remembered briefly so that a stream
// of requests does not ask each time. Holds no model. Thread-safe.
#ifndef V2P_SERVER_MODEL_CATALOG_H_
#define V2P_SERVER_MODEL_CATALOG_H_

#include <grpcpp/grpcpp.h>

#include <map>
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

  // version 0 = latest. NOT_FOUND (from the worker) for unknown models.
  absl::StatusOr<voxel2pixel::v1::Model> Lookup(
      const grpc::ServerContext* context, const std::string& name,
      int64_t version);

 private:
  const Dispatcher* const dispatcher_;
  const Options options_;
  absl::Mutex mu_;
  std::map<std::pair<std::string, int64_t>,
           std::pair<voxel2pixel::v1::Model, absl::Time>>
      cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace v2p::server

#endif  // V2P_SERVER_MODEL_CATALOG_H_
