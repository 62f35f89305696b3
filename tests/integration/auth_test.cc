// Tokens, roles and ownership through a real v2p-server started with
// --auth_tokens: every method of every public service refuses a call with
// no token, an unknown one and one lacking the role; one lab cannot use,
// cancel, delete or overwrite another's dataset, job or model; the `v2p`
// CLI sends V2P_TOKEN; the tokens file is re-read while serving.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/rpc_helpers.h"
#include "gmock/gmock.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "store/sha256.h"
#include "tests/testing/digit69.h"
#include "tests/testing/eventually.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/datasets_service.grpc.pb.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"
#include "voxel2pixel/v1/training_service.grpc.pb.h"

namespace v2p {
namespace {

namespace fs = std::filesystem;
namespace v1 = voxel2pixel::v1;
namespace lro = google::longrunning;
using ::testing::HasSubstr;

// Tokens are random enough for a test; the file holds only their hashes.
constexpr char kLabA[] = "tok-lab-a-3f9c";
constexpr char kLabB[] = "tok-lab-b-71e2";
constexpr char kReader[] = "tok-reader-0d5a";
constexpr char kAdmin[] = "tok-admin-c48b";

std::string TokensFile(const std::vector<std::vector<std::string>>& entries) {
  std::string text = "# sha256(token) lab roles\n";
  for (const auto& e : entries)
    absl::StrAppend(&text, store::Sha256Hex(e[0]), " ", e[1], " ", e[2], "\n");
  return text;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path + ".new") << text;
  fs::rename(path + ".new", path);
}

using testing::Eventually;

std::unique_ptr<grpc::ClientContext> Context(int seconds = 30) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Calls `method` with one empty message (every field at its default) and
// half-closes, whatever the method's streaming kind; drains any answer.
grpc::Status CallEmpty(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                       const std::string& authorization) {
  grpc::GenericStub stub(channel);
  auto ctx = Context(20);
  if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(ctx.get(), method, &cq);
  void* tag;
  bool ok;
  auto step = [&](auto&& start) {
    start();
    cq.Next(&tag, &ok);
    return ok;
  };
  grpc::Status status;
  if (step([&] { call->StartCall(nullptr); })) {
    grpc::Slice empty("");
    grpc::ByteBuffer message(&empty, 1);
    step([&] { call->Write(message, nullptr); });
    step([&] { call->WritesDone(nullptr); });
    grpc::ByteBuffer answer;
    while (step([&] { call->Read(&answer, nullptr); })) {
    }
  }
  step([&] { call->Finish(&status, nullptr); });
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// Every method of the public services, as "/pkg.Service/Method", with
// whether it needs only the reconstruct role.
std::vector<std::pair<std::string, bool>> PublicMethods() {
  // The service files hold only services: nothing else pulls their
  // descriptors into this binary (v2p-server links them the same way).
  const void* linked[] = {&descriptor_table_voxel2pixel_2fv1_2freconstruction_5fservice_2eproto,
                          &descriptor_table_voxel2pixel_2fv1_2fmodels_5fservice_2eproto,
                          &descriptor_table_voxel2pixel_2fv1_2fdatasets_5fservice_2eproto,
                          &descriptor_table_voxel2pixel_2fv1_2ftraining_5fservice_2eproto};
  for (const void* table : linked) EXPECT_NE(table, nullptr);
  std::vector<std::pair<std::string, bool>> out;
  for (const char* name :
       {"voxel2pixel.v1.Reconstruction", "voxel2pixel.v1.Models", "voxel2pixel.v1.Datasets",
        "voxel2pixel.v1.Training", "google.longrunning.Operations"}) {
    const auto* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    EXPECT_NE(service, nullptr) << name;
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = service->method(i)->name();
      const bool reads = std::string(name) == "voxel2pixel.v1.Reconstruction" ||
                         method == "ListModels" || method == "GetModel" || method == "LoadModel";
      out.push_back({absl::StrCat("/", name, "/", method), reads});
    }
  }
  return out;
}

class Auth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new std::string(testing::MakeTempDir("auth"));
    // Trained locally, so owned by no lab.
    const auto train = testing::TrainDigit69Ridge(*repo_, "shared_ridge");
    ASSERT_EQ(train.exit_code, 0) << train.output;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*repo_);
    delete repo_;
  }
  void SetUp() override {
    tokens_ = testing::MakeTempDir("tokens") + "/tokens";
    WriteFile(tokens_, TokensFile({{kLabA, "lab-a", "reconstruct,train"},
                                   {kLabB, "lab-b", "reconstruct,train"},
                                   {kReader, "reader", "reconstruct"},
                                   {kAdmin, "ops", "admin"}}));
    auto server = testing::ServerProcess::Start(
        *repo_, {"--workers=spawn:1", "--worker_device=cpu", "--auth_tokens=" + tokens_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(fs::path(tokens_).parent_path());
  }
  std::shared_ptr<grpc::Channel> As(const std::string& token) {
    return client::ConnectAs(server_->address(), token);
  }
  // `v2p ARGS --server ADDR` with V2P_TOKEN=token.
  testing::CommandResult Cli(const std::string& token, const std::string& args) {
    return testing::RunCommand(absl::StrCat("V2P_TOKEN=", token, " ", testing::BinDir(), "/v2p ",
                                            args, " --server ", server_->address()));
  }
  grpc::StatusCode CreateJob(const std::string& token, const std::string& dataset,
                             const std::string& model, std::string* message = nullptr) {
    v1::CreateTrainingJobRequest request;
    request.set_dataset(dataset);
    request.set_model(model);
    std::ifstream spec(testing::SourceDir() + "/examples/digit69_ridge.pbtxt");
    request.set_pipeline_spec(std::string(std::istreambuf_iterator<char>(spec), {}));
    lro::Operation op;
    const grpc::Status s =
        v1::Training::NewStub(As(token))->CreateTrainingJob(Context().get(), request, &op);
    if (message != nullptr) *message = s.error_message();
    return s.error_code();
  }

  // What each lab owns is shown to it; another lab neither reads nor lists it
  // (an admin sees all).
  void ExpectDatasetsShownOnlyToTheirLab() {
    // nor lists it (an admin sees all).
    v1::Dataset dataset;
    v1::GetDatasetRequest get_dataset;
    get_dataset.set_name("a_data");
    ASSERT_TRUE(
        v1::Datasets::NewStub(As(kLabA))->GetDataset(Context().get(), get_dataset, &dataset).ok());
    EXPECT_EQ(dataset.owner(), "lab-a");
    const grpc::Status b_reads =
        v1::Datasets::NewStub(As(kLabB))->GetDataset(Context().get(), get_dataset, &dataset);
    EXPECT_EQ(b_reads.error_code(), grpc::StatusCode::PERMISSION_DENIED) << b_reads.error_message();
    auto listed_by = [&](const std::string& token) {
      v1::ListDatasetsResponse response;
      EXPECT_TRUE(
          v1::Datasets::NewStub(As(token))->ListDatasets(Context().get(), {}, &response).ok());
      std::vector<std::string> names;
      for (const auto& d : response.datasets()) names.push_back(d.name());
      return names;
    };
    EXPECT_THAT(listed_by(kLabB), ::testing::ElementsAre("b_data"));
    EXPECT_THAT(listed_by(kAdmin), ::testing::IsSupersetOf({"a_data", "b_data"}));
  }

  // Lab B: A's job is neither listed, read, waited on, cancelled nor deleted.
  void ExpectAnotherLabCannotTouchJob(const std::string& job) {
    auto b_ops = lro::Operations::NewStub(As(kLabB));
    lro::ListOperationsResponse listed;
    ASSERT_TRUE(b_ops->ListOperations(Context().get(), {}, &listed).ok());
    EXPECT_EQ(listed.operations_size(), 0);
    lro::Operation op;
    google::protobuf::Empty empty;
    lro::GetOperationRequest get;
    get.set_name(job);
    EXPECT_EQ(b_ops->GetOperation(Context().get(), get, &op).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    lro::WaitOperationRequest wait;
    wait.set_name(job);
    EXPECT_EQ(b_ops->WaitOperation(Context().get(), wait, &op).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    lro::CancelOperationRequest cancel;
    cancel.set_name(job);
    EXPECT_EQ(b_ops->CancelOperation(Context().get(), cancel, &empty).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    lro::DeleteOperationRequest del;
    del.set_name(job);
    EXPECT_EQ(b_ops->DeleteOperation(Context().get(), del, &empty).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }

  // Lab B: A's dataset is not deleted, A's model not unloaded.
  void ExpectAnotherLabCannotDeleteOrUnload() {
    google::protobuf::Empty empty;
    v1::DeleteDatasetRequest delete_dataset;
    delete_dataset.set_name("a_data");
    EXPECT_EQ(v1::Datasets::NewStub(As(kLabB))
                  ->DeleteDataset(Context().get(), delete_dataset, &empty)
                  .error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    v1::UnloadModelRequest unload;
    unload.set_name("a_model");
    EXPECT_EQ(
        v1::Models::NewStub(As(kLabB))->UnloadModel(Context().get(), unload, &empty).error_code(),
        grpc::StatusCode::PERMISSION_DENIED);
  }

  // Anyone with the reconstruct role is served A's model; only admins see
  // where it is loaded.
  void ExpectServedToReadersWithPlacementForAdmins() {
    // where it is loaded.
    auto ds = core::LoadDataset(testing::Digit69Options());
    ASSERT_TRUE(ds.ok()) << ds.status();
    v1::ReconstructResponse response;
    auto reader = v1::Reconstruction::NewStub(As(kReader));
    const grpc::Status served =
        testing::ReconstructTestTrials(*reader, "a_model", *ds, true, 0, &response);
    ASSERT_TRUE(served.ok()) << served.error_message();
    EXPECT_EQ(response.results_size(), ds->test.betas.rows());
    v1::GetModelRequest get_model;
    get_model.set_name("a_model");
    for (const auto& [token, sees_address] : {std::pair{kReader, false}, std::pair{kAdmin, true}}) {
      v1::Model model;
      ASSERT_TRUE(
          v1::Models::NewStub(As(token))->GetModel(Context().get(), get_model, &model).ok());
      EXPECT_EQ(model.owner(), "lab-a");
      ASSERT_GT(model.placement_size(), 0) << token;
      EXPECT_EQ(model.placement(0).worker().empty(), !sees_address) << token;
    }
  }

  static std::string* repo_;
  std::string tokens_;
  std::unique_ptr<testing::ServerProcess> server_;
};
std::string* Auth::repo_;

TEST_F(Auth, EveryPublicMethodNeedsAKnownTokenWithItsRole) {
  const auto methods = PublicMethods();
  ASSERT_EQ(methods.size(), 17u);
  for (const auto& [method, reads] : methods) {
    for (const std::string header : {"", "Bearer not-a-token", "Basic dG9r"}) {
      const grpc::Status s = CallEmpty(server_->channel(), method, header);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << method << " with '" << header << "': " << s.error_message();
      EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("not-a-token")));
    }
    const grpc::Status reader =
        CallEmpty(server_->channel(), method, absl::StrCat("Bearer ", kReader));
    if (reads) {
      EXPECT_NE(reader.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
      EXPECT_NE(reader.error_code(), grpc::StatusCode::PERMISSION_DENIED)
          << method << ": " << reader.error_message();
    } else {
      EXPECT_EQ(reader.error_code(), grpc::StatusCode::PERMISSION_DENIED)
          << method << ": " << reader.error_message();
      EXPECT_THAT(reader.error_message(), HasSubstr("lacks the 'train' role")) << method;
    }
  }
  // Health needs no token (load balancers and probes have none).
  grpc::health::v1::HealthCheckResponse health;
  grpc::health::v1::HealthCheckRequest check;
  EXPECT_TRUE(grpc::health::v1::Health::NewStub(server_->channel())
                  ->Check(Context().get(), check, &health)
                  .ok());
  // The CLI without a token is told what to set.
  const auto bare = testing::RunCommand(
      absl::StrCat(testing::BinDir(), "/v2p models list --server ", server_->address()));
  EXPECT_NE(bare.exit_code, 0);
  EXPECT_THAT(bare.output, HasSubstr("V2P_TOKEN"));
  EXPECT_EQ(Cli(kReader, "models list").exit_code, 0);
}

TEST_F(Auth, ALabCannotUseCancelDeleteOrOverwriteAnothersWork) {
  const std::string description = testing::SourceDir() + "/examples/digit69_dataset.pbtxt";
  ASSERT_EQ(Cli(kLabA, "datasets upload --name a_data --description " + description).exit_code, 0);
  const auto trained = Cli(kLabA, "train --dataset a_data --model a_model --wait --spec " +
                                      testing::SourceDir() + "/examples/digit69_ridge.pbtxt");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  ASSERT_EQ(Cli(kLabB, "datasets upload --name b_data --description " + description).exit_code, 0);

  ExpectDatasetsShownOnlyToTheirLab();
  lro::ListOperationsResponse a_ops;
  ASSERT_TRUE(
      lro::Operations::NewStub(As(kLabA))->ListOperations(Context().get(), {}, &a_ops).ok());
  ASSERT_EQ(a_ops.operations_size(), 1);
  const std::string job = a_ops.operations(0).name();

  // Lab B: not on A's dataset, not into A's model nor the unowned one.
  std::string message;
  EXPECT_EQ(CreateJob(kLabB, "a_data", "b_model", &message), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(message, HasSubstr("belongs to lab 'lab-a'"));
  EXPECT_EQ(CreateJob(kLabB, "b_data", "a_model", &message), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(message, HasSubstr("belongs to lab 'lab-a'"));
  EXPECT_EQ(CreateJob(kLabB, "b_data", "shared_ridge", &message),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(message, HasSubstr("admin"));

  ExpectAnotherLabCannotTouchJob(job);
  ExpectAnotherLabCannotDeleteOrUnload();
  ExpectServedToReadersWithPlacementForAdmins();

  // The owner and an admin may.
  EXPECT_EQ(CreateJob(kLabA, "a_data", "a_model"), grpc::StatusCode::OK);
  lro::Operation op;
  google::protobuf::Empty empty;
  lro::GetOperationRequest get;
  get.set_name(job);
  lro::DeleteOperationRequest del;
  del.set_name(job);
  v1::DeleteDatasetRequest delete_dataset;
  auto a = lro::Operations::NewStub(As(kLabA));
  ASSERT_TRUE(a->GetOperation(Context().get(), get, &op).ok());
  EXPECT_TRUE(a->DeleteOperation(Context().get(), del, &empty).ok());
  lro::ListOperationsResponse all;
  ASSERT_TRUE(lro::Operations::NewStub(As(kAdmin))->ListOperations(Context().get(), {}, &all).ok());
  EXPECT_EQ(all.operations_size(), 1);  // lab A's second job, which an admin sees
  EXPECT_EQ(CreateJob(kAdmin, "b_data", "shared_ridge"), grpc::StatusCode::OK);
  delete_dataset.set_name("b_data");
  EXPECT_TRUE(v1::Datasets::NewStub(As(kAdmin))
                  ->DeleteDataset(Context().get(), delete_dataset, &empty)
                  .ok());
}

TEST_F(Auth, TheTokensFileIsReReadWhileServing) {
  auto lab_c = v1::Models::NewStub(As("tok-lab-c-9a01"));
  auto lab_a = v1::Models::NewStub(As(kLabA));
  auto list = [](v1::Models::Stub& stub) {
    v1::ListModelsResponse response;
    return stub.ListModels(Context().get(), {}, &response).error_code();
  };
  EXPECT_EQ(list(*lab_c), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list(*lab_a), grpc::StatusCode::OK);
  // Lab C added, lab A revoked.
  WriteFile(tokens_, TokensFile({{"tok-lab-c-9a01", "lab-c", "reconstruct"}}));
  EXPECT_TRUE(Eventually([&] { return list(*lab_c) == grpc::StatusCode::OK; }, absl::Seconds(10)));
  EXPECT_TRUE(Eventually([&] { return list(*lab_a) == grpc::StatusCode::UNAUTHENTICATED; },
                         absl::Seconds(10)));
}

// With --max_streams_per_caller=2 a lab's third stream is refused with a
// retry pushback while another lab's is served, and a place freed is taken;
// with --max_samples_per_caller=5 a unary call of 10 samples is refused.
TEST_F(Auth, EachLabHoldsAtMostItsShareOfStreams) {
  server_.reset();
  auto server = testing::ServerProcess::Start(
      *repo_, {"--workers=spawn:1", "--worker_device=cpu", "--auth_tokens=" + tokens_,
               "--max_streams_per_caller=2", "--max_samples_per_caller=5"});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  // A unary call of 10 samples is over the ceiling of 5 samples in flight.
  v1::ReconstructResponse unary;
  const grpc::Status too_many = testing::ReconstructTestTrials(
      *v1::Reconstruction::NewStub(As(kLabA)), "shared_ridge", *ds, false, 0, &unary);
  EXPECT_EQ(too_many.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(too_many.error_message(), HasSubstr("split it"));
  struct Open {
    std::unique_ptr<v1::Reconstruction::Stub> stub;
    std::unique_ptr<grpc::ClientContext> ctx;
    std::unique_ptr<
        grpc::ClientReaderWriter<v1::StreamReconstructRequest, v1::StreamReconstructResponse>>
        stream;
    bool answered = false;
  };
  // Opens a stream and sends one sample; `answered` when its result came.
  auto open = [&](const std::string& token) {
    Open o;
    o.stub = v1::Reconstruction::NewStub(As(token));
    o.ctx = Context();
    o.stream = o.stub->StreamReconstruct(o.ctx.get());
    v1::StreamReconstructRequest request;
    request.set_model("shared_ridge");
    *request.mutable_sample() = testing::BetasSample(ds->test.betas, 0, "s0");
    v1::StreamReconstructResponse response;
    o.answered = o.stream->Write(request) && o.stream->Read(&response);
    return o;
  };
  auto close = [](Open& o) {
    o.stream->WritesDone();
    return o.stream->Finish();
  };
  Open a1 = open(kLabA), a2 = open(kLabA);
  ASSERT_TRUE(a1.answered && a2.answered);
  Open a3 = open(kLabA);
  EXPECT_FALSE(a3.answered);
  const grpc::Status refused = close(a3);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("lab 'lab-a' has 2 streams open"));
  const auto& trailers = a3.ctx->GetServerTrailingMetadata();
  EXPECT_NE(trailers.find("grpc-retry-pushback-ms"), trailers.end());
  Open b1 = open(kLabB);
  EXPECT_TRUE(b1.answered) << "another lab is not limited by lab A's streams";
  EXPECT_TRUE(close(b1).ok());
  EXPECT_TRUE(close(a1).ok());
  // The freed place is taken (the server frees it once the call is done).
  EXPECT_TRUE(Eventually(
      [&] {
        Open again = open(kLabA);
        const bool answered = again.answered;
        close(again);
        return answered;
      },
      absl::Seconds(10)));
  EXPECT_TRUE(close(a2).ok());
}

}  // namespace
}  // namespace v2p
