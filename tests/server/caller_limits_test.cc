// What one caller may hold at once (server/caller_limits.h): each kind
// counted per lab (or address), places given back when dropped, a call
// larger than the ceiling told to split. (The retry pushback is checked
// through a real call in tests/integration/auth_test.cc.)
#include "server/caller_limits.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace v2p::server {
namespace {

using ::testing::HasSubstr;

Caller Lab(const std::string& lab) { return Caller{lab, kReconstruct}; }

TEST(CallerLimits, SamplesInFlightAreCountedPerLabAndGivenBack) {
  CallerLimits limits({/*max_streams=*/2, /*max_uploads=*/1, /*max_samples=*/10});
  grpc::ServerContext context;
  auto first = limits.Take(CallerLimits::kSample, Lab("a"), &context, 6);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(limits.Held("lab:a", CallerLimits::kSample), 6);
  auto second = limits.Take(CallerLimits::kSample, Lab("a"), &context, 4);
  ASSERT_TRUE(second.ok()) << second.status();
  auto third = limits.Take(CallerLimits::kSample, Lab("a"), &context, 1);
  ASSERT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("lab 'a' has 10 samples in flight"));
  EXPECT_THAT(third.status().message(), HasSubstr("--max_samples_per_caller"));
  // Another lab, and another kind, are not affected.
  EXPECT_TRUE(limits.Take(CallerLimits::kSample, Lab("b"), &context, 10).ok());
  EXPECT_TRUE(limits.Take(CallerLimits::kStream, Lab("a"), &context).ok());
  first->reset();
  EXPECT_EQ(limits.Held("lab:a", CallerLimits::kSample), 4);
  EXPECT_TRUE(limits.Take(CallerLimits::kSample, Lab("a"), &context, 6).ok());
  EXPECT_EQ(limits.Held("lab:a", CallerLimits::kSample), 4) << "the temporary was given back";
}

TEST(CallerLimits, ACallLargerThanTheCeilingIsToldToSplit) {
  CallerLimits limits({2, 1, 10});
  grpc::ServerContext context;
  auto whole = limits.Take(CallerLimits::kSample, Lab("a"), &context, 11);
  ASSERT_EQ(whole.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(whole.status().message(), HasSubstr("split it"));
  EXPECT_EQ(limits.Held("lab:a", CallerLimits::kSample), 0);
}

TEST(CallerLimits, ZeroMeansNoCeiling) {
  CallerLimits limits({0, 0, 0});
  grpc::ServerContext context;
  std::vector<std::unique_ptr<CallerLimits::Place>> held;
  for (int i = 0; i < 100; ++i) {
    auto place = limits.Take(CallerLimits::kSample, Lab("a"), &context, 1000);
    ASSERT_TRUE(place.ok()) << place.status();
    held.push_back(*std::move(place));
  }
  EXPECT_EQ(limits.Held("lab:a", CallerLimits::kSample), 100000);
  held.clear();
  EXPECT_EQ(limits.Held("lab:a", CallerLimits::kSample), 0);
}

TEST(CallerLimits, WithoutTokensTheCallerIsItsAddressWithoutThePort) {
  EXPECT_EQ(CallerLimits::Key(Caller{}, "ipv4:10.0.0.7:51234"), "peer:ipv4:10.0.0.7");
  EXPECT_EQ(CallerLimits::Key(Caller{}, "ipv6:[::1]:5000"), "peer:ipv6:[::1]");
  EXPECT_EQ(CallerLimits::Key(Lab("x"), "ipv4:10.0.0.7:1"), "lab:x");
}

}  // namespace
}  // namespace v2p::server
