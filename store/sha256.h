// SHA-256 (OpenSSL) of uploads, as lowercase hex.
#ifndef V2P_STORE_SHA256_H_
#define V2P_STORE_SHA256_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace v2p::store {

// Incremental hashing; not thread-safe.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(absl::string_view bytes);
  // The digest of everything passed to Update(); call once.
  std::string HexDigest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string Sha256Hex(absl::string_view bytes);
// NOT_FOUND when the file cannot be read.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

}  // namespace v2p::store

#endif  // V2P_STORE_SHA256_H_
