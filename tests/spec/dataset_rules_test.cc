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

}  // namespace
}  // namespace v2p::spec
