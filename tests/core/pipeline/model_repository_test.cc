#include "core/pipeline/model_repository.h"
#include "core/base/files.h"
#include "core/pipeline/manifest.h"

#include <filesystem>
#include <fstream>

#include "core/data/image.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {
namespace fs = std::filesystem;

TEST(ModelName, RejectsNamesThatEscapeTheRepository) {
  for (const char* bad : {"", "..", ".hidden", "../etc", "a/b", "-rf", "a b", "x\\y"}) {
    EXPECT_EQ(ValidateModelName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
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
  EXPECT_EQ(repo_->ListVersions("m").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs::is_empty(root_ + "/models/m"));
}

TEST_F(RepositoryTest, NotFoundNamesWhatExists) {
  ASSERT_TRUE(
      repo_->CommitVersion("present", [&](const std::string& d) { return WriteManifestStub(d); })
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
  EXPECT_EQ(ModelRepository::Open({"/nonexistent/v2p-repo", false}).status().code(),
            absl::StatusCode::kNotFound);
}

// A penalty chosen by cross-validation survives the manifest exactly (grid,
// errors, choice); a malformed line is DATA_LOSS naming the file.
TEST(Manifest, HyperparametersRoundTripAndMalformedOnesAreRefused) {
  const std::string dir = testing::MakeTempDir("manifest");
  ModelManifest m;
  m.name = "m";
  m.num_voxels = 3;
  m.image = {2, 2, 1};
  m.decoder = "ridge";
  m.generator = "identity";
  m.evaluation.hyperparameters.push_back(
      {"ridge.alpha", 1000, 5, {0.1, 1000, 1e6}, {0.0502614, 0.0490063, 1.0 / 3}});
  ASSERT_TRUE(WriteManifest(dir + "/manifest.txt", m).ok());
  auto read = ReadManifest(dir + "/manifest.txt");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->evaluation.hyperparameters.size(), 1u);
  const auto& h = read->evaluation.hyperparameters[0];
  EXPECT_EQ(h.name, "ridge.alpha");
  EXPECT_EQ(h.chosen, 1000);
  EXPECT_EQ(h.folds, 5);
  EXPECT_EQ(h.grid, m.evaluation.hyperparameters[0].grid);
  EXPECT_EQ(h.error, m.evaluation.hyperparameters[0].error);
  auto text = ReadFile(dir + "/manifest.txt");
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(
      WriteFile(dir + "/bad.txt", *text + "hyperparameter.smr.lambda: chosen x folds 5 grid 1:2\n")
          .ok());
  auto bad = ReadManifest(dir + "/bad.txt");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bad.status().message().find("bad.txt"), std::string::npos) << bad.status();
}

TEST_F(RepositoryTest, AVersionCarriesChecksumsAndADamagedFileIsNamed) {
  auto v = repo_->CommitVersion("m", [&](const std::string& dir) {
    fs::create_directories(dir + "/sub");
    std::ofstream(dir + "/sub/weights.bin") << std::string(5000, 'w');
    return WriteManifestStub(dir);
  });
  ASSERT_TRUE(v.ok()) << v.status();
  const std::string dir = repo_->VersionDir("m", *v);
  std::ifstream listed(dir + "/checksums.txt");
  std::string text((std::istreambuf_iterator<char>(listed)), {});
  EXPECT_NE(text.find("  manifest.txt\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  sub/weights.bin\n"), std::string::npos) << text;
  ASSERT_TRUE(repo_->VerifiedVersionDir("m", *v).ok());

  // One byte changed: named relative to the repository, never absolute.
  std::ofstream(dir + "/sub/weights.bin") << std::string(4999, 'w') << 'x';
  auto damaged = repo_->VerifiedVersionDir("m", *v);
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(damaged.status().message().find("models/m/1/sub/weights.bin is damaged"),
            std::string::npos)
      << damaged.status();
  EXPECT_EQ(damaged.status().message().find(root_), std::string::npos);
  fs::remove(dir + "/sub/weights.bin");
  EXPECT_NE(repo_->VerifiedVersionDir("m", *v).status().message().find("is missing"),
            std::string::npos);
  // A version from before checksums loads unchecked.
  fs::remove(dir + "/checksums.txt");
  EXPECT_TRUE(repo_->VerifiedVersionDir("m", *v).ok());
}
}  // namespace
}  // namespace v2p::core
