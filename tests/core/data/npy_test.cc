#include "core/data/npy.h"

#include <filesystem>

#include "core/data/zip_reader.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

TEST(Npy, RoundTripsFloat32AndFloat64) {
  const std::string dir = testing::MakeTempDir("npy");
  Eigen::MatrixXf f(2, 3);
  f << 1, 2, 3, 4, 5, 6.5f;
  ASSERT_TRUE(WriteNpyFloat32(dir + "/f.npy", f).ok());
  auto a = ReadNpy(dir + "/f.npy");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->values, (std::vector<double>{1, 2, 3, 4, 5, 6.5}));
  Eigen::MatrixXd d = Eigen::MatrixXd::Random(3, 4);
  ASSERT_TRUE(WriteNpyFloat64(dir + "/d.npy", d).ok());
  auto b = ReadNpy(dir + "/d.npy");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b->AsMatrix(), d);
  std::filesystem::remove_all(dir);
}

TEST(Npy, ParsesFortranOrder) {
  std::string header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header.push_back('\n');
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size()));
  bytes.push_back(0);
  bytes += header;
  // Column-major payload of [[1,2,3],[4,5,6]].
  for (double v : {1.0, 4.0, 2.0, 5.0, 3.0, 6.0}) bytes.append(reinterpret_cast<char*>(&v), 8);
  auto a = ParseNpy(bytes);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(Npy, RejectsTruncatedAndForeignData) {
  EXPECT_EQ(ParseNpy("not numpy").status().code(), absl::StatusCode::kDataLoss);
  const std::string dir = testing::MakeTempDir("npy");
  ASSERT_TRUE(WriteNpyFloat64(dir + "/d.npy", Eigen::MatrixXd::Ones(4, 4)).ok());
  std::filesystem::resize_file(dir + "/d.npy", 100);
  EXPECT_EQ(ReadNpy(dir + "/d.npy").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadNpy(dir + "/missing.npy").status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

// Found by fuzz_npy (UBSan: signed overflow): a shape whose element count
// overflows int64 must be refused, not wrapped into a small count.
TEST(Npy, RefusesAShapeWhoseSizeOverflows) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3333333333333333333), }";
  header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xFF);
  bytes += static_cast<char>(header.size() >> 8);
  bytes += header + std::string(64, '\0');
  auto parsed = ParseNpy(bytes);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(parsed.status().message().find("too large"), std::string::npos) << parsed.status();
}

TEST(Npz, ReadsDeflatedNumpyArchive) {
  auto arrays = ReadNpz(testing::DataDir() + "/fastl2lir_vectors/testdata_basic.npz");
  ASSERT_TRUE(arrays.ok()) << arrays.status();
  EXPECT_EQ(arrays->at("x_tr").shape, (std::vector<int64_t>{100, 50}));
  EXPECT_EQ(arrays->at("y_2d").shape, (std::vector<int64_t>{100, 10, 10}));
}

TEST(Zip, RejectsNonZip) {
  const std::string dir = testing::MakeTempDir("zip");
  ASSERT_TRUE(WriteNpyFloat64(dir + "/d.npy", Eigen::MatrixXd::Ones(2, 2)).ok());
  EXPECT_EQ(ReadZipArchive(dir + "/d.npy").status().code(), absl::StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

// A ZIP holding one deflated member of `csize` bytes that declares `usize`
// bytes uncompressed (the local and central headers only; the payload is
// zeros, not valid deflate data).
std::string ZipDeclaring(uint32_t csize, uint32_t usize) {
  auto u16 = [](std::string* s, uint16_t v) { s->append({char(v & 0xFF), char(v >> 8)}); };
  auto u32 = [&](std::string* s, uint32_t v) {
    u16(s, static_cast<uint16_t>(v & 0xFFFF));
    u16(s, static_cast<uint16_t>(v >> 16));
  };
  const std::string name = "a.npy";
  std::string zip;
  u32(&zip, 0x04034b50);
  u16(&zip, 20), u16(&zip, 0), u16(&zip, 8), u16(&zip, 0), u16(&zip, 0);
  u32(&zip, 0), u32(&zip, csize), u32(&zip, usize);
  u16(&zip, static_cast<uint16_t>(name.size())), u16(&zip, 0);
  zip += name + std::string(csize, '\0');
  const uint32_t central = static_cast<uint32_t>(zip.size());
  u32(&zip, 0x02014b50);
  u16(&zip, 20), u16(&zip, 20), u16(&zip, 0), u16(&zip, 8), u16(&zip, 0), u16(&zip, 0);
  u32(&zip, 0), u32(&zip, csize), u32(&zip, usize);
  u16(&zip, static_cast<uint16_t>(name.size())), u16(&zip, 0), u16(&zip, 0), u16(&zip, 0),
      u16(&zip, 0);
  u32(&zip, 0), u32(&zip, 0);
  zip += name;
  const uint32_t central_size = static_cast<uint32_t>(zip.size()) - central;
  u32(&zip, 0x06054b50);
  u16(&zip, 0), u16(&zip, 0), u16(&zip, 1), u16(&zip, 1);
  u32(&zip, central_size), u32(&zip, central), u16(&zip, 0);
  return zip;
}

TEST(Zip, AMemberDeclaringMoreThanDeflateCanMakeIsRefusedBeforeItIsAllocated) {
  // 4 GB from 16 bytes: refused by its declaration, not by running out of memory.
  auto bomb = ParseZipArchive(ZipDeclaring(16, 0xFFFFFF00u), "bomb.npz");
  EXPECT_EQ(bomb.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bomb.status().message().find("declares 4294967040 bytes from 16"), std::string::npos)
      << bomb.status();
  // Within deflate's ratio the data itself is checked (and is not deflate).
  auto plausible = ParseZipArchive(ZipDeclaring(16, 1000), "plausible.npz");
  EXPECT_EQ(plausible.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(plausible.status().message().find("deflate stream corrupt"), std::string::npos)
      << plausible.status();
}
}  // namespace
}  // namespace v2p::core
