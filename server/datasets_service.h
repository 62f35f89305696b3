// The public Datasets service: receives an upload into a staging directory
// of the repository, checks its size and SHA-256, has a worker check that
// the description's variables load, then commits it atomically. An upload
// holds a server thread while it lasts, so at most max_concurrent_uploads
// run at once (others get RESOURCE_EXHAUSTED with a retry pushback) and
// one that sends nothing for upload_idle_timeout is cancelled and its
// staging removed. Thread-safe.
#ifndef V2P_SERVER_DATASETS_SERVICE_H_
#define V2P_SERVER_DATASETS_SERVICE_H_

#include <cstdint>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/auth.h"
#include "server/caller_limits.h"
#include "server/dispatcher.h"
#include "store/dataset_store.h"
#include "voxel2pixel/v1/datasets_service.grpc.pb.h"

namespace v2p::server {

class DatasetsService final : public voxel2pixel::v1::Datasets::Service {
 public:
  struct Options {
    int64_t max_upload_bytes = int64_t{512} << 20;
    int max_concurrent_uploads = 8;
    absl::Duration upload_idle_timeout = absl::Seconds(60);
    // With tokens (server/auth.h): every call needs `train`; an upload is
    // owned by the caller's lab, and only it (or an admin) deletes it.
    const Authorizer* auth = nullptr;
    // Uploads beyond a caller's ceiling are refused; null: no ceiling.
    CallerLimits* limits = nullptr;
  };
  // Both must outlive the service.
  DatasetsService(store::DatasetStore* datasets, const Dispatcher* dispatcher, Options options);
  ~DatasetsService() override;

  grpc::Status UploadDataset(grpc::ServerContext* context,
                             grpc::ServerReader<voxel2pixel::v1::UploadDatasetRequest>* reader,
                             voxel2pixel::v1::Dataset* response) override;
  grpc::Status ListDatasets(grpc::ServerContext* context,
                            const voxel2pixel::v1::ListDatasetsRequest* request,
                            voxel2pixel::v1::ListDatasetsResponse* response) override;
  grpc::Status GetDataset(grpc::ServerContext* context,
                          const voxel2pixel::v1::GetDatasetRequest* request,
                          voxel2pixel::v1::Dataset* response) override;
  grpc::Status DeleteDataset(grpc::ServerContext* context,
                             const voxel2pixel::v1::DeleteDatasetRequest* request,
                             google::protobuf::Empty* response) override;

 private:
  absl::Status Receive(grpc::ServerContext* context,
                       grpc::ServerReader<voxel2pixel::v1::UploadDatasetRequest>* reader,
                       const store::DatasetStore::Staging& staging,
                       voxel2pixel::v1::Dataset* record);

  // An upload in progress: when it last received a message, and whether
  // it is still reading them (the checks after the last one are not idle).
  struct Active {
    absl::Time last_message;
    bool reading = true;
    bool timed_out = false;
  };
  // Admits an upload (false: at the limit) and forgets it.
  bool Admit(grpc::ServerContext* context);
  void Forget(grpc::ServerContext* context);
  void Touch(grpc::ServerContext* context, bool reading = true);
  bool TimedOut(grpc::ServerContext* context);
  // Cancels the uploads idle past the timeout, until the service goes.
  void Watch();

  store::DatasetStore* const datasets_;
  const Dispatcher* const dispatcher_;
  const Options options_;
  absl::Mutex mu_;
  std::map<grpc::ServerContext*, Active> active_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watchdog_;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_DATASETS_SERVICE_H_
