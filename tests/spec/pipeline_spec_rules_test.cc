#include "spec/pipeline_spec_rules.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::spec {
namespace {

namespace v1 = voxel2pixel::v1;
using ::testing::HasSubstr;

v1::PipelineSpec Parse(const std::string& text) {
  v1::PipelineSpec spec;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &spec)) << text;
  return spec;
}

constexpr char kPixels[] =
    "target: TARGET_SPACE_PIXELS decoder { ridge { alpha: 1000 } } generator { identity {} }";

TEST(PipelineSpecRules, TheShippedKindsOfSpecPass) {
  EXPECT_TRUE(ValidatePipelineSpec(Parse(kPixels)).ok());
  EXPECT_TRUE(ValidatePipelineSpec(Parse("target: TARGET_SPACE_PIXELS decoder { ridge {} } "
                                         "generator { identity {} }"))
                  .ok());
  EXPECT_TRUE(ValidatePipelineSpec(Parse("target: TARGET_SPACE_FEATURES decoder { smr { variant: "
                                         "\"sparse-SMR-IT\" } } features { network: \"n\" "
                                         "layers: \"fc6\" } generator { train { kind: \"CVAE\" "
                                         "} }"))
                  .ok());
  EXPECT_TRUE(ValidatePipelineSpec(Parse("method { name: \"nearest_stimulus\" }")).ok());
}

TEST(PipelineSpecRules, NumbersThatAreNotFiniteOrInRangeAreRefused) {
  for (const char* alpha : {"-1", "nan", "inf", "-inf"}) {
    const auto s = ValidatePipelineSpec(
        Parse(absl::StrCat("target: TARGET_SPACE_PIXELS decoder { ridge { alpha: ", alpha,
                           " } } generator { identity {} }")));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << alpha;
    EXPECT_THAT(s.message(), HasSubstr("ridge alpha (finite)")) << alpha;
  }
  const auto lambda = ValidatePipelineSpec(Parse(
      "target: TARGET_SPACE_FEATURES decoder { smr { lambda: nan } } features { network: \"n\" "
      "layers: \"fc6\" }"));
  EXPECT_THAT(lambda.message(), HasSubstr("smr lambda"));
  const auto grid = ValidatePipelineSpec(
      Parse("target: TARGET_SPACE_PIXELS decoder { ridge { alpha_grid: [1, inf] } } generator { "
            "identity {} }"));
  EXPECT_THAT(grid.message(), HasSubstr("alpha_grid"));
  const auto components = ValidatePipelineSpec(
      Parse(absl::StrCat(kPixels, " pixel_components { explained_variance: 1.5 }")));
  EXPECT_THAT(components.message(), HasSubstr("explained_variance"));
}

TEST(PipelineSpecRules, KindsAndVariantsThatDoNotExistAreNamed) {
  const auto kind = ValidatePipelineSpec(
      Parse("target: TARGET_SPACE_FEATURES decoder { ridge {} } features { network: \"n\" layers: "
            "\"fc6\" } generator { train { kind: \"VQGAN\" } }"));
  EXPECT_EQ(kind.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(kind.message(), HasSubstr("'VQGAN' is not ICG, CVAE, CGAN or DeCNN"));
  const auto variant = ValidatePipelineSpec(Parse(
      "target: TARGET_SPACE_FEATURES decoder { smr { variant: \"SMR-X\" } } features { network: "
      "\"n\" layers: \"fc6\" }"));
  EXPECT_THAT(variant.message(), HasSubstr("unknown SMR variant 'SMR-X'"));
  const auto smr = ValidatePipelineSpec(Parse("decoder { smr {} }"));
  EXPECT_THAT(smr.message(), HasSubstr("smr decoder decodes features"));
  const auto both = ValidatePipelineSpec(Parse(absl::StrCat(kPixels, " method { name: \"m\" }")));
  EXPECT_THAT(both.message(), HasSubstr("method { ... } names the whole pipeline"));
  const auto traversal = ValidatePipelineSpec(Parse(
      "target: TARGET_SPACE_FEATURES decoder { ridge {} } features { network: \"../x\" layers: "
      "\"fc6\" }"));
  EXPECT_THAT(traversal.message(), HasSubstr("invalid feature network name '../x'"));
  const auto long_name = ValidatePipelineSpec(
      Parse(absl::StrCat("method { name: \"", std::string(5000, 'a'), "\" }")));
  EXPECT_EQ(long_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(long_name.message().size(), 300u);
}

TEST(PipelineSpecRules, DatasetAndStoredNetworkAreChecked) {
  const v1::PipelineSpec voxels = Parse(absl::StrCat(kPixels, " num_voxels: 1000"));
  EXPECT_THAT(ValidateForDataset(voxels, {"d", 3092, false}).message(),
              HasSubstr("expects 1000 voxels; dataset 'd' has 3092"));
  EXPECT_TRUE(ValidateForDataset(voxels, {"d", 1000, false}).ok());

  const std::string root = testing::MakeTempDir("spec_rules");
  std::filesystem::create_directories(root + "/feature_networks/net/2");
  std::ofstream(root + "/feature_networks/net/2/network.txt")
      << "format: 1\nlayer: conv1 16x28x28\nlayer: fc6 256\n";
  const auto spec = [](const std::string& layer, int version) {
    return Parse(
        absl::StrCat("target: TARGET_SPACE_FEATURES decoder { ridge {} } features { "
                     "network: \"net\" network_version: ",
                     version, " layers: \"", layer, "\" }"));
  };
  EXPECT_TRUE(ValidateStoredParts(spec("fc6", 0), root).ok());
  EXPECT_TRUE(ValidateStoredParts(spec("fc6", 2), root).ok());
  const auto layer = ValidateStoredParts(spec("fc9", 0), root);
  EXPECT_EQ(layer.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(layer.message(), HasSubstr("net/2 has no layer 'fc9' (it has conv1, fc6)"));
  EXPECT_EQ(ValidateStoredParts(spec("fc6", 3), root).code(), absl::StatusCode::kNotFound);
  const auto missing = ValidateStoredParts(
      Parse("target: TARGET_SPACE_FEATURES features { network: \"other\" layers: \"fc6\" }"), root);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace v2p::spec
