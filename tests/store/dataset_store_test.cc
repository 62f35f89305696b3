// Uploaded datasets checked against the SHA-256 they were received with.
#include "store/dataset_store.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "store/sha256.h"
#include "tests/testing/test_paths.h"

namespace v2p::store {
namespace {

TEST(DatasetStoreTest, AStoredFileThatChangedIsNamedBeforeItIsUsed) {
  const std::string root = testing::MakeTempDir("datasets");
  auto store = DatasetStore::Open(root);
  ASSERT_TRUE(store.ok()) << store.status();
  auto staging = (*store)->BeginUpload();
  ASSERT_TRUE(staging.ok()) << staging.status();
  const std::string bytes(10000, 'b');
  std::ofstream(staging->absolute + "/" + kDatasetDataFile, std::ios::binary) << bytes;
  voxel2pixel::v1::Dataset record;
  record.set_name("d");
  record.set_sha256(Sha256Hex(bytes));
  ASSERT_TRUE((*store)->Commit(*staging, record).ok());
  EXPECT_TRUE((*store)->GetVerified("d").ok());

  const std::string file = root + "/datasets/d/" + kDatasetDataFile;
  std::ofstream(file, std::ios::binary) << std::string(9999, 'b') << 'x';
  auto damaged = (*store)->GetVerified("d");
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(damaged.status().message().find("datasets/d/data.mat is damaged"), std::string::npos)
      << damaged.status();
  EXPECT_EQ(damaged.status().message().find(root), std::string::npos);
  std::filesystem::remove(file);
  EXPECT_NE((*store)->GetVerified("d").status().message().find("is missing"), std::string::npos);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace v2p::store
