// SMR (Du et al. 2020) on real data: digit69 training betas (the 150 voxels
// most correlated with the targets) -> every 8th stimulus pixel (98). The
// alternating optimisation must never increase its objective, for the
// closed-form and the graphical-lasso variants.
#include "core/data/dataset.h"
#include "core/decoding/smr.h"
#include "core/pipeline/trainer.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"

namespace v2p::core {
namespace {

TEST(SmrDigit69, ObjectiveNeverIncreases) {
  auto ds = LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  Eigen::MatrixXd h(ds->train.stimuli.rows(), 98);
  for (int j = 0; j < 98; ++j) h.col(j) = ds->train.stimuli.col(8 * j);
  const std::vector<int> voxels = SelectVoxelsByCorrelation(ds->train.betas, h, 150);
  Eigen::MatrixXd x(ds->train.betas.rows(), voxels.size());
  for (size_t j = 0; j < voxels.size(); ++j) x.col(j) = ds->train.betas.col(voxels[j]);
  for (const char* variant : {"SMR", "sparse-SMR", "SMR-IT"}) {
    SCOPED_TRACE(variant);
    auto o = SmrOptions::Variant(variant, 0.05);
    ASSERT_TRUE(o.ok());
    o->lambda1 = 30;
    o->max_iterations = 4;
    o->glasso_max_iterations = 100;
    o->tolerance = 0;  // run every iteration
    auto solver = SmrSolver::Create(x, h, *o);
    ASSERT_TRUE(solver.ok()) << solver.status();
    ASSERT_TRUE((*solver)->Fit().ok());
    const auto& obj = (*solver)->objectives();
    ASSERT_EQ(obj.size(), 5u);
    for (size_t i = 1; i < obj.size(); ++i)
      EXPECT_LE(obj[i], obj[i - 1] + 1e-9 * std::abs(obj[i - 1])) << "iteration " << i;
    EXPECT_LT(obj.back(), obj.front());
    const Eigen::MatrixXd pred = (*solver)->Predict([&] {
      Eigen::MatrixXd t(ds->test.betas.rows(), voxels.size());
      for (size_t j = 0; j < voxels.size(); ++j) t.col(j) = ds->test.betas.col(voxels[j]);
      return t;
    }());
    EXPECT_EQ(pred.rows(), 10);
    EXPECT_EQ(pred.cols(), 98);
    EXPECT_TRUE(pred.allFinite());
  }
}

}  // namespace
}  // namespace v2p::core
