#include "store/operation_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "gtest/gtest.h"
#include "server/operations_service.h"
#include "tests/testing/test_paths.h"

namespace v2p::store {
namespace {

namespace v1 = voxel2pixel::v1;

class OperationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("ops");
    // Leases are judged on a clock the test moves (no sleeping).
    store_ = *OperationStore::Open(root_, [this] { return now_; });
    v1::CreateTrainingJobRequest req;
    req.set_model("m");
    v1::TrainingJobMetadata meta;
    meta.set_model("m");
    meta.set_phase(v1::TrainingJobMetadata::QUEUED);
    auto op = store_->Create(req, meta);
    ASSERT_TRUE(op.ok()) << op.status();
    name_ = op->name();
    id_ = *store_->IdFromName(name_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  absl::Time now_ = absl::Now();
  std::string root_, name_, id_;
  std::unique_ptr<OperationStore> store_;
};

TEST_F(OperationStoreTest, CreatedOperationIsQueuedWithNeitherResultNorError) {
  auto op = store_->Get(id_);
  ASSERT_TRUE(op.ok());
  EXPECT_FALSE(op->done());
  EXPECT_FALSE(op->has_error() || op->has_response());
  EXPECT_EQ(GetMetadata(*op).phase(), v1::TrainingJobMetadata::QUEUED);
  EXPECT_EQ(store_->GetRequest(id_)->model(), "m");
  EXPECT_EQ(store_->ListIds(), std::vector<std::string>{id_});
}

TEST_F(OperationStoreTest, NamesAreCheckedBeforeTouchingTheDisk) {
  EXPECT_EQ(store_->IdFromName("operations/../../etc").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->IdFromName("jobs/1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->IdFromName("operations/0000000000000-deadbeef").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(OperationStoreTest, LeaseIsExclusiveUntilItExpires) {
  EXPECT_TRUE(*store_->TryClaim(id_, "hostA:1", absl::Seconds(30)));
  EXPECT_FALSE(*store_->TryClaim(id_, "hostB:2", absl::Seconds(30)));
  EXPECT_EQ(store_->LeaseHolder(id_), "hostA:1");
  EXPECT_TRUE(store_->Renew(id_, "hostA:1", absl::Seconds(30)).ok());
  EXPECT_EQ(store_->Renew(id_, "hostB:2", absl::Seconds(30)).code(), absl::StatusCode::kAborted);

  // An expired lease is taken over; its old holder learns at renewal.
  ASSERT_TRUE(store_->Renew(id_, "hostA:1", absl::Seconds(10)).ok());
  EXPECT_EQ(store_->LeaseHolder(id_), "hostA:1");
  now_ += absl::Seconds(10);
  EXPECT_EQ(store_->LeaseHolder(id_), "");
  EXPECT_TRUE(*store_->TryClaim(id_, "hostB:2", absl::Seconds(30)));
  EXPECT_EQ(store_->Renew(id_, "hostA:1", absl::Seconds(30)).code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(store_->Release(id_, "hostA:1").ok());  // not the holder: no effect
  EXPECT_EQ(store_->LeaseHolder(id_), "hostB:2");
  EXPECT_TRUE(store_->Release(id_, "hostB:2").ok());
  EXPECT_EQ(store_->LeaseHolder(id_), "");
}

TEST_F(OperationStoreTest, LeaseOfADeadLocalProcessIsVoidAtOnce) {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // this pid no longer exists
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const std::string dead = std::string(host) + ":" + std::to_string(child);
  ASSERT_TRUE(*store_->TryClaim(id_, dead, absl::Hours(1)));
  EXPECT_TRUE(*store_->TryClaim(id_, OperationStore::ThisProcessOwner(), absl::Seconds(30)));
}

TEST_F(OperationStoreTest, CancelIsAMarkerAndDeleteRemovesEverything) {
  EXPECT_FALSE(store_->CancelRequested(id_));
  ASSERT_TRUE(store_->RequestCancel(id_).ok());
  EXPECT_TRUE(store_->CancelRequested(id_));
  ASSERT_TRUE(store_->Delete(id_).ok());
  EXPECT_TRUE(store_->ListIds().empty());
  EXPECT_TRUE(std::filesystem::is_empty(root_ + "/operations"));
}

TEST(OperationFilter, MatchesTermsAndRejectsUnknownOnes) {
  google::longrunning::Operation op;
  v1::TrainingJobMetadata meta;
  meta.set_model("digit69_ridge");
  meta.set_dataset("digit69");
  meta.set_phase(v1::TrainingJobMetadata::FITTING);
  SetMetadata(meta, &op);
  EXPECT_TRUE(*server::MatchesFilter(op, ""));
  EXPECT_TRUE(*server::MatchesFilter(op, "done=false AND model=digit69_ridge phase=FITTING"));
  EXPECT_FALSE(*server::MatchesFilter(op, "done=true"));
  EXPECT_FALSE(*server::MatchesFilter(op, "dataset=other"));
  EXPECT_EQ(server::MatchesFilter(op, "owner=me").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server::MatchesFilter(op, "phase=SLEEPING").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server::MatchesFilter(op, "done").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace v2p::store
