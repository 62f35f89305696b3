// google.longrunning.Operations over the operations in the repository
// (AIP-151 semantics): an operation that is not done carries neither error
// nor response; a cancelled one ends done with CANCELLED; WaitOperation
// returns at the earlier of its timeout and the call's deadline. The
// server keeps no state: every call reads the repository. Thread-safe.
#ifndef V2P_SERVER_OPERATIONS_SERVICE_H_
#define V2P_SERVER_OPERATIONS_SERVICE_H_

#include "absl/time/time.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "server/auth.h"
#include "store/operation_store.h"

namespace v2p::server {

class OperationsService final : public google::longrunning::Operations::Service {
 public:
  struct Options {
    absl::Duration poll_interval = absl::Milliseconds(100);
    // WaitOperation without timeout or deadline waits at most this long.
    absl::Duration max_wait = absl::Minutes(1);
    int default_page_size = 50;
    int max_page_size = 1000;
    // With tokens (server/auth.h): every call needs `train`, and a lab
    // sees, waits on, cancels and deletes only its own jobs (admins: all).
    const Authorizer* auth = nullptr;
  };
  OperationsService(store::OperationStore* operations, Options options)
      : operations_(operations), options_(options) {}

  grpc::Status ListOperations(grpc::ServerContext* context,
                              const google::longrunning::ListOperationsRequest* request,
                              google::longrunning::ListOperationsResponse* response) override;
  grpc::Status GetOperation(grpc::ServerContext* context,
                            const google::longrunning::GetOperationRequest* request,
                            google::longrunning::Operation* response) override;
  grpc::Status DeleteOperation(grpc::ServerContext* context,
                               const google::longrunning::DeleteOperationRequest* request,
                               google::protobuf::Empty* response) override;
  grpc::Status CancelOperation(grpc::ServerContext* context,
                               const google::longrunning::CancelOperationRequest* request,
                               google::protobuf::Empty* response) override;
  grpc::Status WaitOperation(grpc::ServerContext* context,
                             const google::longrunning::WaitOperationRequest* request,
                             google::longrunning::Operation* response) override;

 private:
  // The caller's operation `name` (its id in `id`): INVALID_ARGUMENT or
  // NOT_FOUND for a bad name, the caller's refusal, or PERMISSION_DENIED
  // when another lab owns the job.
  absl::StatusOr<google::longrunning::Operation> Fetch(const grpc::ServerContext* context,
                                                       const std::string& name,
                                                       std::string* id) const;

  store::OperationStore* const operations_;
  const Options options_;
};

// Filter grammar of ListOperations: terms joined by spaces or " AND ", each
// `done=true|false`, `model=NAME`, `dataset=NAME` or `phase=QUEUED|...`.
// INVALID_ARGUMENT names a term it does not understand.
absl::StatusOr<bool> MatchesFilter(const google::longrunning::Operation& op,
                                   const std::string& filter);

}  // namespace v2p::server

#endif  // V2P_SERVER_OPERATIONS_SERVICE_H_
