#include "core/base/checksums.h"

#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/base/files.h"

namespace v2p::core {
namespace fs = std::filesystem;

absl::StatusOr<std::string> FileSha256(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::string buf(1 << 20, '\0');
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(f.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&hex, "%02x", digest[i]);
  return hex;
}

absl::Status WriteChecksums(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    const std::string relative = fs::relative(e.path(), dir).string();
    if (relative != kChecksumsFile) files.push_back(relative);
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  std::string text;
  for (const std::string& f : files) {
    auto sum = FileSha256(dir + "/" + f);
    if (!sum.ok()) return sum.status();
    absl::StrAppend(&text, *sum, "  ", f, "\n");
  }
  return WriteFile(dir + "/" + kChecksumsFile, text);
}

absl::Status VerifyChecksums(const std::string& dir, const std::string& shown) {
  const std::string list = dir + "/" + kChecksumsFile;
  if (!fs::exists(list)) return absl::OkStatus();
  auto text = ReadFile(list);
  if (!text.ok()) return text.status();
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    ++line_number;
    const size_t gap = line.find("  ");
    const std::string relative(gap == absl::string_view::npos ? "" : line.substr(gap + 2));
    if (gap != 64 || relative.empty() || relative.find("..") != std::string::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat(shown, "/", kChecksumsFile, " line ", line_number, " is malformed"));
    }
    auto sum = FileSha256(dir + "/" + relative);
    if (!sum.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(shown, "/", relative, " is missing (", kChecksumsFile, " lists it)"));
    }
    if (*sum != line.substr(0, 64)) {
      return absl::FailedPreconditionError(
          absl::StrCat(shown, "/", relative, " is damaged: its SHA-256 is ", sum->substr(0, 12),
                       "…, ", kChecksumsFile, " records ", line.substr(0, 12), "…"));
    }
  }
  return absl::OkStatus();
}

}  // namespace v2p::core
