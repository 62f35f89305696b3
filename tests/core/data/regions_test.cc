#include "core/data/regions.h"

#include <algorithm>
#include <set>

#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

// 69dataset2.mat ships 13 regions: the primary mask (the 3092 voxels of
// the betas) and V1-V3 dorsal and ventral per hemisphere.
TEST(Regions, Digit69MasksMapOntoTheColumnsOfTheBetas) {
  auto regions = ReadRegionsOfInterest(testing::DataDir() + "/digit69/69dataset2.mat",
                                       "region_of_interest_label", "region_of_interest_mask");
  ASSERT_TRUE(regions.ok()) << regions.status();
  ASSERT_EQ(regions->size(), 13u);
  EXPECT_EQ((*regions)[0].name, "primary.nii");
  ASSERT_EQ((*regions)[0].columns.size(), 3092u);
  EXPECT_EQ((*regions)[0].columns.front(), 0);
  EXPECT_EQ((*regions)[0].columns.back(), 3091);
  const std::vector<int> v1 = RegionColumns(*regions, {"V1"});
  const std::vector<int> v23 = RegionColumns(*regions, {"V2", "V3"});
  EXPECT_GT(v1.size(), 500u);
  EXPECT_GT(v23.size(), 300u);
  for (const auto* set : {&v1, &v23}) {
    EXPECT_TRUE(std::is_sorted(set->begin(), set->end()));
    EXPECT_GE(set->front(), 0);
    EXPECT_LT(set->back(), 3092);
  }
  // Each named region's columns are inside the primary's.
  for (const auto& r : *regions) EXPECT_LE(r.columns.size(), 3092u) << r.name;
  EXPECT_EQ(RegionColumns(*regions, {"primary"}).size(), 0u) << "the primary is never matched";
  EXPECT_EQ(ReadRegionsOfInterest(testing::DataDir() + "/digit69/69dataset2.mat", "X",
                                  "region_of_interest_mask")
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadRegionsOfInterest(testing::DataDir() + "/digit69/69dataset2.mat", "nope",
                                  "region_of_interest_mask")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace v2p::core
