#include "workers/model_registry.h"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "core/methods/pixels/pixels_method.h"
#include "core/pipeline/trainer.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/test_paths.h"

namespace v2p::worker {
namespace {

using PipelinePtr = std::shared_ptr<const core::Pipeline>;

class ModelRegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::MakeTempDir("registry"));
    auto repo = *core::ModelRepository::Open({*root_, true});
    const core::Dataset dataset = *core::LoadDataset(testing::Digit69Options());
    core::TrainRequest req;
    req.model_name = "m";
    core::PixelsOptions pixels;
    pixels.ridge.ridge = {{1e3, 0, 0}, true, false};
    req.method = std::make_shared<core::PixelsMethod>(pixels);
    ASSERT_TRUE(core::TrainModel(dataset, req, *repo).ok());
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
  }
  static std::string* root_;
};
std::string* ModelRegistryTest::root_;

// The worker serves a model version from its load to its unload through
// these hooks (Batcher::Start and Release), so each must come exactly once
// per loaded copy: on_load before any caller holds the copy, even when
// callers race to load it; on_unload once the registry has let go, outside
// its lock (Release waits for queued requests, which must not stall every
// other model's lookups).
TEST_F(ModelRegistryTest, HooksSeeEachLoadedCopyOnceFromLoadToUnload) {
  std::mutex mu;
  std::vector<PipelinePtr> loads, unloads;
  std::atomic<int> loaded_count{-1};
  std::unique_ptr<ModelRegistry> registry;
  ModelRegistry::Options o;
  o.repository = *root_;
  o.on_loaded_count = [&](int n) { loaded_count = n; };
  o.on_load = [&](const PipelinePtr& p) {
    std::lock_guard<std::mutex> lock(mu);
    loads.push_back(p);
  };
  o.on_unload = [&](const PipelinePtr& p) {
    // Under the registry's lock this would deadlock.
    EXPECT_TRUE(registry->Loaded().empty());
    std::lock_guard<std::mutex> lock(mu);
    unloads.push_back(p);
  };
  registry = *ModelRegistry::Create(o);

  std::vector<PipelinePtr> got(4);
  std::vector<bool> announced(4);
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&, i] {
      auto p = registry->Get("m", 0);
      ASSERT_TRUE(p.ok()) << p.status();
      got[i] = *p;
      std::lock_guard<std::mutex> lock(mu);
      announced[i] = loads.size() == 1 && loads[0] == got[i];
    });
  }
  for (auto& t : callers) t.join();
  ASSERT_EQ(loads.size(), 1u) << "one load of the version, one on_load";
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(got[i], loads[0]) << "caller " << i << " got another copy";
    EXPECT_TRUE(announced[i]) << "caller " << i << " got the copy before on_load";
  }
  EXPECT_EQ(loaded_count, 1);
  ASSERT_TRUE(registry->Get("m", 1).ok());
  EXPECT_EQ(loads.size(), 1u) << "a loaded version is not announced again";

  registry->Unload("m", 0);
  ASSERT_EQ(unloads.size(), 1u);
  EXPECT_EQ(unloads[0], loads[0]);
  EXPECT_EQ(loaded_count, 0);
  registry->Unload("m", 0);  // nothing loaded: nothing to announce
  EXPECT_EQ(unloads.size(), 1u);

  auto again = registry->Get("m", 0);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(loads.size(), 2u) << "a version loaded anew is announced anew";
  EXPECT_EQ(loads[1], *again);
  EXPECT_NE(loads[1], loads[0]);
}

}  // namespace
}  // namespace v2p::worker
