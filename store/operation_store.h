// Training jobs as google.longrunning.Operations kept in the repository:
//   operations/<id>/request.binpb    the CreateTrainingJobRequest
//   operations/<id>/operation.binpb  the Operation (metadata, result)
//   operations/<id>/lease            "<owner> <expiry unix ms>" while a worker runs it
//   operations/<id>/cancel           present once cancellation was asked for
//   operations/<id>/checkpoint/      the job's finished steps
// Only the lease holder writes operation.binpb after creation, so there is
// one writer at a time. Ids start with the creation time, so they sort in
// creation order. Thread-safe; any number of processes may share a root.
#ifndef V2P_STORE_OPERATION_STORE_H_
#define V2P_STORE_OPERATION_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/longrunning/operations.pb.h"
#include "voxel2pixel/v1/training.pb.h"

namespace v2p::store {

inline constexpr char kOperationPrefix[] = "operations/";

class OperationStore {
 public:
  // Leases are read and written against `clock` (tests inject one).
  using Clock = std::function<absl::Time()>;
  static absl::StatusOr<std::unique_ptr<OperationStore>> Open(const std::string& root,
                                                              Clock clock = absl::Now);

  // Writes a new queued operation atomically and returns it.
  absl::StatusOr<google::longrunning::Operation> Create(
      const voxel2pixel::v1::CreateTrainingJobRequest& request,
      const voxel2pixel::v1::TrainingJobMetadata& metadata);

  // Whether `id` has the shape of the ids Create gives: 1-64 characters of
  // [0-9a-f-] (so a client's id is checked before it touches the disk).
  static bool IsOperationId(absl::string_view id);
  // `name` is "operations/<id>"; INVALID_ARGUMENT for other shapes,
  // NOT_FOUND for an unknown id.
  absl::StatusOr<std::string> IdFromName(const std::string& name) const;
  absl::StatusOr<google::longrunning::Operation> Get(const std::string& id) const;
  absl::StatusOr<voxel2pixel::v1::CreateTrainingJobRequest> GetRequest(const std::string& id) const;
  // Oldest first.
  std::vector<std::string> ListIds() const;
  absl::Status Write(const std::string& id, const google::longrunning::Operation& op);
  absl::Status Delete(const std::string& id);

  absl::Status RequestCancel(const std::string& id);
  bool CancelRequested(const std::string& id) const;

  // Claims the job for `owner` for `ttl`. Succeeds when no lease exists or
  // the lease expired (or names a process on this host that no longer
  // exists). Returns false when someone else holds it.
  absl::StatusOr<bool> TryClaim(const std::string& id, const std::string& owner,
                                absl::Duration ttl);
  // Extends the lease; ABORTED when `owner` no longer holds it.
  absl::Status Renew(const std::string& id, const std::string& owner, absl::Duration ttl);
  // Removes the lease if `owner` holds it (OK when it does not); INTERNAL
  // when the lease file cannot be removed.
  absl::Status Release(const std::string& id, const std::string& owner);
  // The lease holder, or "" when the job is not leased (or the lease expired).
  std::string LeaseHolder(const std::string& id) const;

  std::string CheckpointDir(const std::string& id) const;

  // "<hostname>:<pid>", the owner string of this process.
  static std::string ThisProcessOwner();

 private:
  OperationStore(std::string dir, Clock clock) : dir_(std::move(dir)), clock_(std::move(clock)) {}
  // A lease is void once it expired, or when it names a process of this
  // host that is gone (a worker restarted here need not wait out the TTL).
  bool IsVoid(absl::Time expiry, const std::string& owner) const;
  std::string LeaseText(const std::string& owner, absl::Duration ttl) const;
  std::string Dir(const std::string& id) const { return dir_ + "/" + id; }

  std::string dir_;  // <root>/operations
  Clock clock_;
};

// Packs metadata into op.metadata (as google.protobuf.Any).
void SetMetadata(const voxel2pixel::v1::TrainingJobMetadata& metadata,
                 google::longrunning::Operation* op);
voxel2pixel::v1::TrainingJobMetadata GetMetadata(const google::longrunning::Operation& op);

}  // namespace v2p::store

#endif  // V2P_STORE_OPERATION_STORE_H_
