#include "core/data/zip_reader.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"

namespace v2p::core {
namespace {

// Little-endian field layouts from PKWARE's APPNOTE.TXT, sections 4.3.7
// (local header), 4.3.12 (central directory) and 4.3.16 (end record).
constexpr uint32_t kEndOfCentralDirSig = 0x06054b50;
constexpr uint32_t kCentralDirSig = 0x02014b50;
constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr size_t kEndRecordSize = 22;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;

uint16_t U16(const std::string& s, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(s[at]) |
                               (static_cast<uint8_t>(s[at + 1]) << 8));
}
uint32_t U32(const std::string& s, size_t at) {
  return static_cast<uint32_t>(U16(s, at)) | (static_cast<uint32_t>(U16(s, at + 2)) << 16);
}

absl::StatusOr<std::string> Inflate(const std::string& in, size_t out_size) {
  std::string out(out_size, '\0');
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  // Negative window bits: raw deflate data, no zlib header (ZIP method 8).
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib inflateInit2 failed");
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  const size_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != out_size) {
    return absl::DataLossError(absl::StrCat("deflate stream corrupt (zlib rc ", rc, ")"));
  }
  return out;
}

// Where the end-of-central-directory record starts: in the last 22 +
// 65535 (comment) bytes.
absl::StatusOr<size_t> FindEndRecord(const std::string& data, const std::string& path) {
  const size_t lowest =
      data.size() > kEndRecordSize + 65535 ? data.size() - kEndRecordSize - 65535 : 0;
  for (size_t at = data.size() - kEndRecordSize + 1; at-- > lowest;) {
    if (U32(data, at) == kEndOfCentralDirSig) return at;
  }
  return absl::DataLossError(absl::StrCat(path, ": no ZIP end-of-central-directory record"));
}

// A member as the central directory describes it.
struct Member {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0, csize = 0, usize = 0, local = 0;
};

// The member's bytes, stored or inflated, checked against its CRC.
absl::StatusOr<std::string> ReadMember(const std::string& data, const Member& m,
                                       const std::string& path) {
  if (m.local + kLocalHeaderSize > data.size() || U32(data, m.local) != kLocalHeaderSig) {
    return absl::DataLossError(absl::StrCat(path, ": bad local header for ", m.name));
  }
  const size_t payload =
      m.local + kLocalHeaderSize + U16(data, m.local + 26) + U16(data, m.local + 28);
  if (payload + m.csize > data.size()) {
    return absl::DataLossError(absl::StrCat(path, ": truncated member ", m.name));
  }
  // Deflate cannot expand more than 1032:1; stored members are as stored.
  const uint64_t most = m.method == 0 ? m.csize : uint64_t{m.csize} * 1032 + 64;
  if (m.usize > most) {
    return absl::DataLossError(absl::StrCat(path, ": ", m.name, " declares ", m.usize,
                                            " bytes from ", m.csize, " compressed"));
  }
  const std::string raw = data.substr(payload, m.csize);
  std::string bytes;
  if (m.method == 0) {
    bytes = raw;
  } else if (m.method == 8) {
    ASSIGN_OR_RETURN(bytes, Inflate(raw, m.usize));
  } else {
    return absl::UnimplementedError(
        absl::StrCat(path, ": ", m.name, " uses compression method ", m.method));
  }
  const uLong actual =
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size()));
  if (actual != m.crc) return absl::DataLossError(absl::StrCat(path, ": CRC mismatch in ", m.name));
  return bytes;
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ReadZipArchive(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string data, ReadFile(path));
  return ParseZipArchive(data, path);
}

absl::StatusOr<std::map<std::string, std::string>> ParseZipArchive(const std::string& data,
                                                                   const std::string& path) {
  if (data.size() < kEndRecordSize) {
    return absl::DataLossError(absl::StrCat(path, ": too short for a ZIP archive"));
  }
  ASSIGN_OR_RETURN(const size_t end, FindEndRecord(data, path));
  const uint16_t entries = U16(data, end + 10);
  const uint32_t cd_offset = U32(data, end + 16);
  if (entries == 0xFFFF || cd_offset == 0xFFFFFFFF) {
    return absl::UnimplementedError(absl::StrCat(path, ": ZIP64 archives are not supported"));
  }
  std::map<std::string, std::string> members;
  size_t at = cd_offset;
  for (uint16_t i = 0; i < entries; ++i) {
    if (at + kCentralHeaderSize > data.size() || U32(data, at) != kCentralDirSig) {
      return absl::DataLossError(absl::StrCat(path, ": corrupt central directory"));
    }
    const uint16_t flags = U16(data, at + 8);
    const uint16_t method = U16(data, at + 10);
    const uint32_t crc = U32(data, at + 16);
    const uint32_t csize = U32(data, at + 20);
    const uint32_t usize = U32(data, at + 24);
    const uint16_t name_len = U16(data, at + 28);
    const uint16_t extra_len = U16(data, at + 30);
    const uint16_t comment_len = U16(data, at + 32);
    const uint32_t local = U32(data, at + 42);
    if (at + kCentralHeaderSize + name_len > data.size()) {
      return absl::DataLossError(absl::StrCat(path, ": truncated central directory"));
    }
    const std::string name = data.substr(at + kCentralHeaderSize, name_len);
    at += kCentralHeaderSize + name_len + extra_len + comment_len;
    if (flags & 0x1) {
      return absl::UnimplementedError(absl::StrCat(path, ": ", name, " is encrypted"));
    }
    if (csize == 0xFFFFFFFF || usize == 0xFFFFFFFF || local == 0xFFFFFFFF) {
      return absl::UnimplementedError(absl::StrCat(path, ": ZIP64 member ", name));
    }
    ASSIGN_OR_RETURN(std::string bytes,
                     ReadMember(data, {name, method, crc, csize, usize, local}, path));
    members[name] = std::move(bytes);
  }
  return members;
}

}  // namespace v2p::core
