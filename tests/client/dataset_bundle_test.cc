// What `v2p datasets upload` sends (client/dataset_bundle.h): a description
// of one MATLAB or NumPy file goes as it is; one of a lab's several files
// (NIfTI with a mask, BData, PNG folders, .npy) is bundled into one MATLAB
// file that loads, as a worker loads an upload, as the same dataset.
#include "client/dataset_bundle.h"

#include <filesystem>

#include "core/data/dataset.h"
#include "core/data/npy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/spec_files.h"
#include "tests/testing/lab_files.h"
#include "tests/testing/test_paths.h"
#include "workers/dataset_options.h"

namespace v2p::client {
namespace {

using ::testing::HasSubstr;

class DatasetBundle : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("bundle");
    std::filesystem::create_directories(dir_ + "/scratch");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DatasetBundle, OneMatlabFileGoesAsItIs) {
  const std::string path = testing::SourceDir() + "/examples/digit69_dataset.pbtxt";
  auto description = spec::ReadDatasetDescription(path);
  ASSERT_TRUE(description.ok()) << description.status();
  auto upload = PrepareUpload(*description, spec::DescriptionDataRoot(path, ""), dir_ + "/scratch");
  ASSERT_TRUE(upload.ok()) << upload.status();
  EXPECT_FALSE(upload->bundled);
  EXPECT_TRUE(
      std::filesystem::equivalent(upload->path, testing::DataDir() + "/digit69/digit69_28x28.mat"));
  EXPECT_EQ(upload->description.SerializeAsString(), description->SerializeAsString());
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/scratch"));
}

TEST_F(DatasetBundle, ALabsFilesBundleIntoOneFileThatLoadsAsTheSameDataset) {
  auto path = testing::WriteDigit69AsLabFiles(dir_);
  ASSERT_TRUE(path.ok()) << path.status();
  auto description = spec::ReadDatasetDescription(*path);
  ASSERT_TRUE(description.ok()) << description.status();
  const std::string root = spec::DescriptionDataRoot(*path, "");
  auto local = worker::ToDatasetOptions(*description, root);
  ASSERT_TRUE(local.ok()) << local.status();
  auto want = core::LoadDataset(*local);
  ASSERT_TRUE(want.ok()) << want.status();

  auto upload = PrepareUpload(*description, root, dir_ + "/scratch");
  ASSERT_TRUE(upload.ok()) << upload.status();
  EXPECT_TRUE(upload->bundled);
  EXPECT_EQ(upload->num_files, 5);
  EXPECT_EQ(upload->num_variables, 6);
  EXPECT_EQ(upload->description.sources_size(), 0);
  EXPECT_EQ(upload->description.train().betas(), "bold_betas");
  EXPECT_EQ(upload->description.test().labels(), "held_out_Label");
  // As the service would: rules for uploads, then the worker's loading.
  auto stored = worker::ToDatasetOptions(upload->description, dir_ + "/scratch");
  ASSERT_TRUE(stored.ok()) << stored.status();
  stored->uploaded = true;
  auto got = core::LoadDataset(*stored);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->pixel_max, want->pixel_max);
  EXPECT_EQ(got->train.betas, want->train.betas);
  EXPECT_EQ(got->train.stimuli, want->train.stimuli);
  EXPECT_EQ(got->train.labels, want->train.labels);
  EXPECT_EQ(got->test.betas, want->test.betas);
  EXPECT_EQ(got->test.stimuli, want->test.stimuli);
  EXPECT_EQ(got->test.labels, want->test.labels);
}

TEST_F(DatasetBundle, NamesNeverCollideAndMissingFilesAreNamed) {
  auto path = testing::WriteDigit69AsLabFiles(dir_);
  ASSERT_TRUE(path.ok()) << path.status();
  auto description = spec::ReadDatasetDescription(*path);
  ASSERT_TRUE(description.ok());
  // A plain variable already called what "bold:betas" would become.
  ASSERT_TRUE(core::WriteNpyFloat64(dir_ + "/bold_betas.npy", Eigen::MatrixXd::Ones(10, 3)).ok());
  description->set_file("bold_betas.npy");
  description->mutable_test()->set_betas("bold_betas");
  auto upload = PrepareUpload(*description, dir_, dir_ + "/scratch");
  ASSERT_TRUE(upload.ok()) << upload.status();
  EXPECT_EQ(upload->description.test().betas(), "bold_betas");
  EXPECT_EQ(upload->description.train().betas(), "bold_betas_2");

  std::filesystem::remove_all(dir_ + "/stimuli/test");
  auto missing = PrepareUpload(*description, dir_, dir_ + "/scratch");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("stimuli/test"));
}

}  // namespace
}  // namespace v2p::client
