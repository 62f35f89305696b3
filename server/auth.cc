#include "server/auth.h"

#include <sys/stat.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "store/files.h"
#include "store/names.h"
#include "store/sha256.h"

namespace v2p::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

// The role each method needs. Open methods (health, reflection) are
// handled before the table; anything else not named here is refused.
uint32_t RoleOf(absl::string_view method) {
  static const auto* table = new absl::flat_hash_map<std::string, uint32_t>{
      {"/voxel2pixel.v1.Reconstruction/Reconstruct", kReconstruct},
      {"/voxel2pixel.v1.Reconstruction/StreamReconstruct", kReconstruct},
      {"/voxel2pixel.v1.Reconstruction/ReconstructWithProgress", kReconstruct},
      {"/voxel2pixel.v1.Models/ListModels", kReconstruct},
      {"/voxel2pixel.v1.Models/GetModel", kReconstruct},
      {"/voxel2pixel.v1.Models/LoadModel", kReconstruct},
      {"/voxel2pixel.v1.Models/UnloadModel", kTrain},
      {"/voxel2pixel.v1.Datasets/UploadDataset", kTrain},
      {"/voxel2pixel.v1.Datasets/ListDatasets", kTrain},
      {"/voxel2pixel.v1.Datasets/GetDataset", kTrain},
      {"/voxel2pixel.v1.Datasets/DeleteDataset", kTrain},
      {"/voxel2pixel.v1.Training/CreateTrainingJob", kTrain},
      {"/google.longrunning.Operations/ListOperations", kTrain},
      {"/google.longrunning.Operations/GetOperation", kTrain},
      {"/google.longrunning.Operations/DeleteOperation", kTrain},
      {"/google.longrunning.Operations/CancelOperation", kTrain},
      {"/google.longrunning.Operations/WaitOperation", kTrain},
  };
  auto it = table->find(method);
  return it == table->end() ? kAdmin : it->second;
}

const char* RoleName(uint32_t role) {
  switch (role) {
    case kReconstruct:
      return "reconstruct";
    case kTrain:
      return "train";
    default:
      return "admin";
  }
}

absl::string_view MethodName(absl::string_view method) {
  const size_t slash = method.rfind('/');
  return slash == absl::string_view::npos ? method : method.substr(slash + 1);
}

absl::StatusOr<uint32_t> ParseRoles(absl::string_view text) {
  uint32_t roles = 0;
  for (absl::string_view r : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    if (r == "reconstruct") {
      roles |= kReconstruct;
    } else if (r == "train") {
      roles |= kTrain;
    } else if (r == "admin") {
      roles |= kAdmin | kTrain | kReconstruct;
    } else {
      return absl::InvalidArgumentError("roles are reconstruct, train and admin");
    }
  }
  if (roles == 0) return absl::InvalidArgumentError("no role");
  return roles;
}

bool IsHexDigest(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  return true;
}

std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_size, ":", st.st_ino);
}

}  // namespace

// Judges a call once its headers arrive, which is before its handler runs.
class JudgeInterceptor final : public grpc::experimental::Interceptor {
 public:
  JudgeInterceptor(Authorizer* auth, grpc::experimental::ServerRpcInfo* info)
      : auth_(auth), context_(info->server_context()), method_(info->method()) {}
  ~JudgeInterceptor() override { auth_->Forget(context_); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      absl::string_view authorization;
      const auto* metadata = methods->GetRecvInitialMetadata();
      if (metadata != nullptr) {
        auto it = metadata->find("authorization");
        if (it != metadata->end()) authorization = {it->second.data(), it->second.size()};
      }
      auth_->Record(context_, auth_->Judge(method_, authorization));
    }
    methods->Proceed();
  }

 private:
  Authorizer* const auth_;
  const grpc::ServerContextBase* const context_;
  const std::string method_;
};

namespace {

class JudgeFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit JudgeFactory(Authorizer* auth) : auth_(auth) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new JudgeInterceptor(auth_, info);
  }

 private:
  Authorizer* const auth_;
};

}  // namespace

absl::Status CheckOwner(const Caller& caller, const std::string& owner, const std::string& what) {
  if (caller.Owns(owner)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      owner.empty() ? absl::StrCat(what, " belongs to no lab; only an admin may change it")
                    : absl::StrCat(what, " belongs to lab '", owner, "'"));
}

absl::Status CheckDatasetUse(const Caller& caller, const std::string& owner,
                             const std::string& name) {
  if (caller.MayUseDataset(owner)) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("dataset '", name, "' belongs to lab '", owner, "'"));
}

absl::StatusOr<absl::flat_hash_map<std::string, Caller>> ParseTokens(absl::string_view text) {
  absl::flat_hash_map<std::string, Caller> tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens file line ", line_number, ": ", why,
                       " (expected: <sha256 of the token, 64 hex digits> <lab> <roles>)"));
    };
    if (fields.size() != 3) return bad("not three fields");
    if (!IsHexDigest(fields[0])) return bad("the first field is not a lowercase SHA-256 in hex");
    Caller caller;
    caller.lab = std::string(fields[1]);
    if (!store::ValidateName(caller.lab, "lab name").ok())
      return bad("the lab name is not 1-64 characters of [A-Za-z0-9_.-]");
    auto roles = ParseRoles(fields[2]);
    if (!roles.ok()) return bad(roles.status().message());
    caller.roles = *roles;
    if (!tokens.emplace(std::string(fields[0]), std::move(caller)).second)
      return bad("the same token hash appears twice");
  }
  return tokens;
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Open(Options options) {
  std::unique_ptr<Authorizer> auth(new Authorizer(std::move(options)));
  absl::MutexLock lock(&auth->mu_);
  if (absl::Status s = auth->Reload(); !s.ok())
    return absl::FailedPreconditionError(absl::StrCat("--auth_tokens: ", s.message()));
  return auth;
}

absl::Status Authorizer::Reload() {
  const std::string stamp = FileStamp(options_.tokens_file);
  if (!stamp.empty() && stamp == stamp_) return absl::OkStatus();
  auto text = store::ReadWholeFile(options_.tokens_file);
  if (!text.ok()) return absl::NotFoundError(absl::StrCat(options_.tokens_file, " cannot be read"));
  auto tokens = ParseTokens(*text);
  if (!tokens.ok())
    return absl::InvalidArgumentError(
        absl::StrCat(options_.tokens_file, ": ", tokens.status().message()));
  tokens_ = *std::move(tokens);
  stamp_ = stamp;
  return absl::OkStatus();
}

absl::StatusOr<Caller> Authorizer::Judge(absl::string_view method,
                                         absl::string_view authorization) {
  if (absl::StartsWith(method, "/grpc.health.v1.Health/")) return Caller{};
  const bool reflection = absl::StartsWith(method, "/grpc.reflection.");
  if (reflection && options_.open_reflection) return Caller{};
  // RFC 6750: "Bearer" is a case-insensitive scheme name.
  absl::string_view token = authorization;
  if (token.size() < 7 || !absl::EqualsIgnoreCase(token.substr(0, 7), "bearer ")) {
    return absl::UnauthenticatedError(
        authorization.empty()
            ? "this server requires a token: send the header 'authorization: Bearer <token>' "
              "(v2p reads it from V2P_TOKEN)"
            : "the authorization header is not 'Bearer <token>'");
  }
  token.remove_prefix(7);
  const std::string hash = store::Sha256Hex(absl::StripAsciiWhitespace(token));
  Caller caller;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Now() >= next_check_) {
      next_check_ = absl::Now() + options_.reload_check;
      if (absl::Status s = Reload(); !s.ok())
        std::fprintf(stderr, "v2p-server: keeping the previous tokens: %s\n",
                     std::string(s.message()).c_str());
    }
    auto it = tokens_.find(hash);
    if (it == tokens_.end())
      return absl::UnauthenticatedError("the token is not known to this server");
    caller = it->second;
  }
  const uint32_t needed = reflection ? kAdmin : RoleOf(method);
  if ((caller.roles & needed) == 0) {
    return absl::PermissionDeniedError(absl::StrCat("lab '", caller.lab, "' lacks the '",
                                                    RoleName(needed), "' role that ",
                                                    MethodName(method), " needs"));
  }
  return caller;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Authorizer::InterceptorFactory() {
  return std::make_unique<JudgeFactory>(this);
}

void Authorizer::Record(const grpc::ServerContextBase* context, absl::StatusOr<Caller> verdict) {
  absl::MutexLock lock(&verdicts_mu_);
  verdicts_.insert_or_assign(context, std::move(verdict));
}

void Authorizer::Forget(const grpc::ServerContextBase* context) {
  absl::MutexLock lock(&verdicts_mu_);
  verdicts_.erase(context);
}

absl::StatusOr<Caller> Authorizer::CallerOf(const grpc::ServerContextBase* context) const {
  absl::MutexLock lock(&verdicts_mu_);
  auto it = verdicts_.find(context);
  if (it == verdicts_.end()) return absl::InternalError("the call was not authorized");
  return it->second;
}

absl::StatusOr<Caller> Identify(const Authorizer* auth, const grpc::ServerContextBase* context) {
  if (auth == nullptr) return Caller{"", kReconstruct | kTrain | kAdmin};
  return auth->CallerOf(context);
}

}  // namespace v2p::server
