// The token judge (server/auth.h) on its own: the tokens file's grammar,
// the role each method needs, open health checks and reflection, and the
// file re-read when it changes.
#include "server/auth.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sha256.h"
#include "tests/testing/test_paths.h"

namespace v2p::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Line(const std::string& token, const std::string& lab, const std::string& roles) {
  return store::Sha256Hex(token) + " " + lab + " " + roles + "\n";
}

void WriteFile(const std::string& path, const std::string& text) {
  // Written beside and renamed, as an operator's editor or a Secret mount does.
  std::ofstream(path + ".new") << text;
  std::filesystem::rename(path + ".new", path);
}

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("auth");
    file_ = dir_ + "/tokens";
    WriteFile(file_, "# lab tokens\n\n" + Line("tok-a", "lab-a", "reconstruct,train") +
                         Line("tok-r", "reader", "reconstruct") + Line("tok-adm", "ops", "admin"));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Authorizer> Open(bool open_reflection = true) {
    Authorizer::Options o;
    o.tokens_file = file_;
    o.open_reflection = open_reflection;
    o.reload_check = absl::ZeroDuration();
    auto auth = Authorizer::Open(o);
    EXPECT_TRUE(auth.ok()) << auth.status();
    return auth.ok() ? *std::move(auth) : nullptr;
  }
  std::string dir_, file_;
};

constexpr char kTrain[] = "/voxel2pixel.v1.Training/CreateTrainingJob";
constexpr char kReconstruct[] = "/voxel2pixel.v1.Reconstruction/Reconstruct";

TEST_F(AuthorizerTest, EachTokenGetsItsLabAndRoles) {
  auto auth = Open();
  auto a = auth->Judge(kTrain, "Bearer tok-a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->lab, "lab-a");
  EXPECT_FALSE(a->admin());
  // The scheme is case-insensitive (RFC 6750).
  EXPECT_TRUE(auth->Judge(kReconstruct, "bearer tok-a").ok());
  auto admin = auth->Judge("/google.longrunning.Operations/DeleteOperation", "Bearer tok-adm");
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_TRUE(admin->admin());
  EXPECT_TRUE(admin->Owns("lab-a"));
  EXPECT_TRUE(a->Owns("lab-a"));
  EXPECT_FALSE(a->Owns("lab-b"));
  EXPECT_FALSE(a->Owns(""));  // no lab's: admins only
}

TEST_F(AuthorizerTest, MissingUnknownAndMalformedTokensAreUnauthenticated) {
  auto auth = Open();
  for (const char* header : {"", "Bearer nope", "Basic dG9rLWE=", "tok-a", "Bearer "}) {
    auto c = auth->Judge(kReconstruct, header);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << "'" << header << "'";
    // The token itself is never echoed.
    EXPECT_THAT(c.status().message(), Not(HasSubstr("nope"))) << header;
  }
  EXPECT_THAT(auth->Judge(kReconstruct, "").status().message(), HasSubstr("V2P_TOKEN"));
}

TEST_F(AuthorizerTest, ARoleTheTokenLacksIsPermissionDenied) {
  auto auth = Open();
  EXPECT_TRUE(auth->Judge(kReconstruct, "Bearer tok-r").ok());
  EXPECT_TRUE(auth->Judge("/voxel2pixel.v1.Models/GetModel", "Bearer tok-r").ok());
  for (const char* method :
       {kTrain, "/voxel2pixel.v1.Datasets/UploadDataset", "/voxel2pixel.v1.Models/UnloadModel",
        "/google.longrunning.Operations/CancelOperation"}) {
    auto c = auth->Judge(method, "Bearer tok-r");
    EXPECT_EQ(c.status().code(), absl::StatusCode::kPermissionDenied) << method;
    EXPECT_THAT(c.status().message(), HasSubstr("'train' role")) << method;
  }
  // A method not in the table is refused to all but admins (fail closed).
  EXPECT_EQ(auth->Judge("/voxel2pixel.v1.Models/DropEverything", "Bearer tok-a").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(auth->Judge("/voxel2pixel.v1.Models/DropEverything", "Bearer tok-adm").ok());
}

TEST_F(AuthorizerTest, HealthIsOpenAndReflectionIsConfigurable) {
  auto open = Open(true);
  EXPECT_TRUE(open->Judge("/grpc.health.v1.Health/Check", "").ok());
  EXPECT_TRUE(open->Judge("/grpc.health.v1.Health/Watch", "Bearer nope").ok());
  const char* reflection = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
  EXPECT_TRUE(open->Judge(reflection, "").ok());
  auto closed = Open(false);
  EXPECT_EQ(closed->Judge(reflection, "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(closed->Judge(reflection, "Bearer tok-a").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(closed->Judge(reflection, "Bearer tok-adm").ok());
}

TEST_F(AuthorizerTest, TheFileIsReReadWhenItChangesAndABadOneKeepsThePreviousTokens) {
  auto auth = Open();
  EXPECT_EQ(auth->Judge(kTrain, "Bearer tok-c").status().code(),
            absl::StatusCode::kUnauthenticated);
  WriteFile(file_, Line("tok-c", "lab-c", "train"));
  EXPECT_TRUE(auth->Judge(kTrain, "Bearer tok-c").ok());
  EXPECT_EQ(auth->Judge(kTrain, "Bearer tok-a").status().code(),
            absl::StatusCode::kUnauthenticated);  // revoked
  WriteFile(file_, "not a tokens file\n");
  EXPECT_TRUE(auth->Judge(kTrain, "Bearer tok-c").ok());
}

TEST(ParseTokens, NamesTheBadLineButNeverItsHash) {
  const std::string hash = store::Sha256Hex("secret");
  struct Case {
    std::string text;
    std::string why;
    int line = 2;  // after the header
  };
  const Case cases[] = {
      {hash + " lab-a\n", "not three fields"},
      {"abc lab-a train\n", "SHA-256"},
      {store::Sha256Hex("x").substr(0, 63) + "G lab-a train\n", "SHA-256"},
      {hash + " ../lab train\n", "lab name"},
      {hash + " lab-a train,root\n", "roles are"},
      {hash + " lab-a train\n" + hash + " lab-b train\n", "twice", 3},
  };
  for (const Case& c : cases) {
    auto parsed = ParseTokens("# header\n" + c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr("line " + std::to_string(c.line) + ":"))
        << c.text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.why)) << c.text;
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr(hash.substr(0, 16)))) << c.text;
  }
  auto empty = ParseTokens("# nobody yet\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(AuthorizerOpen, AMissingOrBadFileStopsTheServerFromStarting) {
  Authorizer::Options o;
  o.tokens_file = "/nonexistent/tokens";
  EXPECT_EQ(Authorizer::Open(o).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(Identify, WithoutTokensEveryCallIsAnAnonymousAdmin) {
  auto caller = Identify(nullptr, nullptr);
  ASSERT_TRUE(caller.ok());
  EXPECT_TRUE(caller->admin());
  EXPECT_EQ(caller->lab, "");
}

}  // namespace
}  // namespace v2p::server
