// Who may call what, when the gateway requires tokens (--auth_tokens).
//
// Each lab holds bearer tokens; the server keeps only their SHA-256, one
// per line of the tokens file:
//   # sha256(token)                                                  lab    roles
//   9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 lab-a  reconstruct,train
// Roles: `reconstruct` (Reconstruct, StreamReconstruct,
// ReconstructWithProgress, ListModels, GetModel, LoadModel), `train` (datasets, training jobs,
// operations, UnloadModel of the lab's own models) and `admin` (everything, every lab's resources).
// The file is re-read when it changes (checked at most once a second); a file that no longer parses
// is reported on stderr and the previous tokens stay in force. Tokens are never logged or echoed.
//
// One interceptor judges every call from its method and its
// `authorization: Bearer <token>` header before the handler runs;
// handlers ask for the verdict with CallerOf(), which holds the refusal
// (UNAUTHENTICATED: no or an unknown token; PERMISSION_DENIED: a role the
// token lacks). Health checks need no token; reflection needs none unless
// turned off. A method missing from the table is refused (fail closed).
#ifndef V2P_SERVER_AUTH_H_
#define V2P_SERVER_AUTH_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace v2p::server {

enum Role : uint32_t { kReconstruct = 1, kTrain = 2, kAdmin = 4 };

// The lab behind a call. With tokens off every call is an anonymous admin.
struct Caller {
  std::string lab;  // "" when tokens are off
  uint32_t roles = 0;
  bool admin() const { return (roles & kAdmin) != 0; }
  // Whether the caller may change a resource `owner` holds ("" = no lab).
  bool Owns(const std::string& owner) const { return admin() || (!lab.empty() && owner == lab); }
  // Whether the caller may see and train on a dataset `owner` holds: its
  // own, or one no lab holds (uploaded before tokens).
  bool MayUseDataset(const std::string& owner) const { return owner.empty() || Owns(owner); }
};

// PERMISSION_DENIED "<what> belongs to lab '<owner>'" unless caller.Owns(owner).
absl::Status CheckOwner(const Caller& caller, const std::string& owner, const std::string& what);
// The same for seeing or training on dataset `name`: unless
// caller.MayUseDataset(owner).
absl::Status CheckDatasetUse(const Caller& caller, const std::string& owner,
                             const std::string& name);

// A parsed tokens file: SHA-256 (hex) of each token → its lab and roles.
// INVALID_ARGUMENT naming the first bad line (never its hash).
absl::StatusOr<absl::flat_hash_map<std::string, Caller>> ParseTokens(absl::string_view text);

class Authorizer {
 public:
  struct Options {
    std::string tokens_file;
    // Whether grpc.reflection needs no token (otherwise: admin only).
    bool open_reflection = true;
    absl::Duration reload_check = absl::Seconds(1);
  };
  // FAILED_PRECONDITION when the file is missing or does not parse.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Open(Options options);

  // Installs the judge on every call (add it to ServeOptions::interceptors).
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // The verdict on the call `context` serves.
  absl::StatusOr<Caller> CallerOf(const grpc::ServerContextBase* context) const;

  // The verdict on a call of `method` ("/pkg.Service/Method") whose
  // authorization header is `authorization` ("" when absent).
  absl::StatusOr<Caller> Judge(absl::string_view method, absl::string_view authorization);

 private:
  friend class JudgeInterceptor;
  explicit Authorizer(Options options) : options_(std::move(options)) {}
  absl::Status Reload();  // re-reads the file when its stamp changed
  void Record(const grpc::ServerContextBase* context, absl::StatusOr<Caller> verdict);
  void Forget(const grpc::ServerContextBase* context);

  const Options options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Caller> tokens_ ABSL_GUARDED_BY(mu_);
  std::string stamp_ ABSL_GUARDED_BY(mu_);  // mtime, size and inode last read
  absl::Time next_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  mutable absl::Mutex verdicts_mu_;
  absl::flat_hash_map<const grpc::ServerContextBase*, absl::StatusOr<Caller>> verdicts_
      ABSL_GUARDED_BY(verdicts_mu_);
};

// What a handler calls: the caller as judged by `auth`, or an anonymous
// admin when `auth` is null (tokens off).
absl::StatusOr<Caller> Identify(const Authorizer* auth, const grpc::ServerContextBase* context);

}  // namespace v2p::server

#endif  // V2P_SERVER_AUTH_H_
