// Model names claimed by labs (store/owners.h).
#include "store/owners.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::store {
namespace {

class OwnersTest : public ::testing::Test {
 protected:
  void SetUp() override { root_ = testing::MakeTempDir("owners"); }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_;
};

TEST_F(OwnersTest, ANewNameBecomesTheLabsAndStaysClosedToOthers) {
  EXPECT_EQ(ModelOwner(root_, "m"), "");
  ASSERT_TRUE(ClaimModel(root_, "m", "lab-a").ok());
  EXPECT_EQ(ModelOwner(root_, "m"), "lab-a");
  EXPECT_TRUE(ClaimModel(root_, "m", "lab-a").ok());  // its next version
  const absl::Status other = ClaimModel(root_, "m", "lab-b");
  EXPECT_EQ(other.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other.message().find("lab-a"), std::string::npos) << other;
}

TEST_F(OwnersTest, AModelWithoutOwnerIsClosedToEveryLab) {
  std::filesystem::create_directories(root_ + "/models/legacy/1");
  std::ofstream(root_ + "/models/legacy/1/manifest.txt") << "x";
  const absl::Status s = ClaimModel(root_, "legacy", "lab-a");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("admin"), std::string::npos) << s;
}

TEST_F(OwnersTest, BadNamesAreRefused) {
  EXPECT_EQ(ClaimModel(root_, "../x", "lab-a").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ClaimModel(root_, "m", "lab/a").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ModelOwner(root_, "../../etc"), "");
}

TEST_F(OwnersTest, OfLabsRacingForANewNameExactlyOneWins) {
  for (int round = 0; round < 20; ++round) {
    const std::string name = "race" + std::to_string(round);
    std::atomic<int> won{0};
    std::vector<std::thread> labs;
    for (int lab = 0; lab < 4; ++lab) {
      labs.emplace_back([&, lab] {
        if (ClaimModel(root_, name, "lab-" + std::to_string(lab)).ok()) ++won;
      });
    }
    for (auto& t : labs) t.join();
    EXPECT_EQ(won.load(), 1) << name;
    EXPECT_NE(ModelOwner(root_, name), "") << name;
  }
}

}  // namespace
}  // namespace v2p::store
