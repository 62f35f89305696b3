// The rules every dataset description keeps (spec/dataset_rules.h), on the
// shipped example and on one mistake at a time.
#include "spec/dataset_rules.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/spec_files.h"
#include "tests/testing/test_paths.h"

namespace v2p::spec {
namespace {

namespace v1 = voxel2pixel::v1;
using ::testing::HasSubstr;

TEST(DatasetRules, TheExamplePassesAndEachMistakeIsNamed) {
  auto example = ReadDatasetDescription(testing::SourceDir() + "/examples/digit69_dataset.pbtxt");
  ASSERT_TRUE(example.ok()) << example.status();
  EXPECT_TRUE(ValidateDatasetDescription(*example).ok());
  const std::vector<std::pair<std::string, std::function<void(v1::DatasetDescription*)>>> cases = {
      {"image.height is -28", [](auto* d) { d->mutable_image()->set_height(-28); }},
      {"image.height is 0", [](auto* d) { d->mutable_image()->set_height(0); }},
      {"image.width is 5000", [](auto* d) { d->mutable_image()->set_width(5000); }},
      {"image.channels is 2", [](auto* d) { d->mutable_image()->set_channels(2); }},
      {"image.layout", [](auto* d) { d->mutable_image()->clear_layout(); }},
      {"image.pixel_max", [](auto* d) { d->mutable_image()->set_pixel_max(-1); }},
      {"train.betas names no variable", [](auto* d) { d->mutable_train()->clear_betas(); }},
      {"train.stimuli '1x'", [](auto* d) { d->mutable_train()->set_stimuli("1x"); }},
      {"test.labels 'a-b'", [](auto* d) { d->mutable_test()->set_labels("a-b"); }},
      {"unpaired_images", [](auto* d) { d->set_unpaired_images(std::string(64, 'u')); }},
      {"citation is 5000 bytes", [](auto* d) { d->set_citation(std::string(5000, 'c')); }},
      {"test_trials.ranges",
       [](auto* d) { d->mutable_test_trials()->set_ranges(std::string(5000, '1')); }},
  };
  for (const auto& [expected, mistake] : cases) {
    v1::DatasetDescription d = *example;
    mistake(&d);
    const absl::Status s = ValidateDatasetDescription(d);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << expected;
    EXPECT_THAT(s.message(), HasSubstr(expected));
    EXPECT_LE(s.message().size(), 300u) << expected;
  }
  // A 63-character MATLAB name is allowed, and channels 3 (RGB).
  v1::DatasetDescription d = *example;
  d.set_unpaired_images("X" + std::string(62, '_'));
  d.mutable_image()->set_channels(3);
  EXPECT_TRUE(ValidateDatasetDescription(d).ok());
}

// Sources: "<source>:<variable>" reads a named file; each mistake named.
TEST(DatasetRules, SourcesAreNamedAndEveryReferenceResolves) {
  v1::DatasetDescription d;
  d.mutable_image()->set_height(28);
  d.mutable_image()->set_width(28);
  d.mutable_image()->set_layout(v1::IMAGE_LAYOUT_ROW_MAJOR);
  (*d.mutable_sources())["bold"].set_path("sub01.nii.gz");
  (*d.mutable_sources())["bold"].set_mask("mask.nii.gz");
  (*d.mutable_sources())["pictures"].set_path("stimuli/");
  d.mutable_train()->set_betas("bold:betas");
  d.mutable_train()->set_stimuli("pictures:images");
  ASSERT_TRUE(ValidateDatasetDescription(d).ok()) << ValidateDatasetDescription(d);
  const absl::Status uploaded = ValidateUploadedDescription(d);
  EXPECT_EQ(uploaded.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(uploaded.message(), HasSubstr("bundles them into one file"));
  const std::vector<std::pair<std::string, std::function<void(v1::DatasetDescription*)>>> cases = {
      {"names source 'rois', which `sources` does not hold",
       [](auto* d) { d->mutable_test()->set_betas("rois:ROI_V1"); }},
      {"nor <source>:<such a name>", [](auto* d) { d->mutable_test()->set_betas("bold:1x"); }},
      {"nor <source>:<such a name>", [](auto* d) { d->mutable_test()->set_betas("a:b:c"); }},
      {"nor <source>:<such a name>", [](auto* d) { d->mutable_test()->set_betas("../x:betas"); }},
      {"'file' is empty", [](auto* d) { d->mutable_train()->set_labels("labelTrn"); }},
      {"source 'x y' is not a name", [](auto* d) { (*d->mutable_sources())["x y"].set_path("f"); }},
      {"source 'empty' has no path", [](auto* d) { (*d->mutable_sources())["empty"]; }},
      {"path over 4096 bytes",
       [](auto* d) { (*d->mutable_sources())["long"].set_path(std::string(5000, 'p')); }},
      {"names 65 sources; at most 64",
       [](auto* d) {
         for (int i = 0; i < 63; ++i)
           (*d->mutable_sources())["s" + std::to_string(i)].set_path("f");
       }},
  };
  for (const auto& [expected, mistake] : cases) {
    v1::DatasetDescription bad = d;
    mistake(&bad);
    const absl::Status s = ValidateDatasetDescription(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << expected;
    EXPECT_THAT(s.message(), HasSubstr(expected));
    EXPECT_LE(s.message().size(), 300u) << expected;
  }
  // An upload needs no `file`: the upload is the file.
  v1::DatasetDescription upload;
  upload.mutable_image()->CopyFrom(d.image());
  upload.mutable_train()->set_betas("fmriTrn");
  EXPECT_FALSE(ValidateDatasetDescription(upload).ok());
  EXPECT_TRUE(ValidateUploadedDescription(upload).ok()) << ValidateUploadedDescription(upload);
  // A plain name is read from `file`, once there is one.
  d.set_file("labels.npz");
  d.mutable_train()->set_labels("labelTrn");
  EXPECT_TRUE(ValidateDatasetDescription(d).ok());
}

}  // namespace
}  // namespace v2p::spec
