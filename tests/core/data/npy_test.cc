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

}  // namespace
}  // namespace v2p::core
