#include "workers/conversions.h"

#include "gtest/gtest.h"

namespace v2p::worker {
namespace {

namespace v1 = voxel2pixel::v1;

google::protobuf::RepeatedPtrField<v1::Sample> Samples(int n, int voxels) {
  google::protobuf::RepeatedPtrField<v1::Sample> samples;
  for (int i = 0; i < n; ++i) {
    v1::Sample* s = samples.Add();
    s->set_id("s" + std::to_string(i));
    for (int v = 0; v < voxels; ++v) s->add_betas(static_cast<float>(i * 100000 + v));
  }
  return samples;
}

TEST(SamplesToBetas, EverySampleIsItsRowInOrder) {
  // Voxel counts below, at and across the copy's column blocks (digit69's
  // 3092 leaves a partial block).
  for (int voxels : {1, 255, 256, 257, 3092}) {
    for (int n : {1, 3, 16}) {
      auto betas = SamplesToBetas(Samples(n, voxels), voxels, "m");
      ASSERT_TRUE(betas.ok()) << betas.status();
      ASSERT_EQ(betas->rows(), n);
      ASSERT_EQ(betas->cols(), voxels);
      for (int i = 0; i < n; ++i) {
        for (int v = 0; v < voxels; ++v) {
          ASSERT_EQ((*betas)(i, v), static_cast<float>(i * 100000 + v))
              << voxels << " voxels, " << n << " samples: row " << i << ", column " << v;
        }
      }
    }
  }
}

TEST(SamplesToBetas, RefusesAnEmptyBatchAndAWrongVoxelCountNamingTheSample) {
  EXPECT_EQ(SamplesToBetas({}, 10, "m").status().code(), absl::StatusCode::kInvalidArgument);
  auto samples = Samples(3, 10);
  samples.Mutable(2)->add_betas(1);
  const absl::Status s = SamplesToBetas(samples, 10, "m").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("sample 's2' (index 2)"), std::string::npos) << s;
  EXPECT_NE(s.message().find("expects 10 betas, received 11"), std::string::npos) << s;
}

}  // namespace
}  // namespace v2p::worker
