// The public Training service: checks a job request against the stored
// dataset and writes it to the repository as a queued operation, which a
// worker's job runner then claims. Thread-safe.
#ifndef V2P_SERVER_TRAINING_SERVICE_H_
#define V2P_SERVER_TRAINING_SERVICE_H_

#include "server/auth.h"
#include "store/dataset_store.h"
#include "store/operation_store.h"
#include "voxel2pixel/v1/training_service.grpc.pb.h"

namespace v2p::server {

class TrainingService final : public voxel2pixel::v1::Training::Service {
 public:
  // Both must outlive the service.
  TrainingService(store::DatasetStore* datasets, store::OperationStore* operations)
      : datasets_(datasets), operations_(operations) {}
  // With tokens (server/auth.h): a job needs `train`, a dataset of the
  // caller's lab (or one no lab owns) and a model name that is new or the
  // lab's own; the job and a new model name become the lab's. Set before
  // serving.
  void set_authorizer(const Authorizer* auth) { auth_ = auth; }

  grpc::Status CreateTrainingJob(grpc::ServerContext* context,
                                 const voxel2pixel::v1::CreateTrainingJobRequest* request,
                                 google::longrunning::Operation* response) override;

 private:
  absl::Status Validate(const voxel2pixel::v1::CreateTrainingJobRequest& request);
  // Whether `caller` may train on the request's dataset into its model
  // (claiming a new model name for its lab).
  absl::Status Permit(const Caller& caller,
                      const voxel2pixel::v1::CreateTrainingJobRequest& request);

  store::DatasetStore* const datasets_;
  store::OperationStore* const operations_;
  const Authorizer* auth_ = nullptr;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_TRAINING_SERVICE_H_
