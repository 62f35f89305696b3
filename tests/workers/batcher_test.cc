#include "workers/batcher.h"

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "core/decoding/ridge_decoder.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/methods/registry.h"
#include "core/pipeline/trainer.h"
#include "gtest/gtest.h"
#include "tests/testing/attention_generator.h"
#include "tests/testing/digit69.h"
#include "tests/testing/test_paths.h"

namespace v2p::worker {
namespace {

// Submits and waits for the answer.
Batcher::Result SubmitAndWait(Batcher& batcher, std::shared_ptr<const core::Pipeline> pipeline,
                              Eigen::MatrixXf betas, std::function<bool()> is_cancelled) {
  std::promise<Batcher::Result> result;
  auto future = result.get_future();
  Batcher::Work work;
  work.betas = std::move(betas);
  work.is_cancelled = std::move(is_cancelled);
  batcher.Submit(std::move(pipeline), std::move(work),
                 [&result](Batcher::Result r) { result.set_value(std::move(r)); });
  return future.get();
}

class BatcherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::MakeTempDir("batcher"));
    auto repo = *core::ModelRepository::Open({*root_, true});
    dataset_ = new core::Dataset(*core::LoadDataset(testing::Digit69Options()));
    core::TrainRequest req;
    req.model_name = "m";
    core::PixelsOptions pixels;
    pixels.ridge.ridge = {{1e3, 0, 0}, true, false};
    req.method = std::make_shared<core::PixelsMethod>(pixels);
    ASSERT_TRUE(core::TrainModel(*dataset_, req, *repo).ok());
    pipeline_ =
        new std::shared_ptr<const core::Pipeline>(*core::LoadPipeline(*root_ + "/models/m/1", 1));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
    delete dataset_;
    delete pipeline_;
  }
  static Eigen::MatrixXf Rows(std::initializer_list<int> rows) {
    Eigen::MatrixXf m(rows.size(), 3092);
    int i = 0;
    for (int r : rows) m.row(i++) = dataset_->test.betas.row(r).cast<float>();
    return m;
  }
  static std::string* root_;
  static core::Dataset* dataset_;
  static std::shared_ptr<const core::Pipeline>* pipeline_;
};
std::string* BatcherTest::root_;
core::Dataset* BatcherTest::dataset_;
std::shared_ptr<const core::Pipeline>* BatcherTest::pipeline_;

TEST_F(BatcherTest, ConcurrentRequestsShareBatchesAndGetTheirOwnRows) {
  std::vector<int> batch_sizes;
  std::mutex mu;
  Batcher::Options o;
  o.max_batch_size = 8;
  o.max_queue_delay = absl::Milliseconds(100);
  o.on_batch = [&](int rows) {
    std::lock_guard<std::mutex> lock(mu);
    batch_sizes.push_back(rows);
  };
  Batcher batcher(o);
  batcher.Start(*pipeline_);
  std::vector<std::thread> clients;
  std::vector<absl::StatusOr<std::vector<core::Reconstruction>>> got(10);
  for (int i = 0; i < 10; ++i) {
    clients.emplace_back(
        [&, i] { got[i] = SubmitAndWait(batcher, *pipeline_, Rows({i}), nullptr); });
  }
  for (auto& t : clients) t.join();
  int total = 0;
  for (int s : batch_sizes) {
    EXPECT_LE(s, 8);
    total += s;
  }
  EXPECT_EQ(total, 10);
  EXPECT_LT(batch_sizes.size(), 10u) << "no two requests shared a batch";
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].status();
    ASSERT_EQ(got[i]->size(), 1u);
    auto alone = (*pipeline_)->Run(Rows({i}));
    ASSERT_TRUE(alone.ok());
    EXPECT_LT(((*got[i])[0].pixels - (*alone)[0].pixels).cwiseAbs().maxCoeff(), 1e-5)
        << "request " << i << " got someone else's reconstruction";
    EXPECT_GE((*got[i])[0].timings.queue, absl::ZeroDuration());
  }
}

TEST_F(BatcherTest, LargeRequestRunsAloneAndCancelledOneIsDropped) {
  Batcher::Options o;
  o.max_batch_size = 4;
  std::vector<int> sizes;
  o.on_batch = [&](int rows) { sizes.push_back(rows); };
  Batcher batcher(o);
  batcher.Start(*pipeline_);
  auto big = SubmitAndWait(batcher, *pipeline_, Rows({0, 1, 2, 3, 4, 5}), nullptr);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->size(), 6u);
  EXPECT_EQ(sizes, std::vector<int>{6});
  auto cancelled = SubmitAndWait(batcher, *pipeline_, Rows({0}), [] { return true; });
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
}

// Submit returns at once and answers on a batch thread; a request with
// draws runs alone, so its failure (the ridge pipeline has no posterior to
// draw from) is its own; with max_batch_size 0 every request runs alone.
TEST_F(BatcherTest, SubmitAnswersOnItsThreadsAndDrawsRunAlone) {
  for (int max_batch : {8, 0}) {
    SCOPED_TRACE(max_batch);
    std::mutex mu;
    std::condition_variable all_done;
    std::vector<int> sizes;
    std::vector<absl::StatusOr<std::vector<core::Reconstruction>>> got(4);
    std::vector<std::thread::id> answered_on(4);
    int answered = 0;
    Batcher::Options o;
    o.max_batch_size = max_batch;
    o.max_queue_delay = absl::Milliseconds(100);
    o.on_batch = [&](int rows) {
      std::lock_guard<std::mutex> lock(mu);
      sizes.push_back(rows);
    };
    {
      Batcher batcher(o);
      batcher.Start(*pipeline_);
      for (int i = 0; i < 4; ++i) {
        Batcher::Work work;
        work.betas = Rows({i});
        if (i == 2) work.num_samples = 3;
        batcher.Submit(*pipeline_, std::move(work), [&, i](Batcher::Result r) {
          std::lock_guard<std::mutex> lock(mu);
          got[i] = std::move(r);
          answered_on[i] = std::this_thread::get_id();
          if (++answered == 4) all_done.notify_all();
        });
      }
      std::unique_lock<std::mutex> lock(mu);
      ASSERT_TRUE(all_done.wait_for(lock, std::chrono::seconds(30), [&] { return answered == 4; }));
    }
    for (int i = 0; i < 4; ++i) {
      EXPECT_NE(answered_on[i], std::this_thread::get_id());
      if (i == 2) {
        EXPECT_EQ(got[i].status().code(), absl::StatusCode::kInvalidArgument) << got[i].status();
        continue;
      }
      ASSERT_TRUE(got[i].ok()) << "request " << i << ": " << got[i].status();
      auto alone = (*pipeline_)->Run(Rows({i}));
      ASSERT_TRUE(alone.ok());
      EXPECT_LT(((*got[i])[0].pixels - (*alone)[0].pixels).cwiseAbs().maxCoeff(), 1e-5);
    }
    int total = 0;
    for (int s : sizes) total += s;
    EXPECT_EQ(total, 4);
    if (max_batch == 0) {
      EXPECT_EQ(sizes, std::vector<int>(4, 1));
    } else {
      EXPECT_LT(sizes.size(), 4u) << "the requests without draws did not share a batch";
    }
  }
}

// A pipeline is served from Start to Release: before Start and after
// Release a request for it is refused (ABORTED: fetch the model again)
// without starting threads for it; Release answers what was queued and
// lets go of the pipeline (its memory would otherwise stay for the worker's
// life); a version loaded anew is served.
TEST_F(BatcherTest, ServesAPipelineFromStartToRelease) {
  Batcher::Options o;
  o.max_queue_delay = absl::Milliseconds(50);  // so the release finds a request queued
  Batcher batcher(o);
  auto pipeline =
      std::shared_ptr<const core::Pipeline>(*core::LoadPipeline(*root_ + "/models/m/1", 1));
  auto early = SubmitAndWait(batcher, pipeline, Rows({0}), nullptr);
  EXPECT_EQ(early.status().code(), absl::StatusCode::kAborted) << early.status();
  EXPECT_EQ(pipeline.use_count(), 1) << "a refused request must not start the pipeline";

  batcher.Start(pipeline);
  batcher.Start(pipeline);  // twice: nothing more
  EXPECT_EQ(pipeline.use_count(), 2) << "the queue should hold the pipeline while serving it";
  ASSERT_TRUE(SubmitAndWait(batcher, pipeline, Rows({0}), nullptr).ok());

  // Queued when the release comes: answered all the same.
  std::promise<Batcher::Result> queued;
  {
    Batcher::Work work;
    work.betas = Rows({1, 2});
    batcher.Submit(pipeline, std::move(work),
                   [&queued](Batcher::Result r) { queued.set_value(std::move(r)); });
  }
  batcher.Release(pipeline);
  auto future = queued.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "a request queued at the release was never answered";
  auto answered = future.get();
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->size(), 2u);
  EXPECT_EQ(pipeline.use_count(), 1);
  batcher.Release(pipeline);  // twice: nothing to do

  auto straggler = SubmitAndWait(batcher, pipeline, Rows({1}), nullptr);
  EXPECT_EQ(straggler.status().code(), absl::StatusCode::kAborted) << straggler.status();
  EXPECT_EQ(pipeline.use_count(), 1) << "a straggler must not start the released pipeline again";

  auto reloaded =
      std::shared_ptr<const core::Pipeline>(*core::LoadPipeline(*root_ + "/models/m/1", 1));
  batcher.Start(reloaded);
  auto again = SubmitAndWait(batcher, reloaded, Rows({1}), nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->size(), 1u);
  batcher.Release(reloaded);
  EXPECT_EQ(reloaded.use_count(), 1);
}

// Requests that ask for attention maps share a batch with requests that do
// not: the batch decodes the maps once, and only the askers get them.
TEST(BatcherAttention, OnlyTheRequestsThatAskGetTheMapsOfTheirOwnRows) {
  std::mt19937_64 rng(11);
  const core::ImageShape shape{3, 4, 1};
  Eigen::MatrixXd x =
      Eigen::MatrixXd::NullaryExpr(30, 9, [&] { return std::normal_distribution<double>()(rng); });
  const Eigen::MatrixXd y = (x * Eigen::MatrixXd::Random(9, 12)).array() * 0.1 + 0.5;
  core::RidgeDecoder::Options ro;
  ro.regression.alpha = 1;
  core::ModelManifest m;
  m.name = "attending";
  m.num_voxels = 9;
  m.image = shape;
  m.target = "pixels";
  std::shared_ptr<const core::Pipeline> pipeline = *core::Pipeline::Create(
      m, *core::RidgeDecoder::Fit(x, y, ro),
      std::make_unique<const testing::ChannelMeanAttention>(shape, 1.0f, 12));
  std::mutex mu;
  std::condition_variable all_done;
  std::vector<int> sizes;
  std::vector<Batcher::Result> got(4);
  int answered = 0;
  Batcher::Options o;
  o.max_batch_size = 8;
  o.max_queue_delay = absl::Milliseconds(200);
  o.on_batch = [&](int rows) {
    std::lock_guard<std::mutex> lock(mu);
    sizes.push_back(rows);
  };
  {
    Batcher batcher(o);
    batcher.Start(pipeline);
    for (int i = 0; i < 4; ++i) {
      Batcher::Work work;
      work.betas = x.middleRows(i, 1).cast<float>();
      work.attention = i % 2 == 1;
      batcher.Submit(pipeline, std::move(work), [&, i](Batcher::Result r) {
        std::lock_guard<std::mutex> lock(mu);
        got[i] = std::move(r);
        if (++answered == 4) all_done.notify_all();
      });
    }
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(all_done.wait_for(lock, std::chrono::seconds(30), [&] { return answered == 4; }));
    batcher.Release(pipeline);
  }
  EXPECT_LT(sizes.size(), 4u) << "the requests did not share a batch";
  core::RunOptions with_maps;
  with_maps.attention = true;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(got[i].ok()) << "request " << i << ": " << got[i].status();
    const core::Reconstruction& r = (*got[i])[0];
    auto alone = pipeline->Run(x.middleRows(i, 1).cast<float>(), with_maps);
    ASSERT_TRUE(alone.ok()) << alone.status();
    EXPECT_LT((r.pixels - (*alone)[0].pixels).cwiseAbs().maxCoeff(), 1e-5);
    if (i % 2 == 1) {
      ASSERT_EQ(r.attention.size(), 12) << "request " << i;
      EXPECT_LT((r.attention - (*alone)[0].attention).cwiseAbs().maxCoeff(), 1e-5);
      EXPECT_FALSE(r.attention_png.empty());
    } else {
      EXPECT_EQ(r.attention.size(), 0) << "request " << i << " did not ask for a map";
      EXPECT_TRUE(r.attention_png.empty());
    }
  }
}

}  // namespace
}  // namespace v2p::worker
