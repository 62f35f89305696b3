#include "core/base/files.h"
#include "core/pipeline/model_repository.h"

#include <filesystem>

#include "core/data/image.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {
namespace fs = std::filesystem;

TEST(ModelName, RejectsNamesThatEscapeTheRepository) {
  for (const char* bad :
       {"", "..", ".hidden", "../etc", "a/b", "-rf", "a b", "x\\y"}) {
    EXPECT_EQ(ValidateModelName(bad).code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  for (const char* good : {"digit69_ridge", "m1", "v1.2-b"})
    EXPECT_TRUE(ValidateModelName(good).ok());
}

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("repo");
    repo_ = *ModelRepository::Open({root_, true});
  }
  void TearDown() override { fs::remove_all(root_); }
  absl::Status WriteManifestStub(const std::string& dir) {
    return WriteFile(dir + "/manifest.txt", "format_version: 1\n");
  }
  std::string root_;
  std::unique_ptr<ModelRepository> repo_;
};

TEST_F(RepositoryTest, CommitsIncreasingVersions) {
  auto writer = [&](const std::string& dir) { return WriteManifestStub(dir); };
  EXPECT_EQ(*repo_->CommitVersion("m", writer), 1);
  EXPECT_EQ(*repo_->CommitVersion("m", writer), 2);
  EXPECT_EQ(*repo_->ListVersions("m"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(*repo_->ResolveVersion("m", 0), 2);
  EXPECT_EQ(*repo_->ResolveVersion("m", 1), 1);
  EXPECT_EQ(repo_->ListModels(), std::vector<std::string>{"m"});
}

TEST_F(RepositoryTest, FailedWriteLeavesNothingBehind) {
  auto s = repo_->CommitVersion("m", [&](const std::string& dir) {
    (void)WriteManifestStub(dir);
    return absl::InternalError("disk full");
  });
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(repo_->ListVersions("m").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs::is_empty(root_ + "/models/m"));
}

TEST_F(RepositoryTest, NotFoundNamesWhatExists) {
  ASSERT_TRUE(repo_
                  ->CommitVersion("present",
                                  [&](const std::string& d) {
                                    return WriteManifestStub(d);
                                  })
                  .ok());
  auto missing = repo_->ResolveVersion("absent", 0);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("present"), std::string::npos);
  auto bad_version = repo_->ResolveVersion("present", 7);
  EXPECT_EQ(bad_version.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(repo_->ResolveVersion("../present", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RepositoryTest, NotFoundInAnEmptyRepositorySaysItHoldsNone) {
  auto missing = repo_->ResolveVersion("absent", 0);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("holds no models"), std::string::npos)
      << missing.status().message();
}

TEST(Repository, OpenFailsForMissingRootUnlessCreating) {
  EXPECT_EQ(
      ModelRepository::Open({"/nonexistent/v2p-repo", false}).status().code(),
      absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace v2p::core
