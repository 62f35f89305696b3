// ReconstructionService through the gateway: validation before dispatch,
// retries, deadlines, and streams, against fake workers.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/fake_worker.h"

using ::testing::HasSubstr;

namespace v2p::server {
namespace {

TEST(Gateway, BadSamplesAreRefusedBeforeReachingAWorker) {
  RunningWorker w;
  Gateway g({w.address()});
  v1::ReconstructResponse resp;
  grpc::Status s = Call(g, Request(2, kVoxels + 1), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("expects 4 betas, received 5"));
  auto nan = Request(1);
  nan.mutable_samples(0)->set_betas(2, std::nanf(""));
  EXPECT_EQ(Call(g, nan, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Call(g, Request(0), &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto unknown = Request(1);
  unknown.set_model("other");
  EXPECT_EQ(Call(g, unknown, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(w.service.calls, 0);

  ASSERT_TRUE(Call(g, Request(3), &resp).ok());
  EXPECT_EQ(resp.results_size(), 3);
  EXPECT_EQ(w.service.calls, 1);
}

// The gateway's finite check on a sample of the real digit69 size: every
// kind of non-finite value is refused wherever it is (first value, inside a
// block of the vectorised pass, the tail after the last block, the last
// value), naming the sample and the beta; the extreme finite values pass.
TEST(Validation, EveryNonFiniteBetaIsRefusedWhereverItIs) {
  v1::Model model;
  model.set_name("digit69");
  model.set_num_voxels(3092);
  using L = std::numeric_limits<float>;
  for (float value : {L::quiet_NaN(), -L::quiet_NaN(), L::infinity(), -L::infinity()}) {
    for (int at : {0, 1500, 3089, 3091}) {
      v1::Sample sample;
      sample.set_id("s");
      sample.mutable_betas()->Resize(3092, 0.0f);
      sample.set_betas(at, value);
      const absl::Status s = ValidateSample(sample, 7, model);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << value << " at " << at;
      EXPECT_THAT(std::string(s.message()),
                  HasSubstr("(index 7): beta " + std::to_string(at) + " is"));
    }
  }
  v1::Sample extremes;
  extremes.mutable_betas()->Resize(3092, 0.0f);
  extremes.set_betas(0, L::max());
  extremes.set_betas(1500, L::lowest());
  extremes.set_betas(3091, L::denorm_min());
  EXPECT_TRUE(ValidateSample(extremes, 0, model).ok());
}

TEST(Gateway, UnavailableWorkerIsRetriedOnceOnAnother) {
  RunningWorker dead(grpc::StatusCode::UNAVAILABLE), healthy;
  Gateway g({dead.address(), healthy.address()});
  v1::ReconstructResponse resp;
  for (int i = 0; i < 4; ++i) {
    const grpc::Status s = Call(g, Request(1), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(healthy.service.calls, 4);
  EXPECT_LE(dead.service.calls, 4);  // at most one failed attempt per request
}

TEST(Gateway, OtherErrorsAreNotRetried) {
  RunningWorker broken(grpc::StatusCode::INTERNAL), healthy;
  Gateway g({broken.address(), healthy.address()});
  v1::ReconstructResponse resp;
  const grpc::Status s = Call(g, Request(1), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(broken.service.calls, 1);
  EXPECT_EQ(healthy.service.calls, 0);
}

TEST(Gateway, OnlyUnavailableWorkersGiveUnavailable) {
  RunningWorker dead(grpc::StatusCode::UNAVAILABLE);
  Gateway g({dead.address()});
  v1::ReconstructResponse resp;
  EXPECT_EQ(Call(g, Request(1), &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(dead.service.calls,
            2);  // first try, then the retry falls back to it
}

TEST(Gateway, CallersDeadlineReachesTheWorker) {
  RunningWorker w;
  Gateway g({w.address()});
  v1::ReconstructResponse resp;
  const auto before = std::chrono::system_clock::now();
  ASSERT_TRUE(Call(g, Request(1), &resp, std::chrono::seconds(7)).ok());
  const auto seen = w.service.last_deadline();
  // The worker sees the caller's 7 s deadline, not gRPC's infinite default
  // nor the gateway's own 60 s bound.
  EXPECT_GT(seen, before + std::chrono::seconds(6));
  EXPECT_LT(seen, before + std::chrono::seconds(8));
}

TEST(Gateway, StreamAnswersEachSampleInOrder) {
  RunningWorker w;
  Gateway g({w.address()});
  grpc::ClientContext ctx;
  auto stream = g.stub().StreamReconstruct(&ctx);
  for (int i = 0; i < 5; ++i) {
    v1::StreamReconstructRequest req;
    if (i == 0) req.set_model("fake");
    *req.mutable_sample() = Request(1).samples(0);
    req.mutable_sample()->set_id("id-" + std::to_string(i));
    ASSERT_TRUE(stream->Write(req));
    v1::StreamReconstructResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.result().sample_id(), "id-" + std::to_string(i));
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

struct StreamOutcome {
  std::vector<std::string> ids;
  grpc::Status status;
};
StreamOutcome StreamSamples(Gateway& g, int n, int bad = -1) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = g.stub().StreamReconstruct(&ctx);
  std::thread writer([&] {
    for (int i = 0; i < n; ++i) {
      v1::StreamReconstructRequest req;
      if (i == 0) req.set_model("fake");
      *req.mutable_sample() = Request(1, i == bad ? kVoxels + 1 : kVoxels).samples(0);
      req.mutable_sample()->set_id("id-" + std::to_string(i));
      if (!stream->Write(req)) break;
    }
    stream->WritesDone();
  });
  StreamOutcome out;
  v1::StreamReconstructResponse resp;
  while (stream->Read(&resp)) out.ids.push_back(resp.result().sample_id());
  writer.join();
  out.status = stream->Finish();
  return out;
}

std::vector<std::string> Ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("id-" + std::to_string(i));
  return ids;
}

TEST(GatewayStreaming, ASampleWindowIsInFlightAndAnsweredInOrder) {
  // Each worker call takes 100 ms. 8 samples sent at once on one stream
  // with a window of 8 travel together (2 calls: the first sample alone,
  // then the 7 that queued behind it), not one call after another.
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(100));
  Gateway g(Addresses({w.address()}), Coalescing(8), /*stream_window=*/8);
  const absl::Time start = absl::Now();
  const StreamOutcome out = StreamSamples(g, 8);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.ids, Ids(8));
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(600));
  EXPECT_LE(w.service.calls, 3);
}

TEST(GatewayStreaming, TheWindowBoundsWhatOneStreamHasInFlight) {
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(50));
  Gateway g(Addresses({w.address()}), Coalescing(8), /*stream_window=*/2);
  const StreamOutcome out = StreamSamples(g, 10);
  ASSERT_TRUE(out.status.ok()) << out.status.error_message();
  EXPECT_EQ(out.ids, Ids(10));
  const std::vector<int> sizes = w.service.batch_sizes();
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), 10);  // each sent once
  for (int s : sizes) EXPECT_LE(s, 2);
}

TEST(GatewayStreaming, ABadMessageEndsTheStreamAfterTheSamplesBeforeItAreAnswered) {
  // Message 3 has the wrong voxel count: samples 0-2, accepted already, are
  // answered, then the stream ends naming message 3; none after it is sent.
  RunningWorker w(grpc::StatusCode::OK, absl::Milliseconds(50));
  Gateway g(Addresses({w.address()}), Coalescing(8), /*stream_window=*/8);
  const StreamOutcome out = StreamSamples(g, 6, /*bad=*/3);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(out.status.error_message(), HasSubstr("stream message 3"));
  EXPECT_EQ(out.ids, Ids(3));
  const std::vector<int> sizes = w.service.batch_sizes();
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), 3);
}

TEST(GatewayStreaming, AFailedSampleEndsTheStreamWithItsError) {
  RunningWorker broken(grpc::StatusCode::INTERNAL);
  Gateway g(Addresses({broken.address()}), Coalescing(8), /*stream_window=*/4);
  const StreamOutcome out = StreamSamples(g, 5);
  EXPECT_EQ(out.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(out.status.error_message(), HasSubstr("stream message 0"));
  EXPECT_TRUE(out.ids.empty());
}

}  // namespace
}  // namespace v2p::server
