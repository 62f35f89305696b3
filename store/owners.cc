#include "store/owners.h"

#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "store/files.h"
#include "store/names.h"

namespace v2p::store {
namespace {

namespace fs = std::filesystem;

std::string ModelDir(const std::string& root, const std::string& name) {
  return absl::StrCat(root, "/models/", name);
}

absl::Status Taken(const std::string& name, const std::string& owner) {
  return absl::PermissionDeniedError(
      owner.empty()
          ? absl::StrCat("model '", name,
                         "' was not trained through this server's tokens; only an "
                         "admin may add versions to it")
          : absl::StrCat("model '", name, "' belongs to lab '", owner, "'; choose another name"));
}

}  // namespace

std::string ModelOwner(const std::string& root, const std::string& name) {
  if (!ValidateName(name, "model name").ok()) return "";
  auto text = ReadWholeFile(ModelDir(root, name) + "/owner");
  if (!text.ok()) return "";
  return std::string(absl::StripAsciiWhitespace(*text));
}

absl::Status ClaimModel(const std::string& root, const std::string& name, const std::string& lab) {
  if (absl::Status s = ValidateName(name, "model name"); !s.ok()) return s;
  if (absl::Status s = ValidateName(lab, "lab name"); !s.ok()) return s;
  const std::string dir = ModelDir(root, name);
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  if (existed) {
    const std::string owner = ModelOwner(root, name);
    if (owner == lab) return absl::OkStatus();
    if (!owner.empty() || !fs::is_empty(dir, ec)) return Taken(name, owner);
  }
  fs::create_directories(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create the directory of model '", name, "'"));
  // Written whole under another name, then link(2)ed: readers never see
  // a half-written owner, and link fails if another lab's job won.
  const std::string path = dir + "/owner";
  const std::string staged = absl::StrCat(path, ".tmp-", RandomHex(8));
  if (!WriteFileAtomically(staged, lab + "\n").ok())
    return absl::InternalError(absl::StrCat("cannot record the owner of model '", name, "'"));
  const int linked = link(staged.c_str(), path.c_str());
  const int link_errno = errno;
  unlink(staged.c_str());
  if (linked != 0) {
    if (link_errno != EEXIST)
      return absl::InternalError(absl::StrCat("cannot record the owner of model '", name, "'"));
    const std::string owner = ModelOwner(root, name);
    if (owner != lab) return Taken(name, owner);
  }
  return absl::OkStatus();
}

}  // namespace v2p::store
