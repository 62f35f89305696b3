#include "store/operation_store.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "proto/client_text.h"
#include "store/files.h"

namespace v2p::store {
namespace {

namespace fs = std::filesystem;
namespace v1 = voxel2pixel::v1;
using google::longrunning::Operation;

constexpr char kRequestFile[] = "request.binpb";
constexpr char kOperationFile[] = "operation.binpb";
constexpr char kLeaseFile[] = "lease";
constexpr char kCancelFile[] = "cancel";

std::string HostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

struct Lease {
  std::string owner;
  absl::Time expiry;
};

// Whether `owner` ("host:pid") names a process of this host that is gone.
bool OwnerIsGone(const std::string& owner) {
  const std::vector<std::string> parts = absl::StrSplit(owner, ':');
  int pid = 0;
  return parts.size() == 2 && parts[0] == HostName() && absl::SimpleAtoi(parts[1], &pid) &&
         kill(pid, 0) != 0 && errno == ESRCH;
}

absl::StatusOr<Lease> ReadLease(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  const std::vector<std::string> parts = absl::StrSplit(*text, ' ', absl::SkipWhitespace());
  int64_t ms = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &ms)) {
    // Being written by its creator this very moment, or garbage: treat as
    // held, and void once the file is older than any sensible TTL.
    std::error_code ec;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(path, ec);
    const bool old = !ec && age > std::chrono::minutes(5);
    return Lease{"?", old ? absl::InfinitePast() : absl::InfiniteFuture()};
  }
  return Lease{parts[0], absl::FromUnixMillis(ms)};
}

}  // namespace

bool OperationStore::IsVoid(absl::Time expiry, const std::string& owner) const {
  return clock_() >= expiry || OwnerIsGone(owner);
}

std::string OperationStore::LeaseText(const std::string& owner, absl::Duration ttl) const {
  return absl::StrCat(owner, " ", absl::ToUnixMillis(clock_() + ttl), "\n");
}

std::string OperationStore::ThisProcessOwner() { return absl::StrCat(HostName(), ":", getpid()); }

absl::StatusOr<std::unique_ptr<OperationStore>> OperationStore::Open(const std::string& root,
                                                                     Clock clock) {
  const std::string dir = root + "/operations";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  return std::unique_ptr<OperationStore>(new OperationStore(dir, std::move(clock)));
}

absl::StatusOr<Operation> OperationStore::Create(const v1::CreateTrainingJobRequest& request,
                                                 const v1::TrainingJobMetadata& metadata) {
  const std::string id = absl::StrFormat("%013d-%s", absl::ToUnixMillis(absl::Now()), RandomHex(4));
  const std::string tmp = absl::StrCat(dir_, "/.tmp-", id);
  std::error_code ec;
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", tmp, ": ", ec.message()));
  Operation op;
  op.set_name(kOperationPrefix + id);
  SetMetadata(metadata, &op);
  absl::Status s = WriteProto(tmp + "/" + kRequestFile, request);
  if (s.ok()) s = WriteProto(tmp + "/" + kOperationFile, op);
  if (s.ok() && std::rename(tmp.c_str(), Dir(id).c_str()) != 0) {
    s = absl::InternalError(absl::StrCat("cannot commit operation ", id));
  }
  if (!s.ok()) {
    fs::remove_all(tmp, ec);
    return s;
  }
  return op;
}

bool OperationStore::IsOperationId(absl::string_view id) {
  return !id.empty() && id.size() <= 64 &&
         id.find_first_not_of("0123456789abcdef-") == absl::string_view::npos;
}

absl::StatusOr<std::string> OperationStore::IdFromName(const std::string& name) const {
  absl::string_view id = name;
  if (!absl::ConsumePrefix(&id, kOperationPrefix) || !IsOperationId(id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", ClientText(name), "' is not an operation name (operations/<id>, as CreateTrainingJob ",
        "returned it)"));
  }
  std::error_code ec;
  if (!fs::exists(Dir(std::string(id)) + "/" + kOperationFile, ec)) {
    return absl::NotFoundError(absl::StrCat("no operation ", name));
  }
  return std::string(id);
}

absl::StatusOr<Operation> OperationStore::Get(const std::string& id) const {
  Operation op;
  if (absl::Status s = ReadProto(Dir(id) + "/" + kOperationFile, &op); !s.ok()) return s;
  return op;
}

absl::StatusOr<v1::CreateTrainingJobRequest> OperationStore::GetRequest(
    const std::string& id) const {
  v1::CreateTrainingJobRequest r;
  if (absl::Status s = ReadProto(Dir(id) + "/" + kRequestFile, &r); !s.ok()) return s;
  return r;
}

std::vector<std::string> OperationStore::ListIds() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string id = e.path().filename().string();
    if (!id.empty() && id[0] != '.' && fs::exists(e.path() / kOperationFile)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::Status OperationStore::Write(const std::string& id, const Operation& op) {
  return WriteProto(Dir(id) + "/" + kOperationFile, op);
}

absl::Status OperationStore::Delete(const std::string& id) {
  const std::string doomed = absl::StrCat(dir_, "/.deleted-", id, "-", RandomHex(4));
  if (std::rename(Dir(id).c_str(), doomed.c_str()) != 0) {
    return absl::NotFoundError(absl::StrCat("no operation ", id));
  }
  std::error_code ec;
  fs::remove_all(doomed, ec);
  return absl::OkStatus();
}

absl::Status OperationStore::RequestCancel(const std::string& id) {
  return WriteFileAtomically(Dir(id) + "/" + kCancelFile, "");
}

bool OperationStore::CancelRequested(const std::string& id) const {
  return fs::exists(Dir(id) + "/" + kCancelFile);
}

absl::StatusOr<bool> OperationStore::TryClaim(const std::string& id, const std::string& owner,
                                              absl::Duration ttl) {
  const std::string path = Dir(id) + "/" + kLeaseFile;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) {
      const std::string text = LeaseText(owner, ttl);
      const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      close(fd);
      if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
      return true;
    }
    if (errno != EEXIST) return absl::InternalError(absl::StrCat("cannot create ", path));
    auto lease = ReadLease(path);
    if (!lease.ok()) continue;  // released meanwhile: try to create it again
    if (lease->owner == owner) return Renew(id, owner, ttl).ok();
    if (!IsVoid(lease->expiry, lease->owner)) return false;
    // Move the void lease aside; of several takers only one rename
    // succeeds, and O_EXCL above decides between it and newcomers.
    const std::string stale = absl::StrCat(path, ".void-", RandomHex(4));
    if (std::rename(path.c_str(), stale.c_str()) == 0) std::remove(stale.c_str());
  }
  return false;
}

absl::Status OperationStore::Renew(const std::string& id, const std::string& owner,
                                   absl::Duration ttl) {
  const std::string path = Dir(id) + "/" + kLeaseFile;
  auto lease = ReadLease(path);
  if (!lease.ok() || lease->owner != owner) {
    return absl::AbortedError(absl::StrCat("lease of operation ", id, " lost by ", owner));
  }
  return WriteFileAtomically(path, LeaseText(owner, ttl));
}

absl::Status OperationStore::Release(const std::string& id, const std::string& owner) {
  const std::string path = Dir(id) + "/" + kLeaseFile;
  auto lease = ReadLease(path);
  if (!lease.ok() || lease->owner != owner) return absl::OkStatus();
  if (std::remove(path.c_str()) != 0 && errno != ENOENT)
    return absl::InternalError(
        absl::StrCat("cannot remove the lease of operation ", id, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

std::string OperationStore::LeaseHolder(const std::string& id) const {
  auto lease = ReadLease(Dir(id) + "/" + kLeaseFile);
  if (!lease.ok() || IsVoid(lease->expiry, lease->owner)) return "";
  return lease->owner;
}

std::string OperationStore::CheckpointDir(const std::string& id) const {
  return Dir(id) + "/checkpoint";
}

void SetMetadata(const v1::TrainingJobMetadata& metadata, Operation* op) {
  op->mutable_metadata()->PackFrom(metadata);
}

v1::TrainingJobMetadata GetMetadata(const Operation& op) {
  v1::TrainingJobMetadata m;
  op.metadata().UnpackTo(&m);
  return m;
}

}  // namespace v2p::store
