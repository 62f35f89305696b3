// The public Datasets service: receives an upload into a staging directory
// of the repository, checks its size and SHA-256, has a worker check that
// the description's variables load, then commits it atomically. Holds no
// state of its own. Thread-safe.
#ifndef V2P_SERVER_DATASETS_SERVICE_H_
#define V2P_SERVER_DATASETS_SERVICE_H_

#include <cstdint>

#include "server/dispatcher.h"
#include "store/dataset_store.h"
#include "voxel2pixel/v1/datasets_service.grpc.pb.h"

namespace v2p::server {

class DatasetsService final : public voxel2pixel::v1::Datasets::Service {
 public:
  struct Options {
    int64_t max_upload_bytes = int64_t{512} << 20;
  };
  // Both must outlive the service.
  DatasetsService(store::DatasetStore* datasets, const Dispatcher* dispatcher, Options options)
      : datasets_(datasets), dispatcher_(dispatcher), options_(options) {}

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

  store::DatasetStore* const datasets_;
  const Dispatcher* const dispatcher_;
  const Options options_;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_DATASETS_SERVICE_H_
