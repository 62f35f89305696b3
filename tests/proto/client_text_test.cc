// Client text quoted in errors, and status messages on the wire, stay
// bounded (proto/client_text.h, proto/rpc_status.h).
#include "proto/client_text.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/rpc_status.h"

namespace v2p {
namespace {

using ::testing::HasSubstr;

TEST(ClientText, ShortTextPassesLongTextIsCutWithItsLengthControlBytesAreEscaped) {
  EXPECT_EQ(ClientText("digit69_ridge"), "digit69_ridge");
  const std::string quoted = ClientText(std::string(2 << 20, 'i'));
  EXPECT_EQ(quoted, std::string(kMaxQuoted, 'i') + "... (2097152 bytes)");
  EXPECT_EQ(ClientText(std::string(kMaxQuoted, 'x')), std::string(kMaxQuoted, 'x'));
  EXPECT_EQ(ClientText("a\nb\x01"), "a\\nb\\x01");
  EXPECT_EQ(ClientText("abcdef", 3), "abc... (6 bytes)");
}

TEST(RpcStatus, CodesMapBothWaysAndLongMessagesAreCutOnTheWayOut) {
  const grpc::Status s = ToGrpcStatus(absl::NotFoundError("no model named 'm'"));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "no model named 'm'");
  EXPECT_EQ(FromGrpcStatus(s), absl::NotFoundError("no model named 'm'"));
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  const grpc::Status big = ToGrpcStatus(absl::InvalidArgumentError(std::string(100000, 'e')));
  EXPECT_EQ(big.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LE(big.error_message().size(), kMaxStatusMessage + 32);
  EXPECT_THAT(big.error_message(), HasSubstr("(100000 bytes)"));
}

}  // namespace
}  // namespace v2p
