// Requests an outside client can send that must be refused with the right
// code and a bounded message, and never hurt another caller: oversized
// client text, names that no model can have, negative versions, malformed
// operation ids, filters and page tokens, impossible image shapes in an
// upload; no server path in any answer; and reflection that can describe
// every public service, as grpcurl needs. Real v2p-server and v2p-worker
// over loopback.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor_database.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/datasets_service.grpc.pb.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"
#include "voxel2pixel/v1/training_service.grpc.pb.h"

namespace v2p {
namespace {

namespace v1 = voxel2pixel::v1;
namespace lro = google::longrunning;
using ::testing::HasSubstr;

constexpr char kModel[] = "digit69_ridge";
// What a refusal may weigh: the longest message quoting client text.
constexpr size_t kMaxMessage = 512;

class HostileRequests : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    repo_ = new std::string(testing::MakeTempDir("hostile"));
    const auto train = testing::TrainDigit69Ridge(*repo_, kModel);
    ASSERT_EQ(train.exit_code, 0) << train.output;
    auto ds = core::LoadDataset(testing::Digit69Options());
    ASSERT_TRUE(ds.ok()) << ds.status();
    betas_ = new Eigen::MatrixXd(ds->test.betas);
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*repo_);
    delete repo_;
    delete betas_;
  }
  void SetUp() override {
    auto server = testing::ServerProcess::Start(
        *repo_, {"--workers=spawn:1", "--worker_device=cpu", "--max_concurrent_uploads=2",
                 "--upload_idle_timeout_s=2"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  static v1::ReconstructRequest Request(int n) {
    v1::ReconstructRequest r;
    r.set_model(kModel);
    for (int i = 0; i < n; ++i) *r.add_samples() = testing::BetasSample(*betas_, i, "s");
    return r;
  }
  grpc::Status Reconstruct(const v1::ReconstructRequest& req) {
    auto stub = v1::Reconstruction::NewStub(server_->channel());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ReconstructResponse resp;
    return stub->Reconstruct(&ctx, req, &resp);
  }
  // The refusal every check here expects: INVALID_ARGUMENT, its message
  // bounded and free of the repository's path.
  void ExpectRefused(const grpc::Status& s, const std::string& what) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << ": " << s.error_message();
    EXPECT_LE(s.error_message().size(), kMaxMessage) << what;
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr(*repo_))) << what;
  }

  static std::string* repo_;
  static Eigen::MatrixXd* betas_;
  std::unique_ptr<testing::ServerProcess> server_;
};
std::string* HostileRequests::repo_;
Eigen::MatrixXd* HostileRequests::betas_;

TEST_F(HostileRequests, OversizedTextIsQuotedBoundedAndHurtsNoOtherCall) {
  // A 2 MB sample id on a sample with the wrong voxel count.
  v1::ReconstructRequest long_id = Request(1);
  long_id.mutable_samples(0)->set_id(std::string(2 << 20, 'i'));
  long_id.mutable_samples(0)->mutable_betas()->RemoveLast();
  const grpc::Status s = Reconstruct(long_id);
  ExpectRefused(s, "2 MB sample id");
  EXPECT_THAT(s.error_message(), HasSubstr("(2097152 bytes)"));
  EXPECT_THAT(s.error_message(), HasSubstr("expects 3092 betas"));

  // Model names no model can have, while other callers share the channel.
  std::atomic<bool> stop{false};
  std::atomic<int> good{0}, failed{0};
  std::vector<std::thread> others;
  for (int t = 0; t < 3; ++t) {
    // Each calls until the refusals are done, and at least twice.
    others.emplace_back([&] {
      for (int mine = 0; !stop || mine < 2; ++mine) {
        (Reconstruct(Request(2)).ok() ? good : failed)++;
      }
    });
  }
  for (const std::string& name : {std::string(9000, 'm'), std::string("../models"),
                                  std::string("a b"), std::string("x\n[E] forged log line")}) {
    v1::ReconstructRequest bad = Request(1);
    bad.set_model(name);
    for (int k = 0; k < 5; ++k) ExpectRefused(Reconstruct(bad), "model name " + name.substr(0, 20));
  }
  stop = true;
  for (auto& t : others) t.join();
  EXPECT_GE(good, 6);
  EXPECT_EQ(failed, 0) << "a refused request failed another caller's";

  // The same in a stream's first message.
  auto stub = v1::Reconstruction::NewStub(server_->channel());
  grpc::ClientContext ctx;
  auto stream = stub->StreamReconstruct(&ctx);
  v1::StreamReconstructRequest first;
  first.set_model(std::string(9000, 'm'));
  *first.mutable_sample() = testing::BetasSample(*betas_, 0, "s");
  stream->Write(first);
  stream->WritesDone();
  v1::StreamReconstructResponse ignored;
  while (stream->Read(&ignored)) {
  }
  ExpectRefused(stream->Finish(), "stream model name");
}

TEST_F(HostileRequests, NamesAndVersionsAreCheckedByEveryModelCall) {
  auto models = v1::Models::NewStub(server_->channel());
  for (const std::string& name : {std::string(5000, 'm'), std::string("../x"), std::string("")}) {
    SCOPED_TRACE(name.substr(0, 8));
    grpc::ClientContext c1, c2, c3;
    v1::GetModelRequest get;
    get.set_name(name);
    v1::Model model;
    ExpectRefused(models->GetModel(&c1, get, &model), "GetModel");
    v1::LoadModelRequest load;
    load.set_name(name);
    ExpectRefused(models->LoadModel(&c2, load, &model), "LoadModel");
    v1::UnloadModelRequest unload;
    unload.set_name(name);
    google::protobuf::Empty empty;
    ExpectRefused(models->UnloadModel(&c3, unload, &empty), "UnloadModel");
  }
  // Version -1: no such version can exist, so INVALID_ARGUMENT, not NOT_FOUND.
  grpc::ClientContext c1, c2, c3;
  v1::GetModelRequest get;
  get.set_name(kModel);
  get.set_version(-1);
  v1::Model model;
  ExpectRefused(models->GetModel(&c1, get, &model), "GetModel v-1");
  v1::UnloadModelRequest unload;
  unload.set_name(kModel);
  unload.set_version(-1);
  google::protobuf::Empty empty;
  ExpectRefused(models->UnloadModel(&c2, unload, &empty), "UnloadModel v-1");
  v1::ReconstructRequest req = Request(1);
  req.set_model_version(-1);
  ExpectRefused(Reconstruct(req), "Reconstruct v-1");
  // The model itself is still served.
  EXPECT_TRUE(Reconstruct(Request(1)).ok());
}

// ReconstructWithProgress refuses what Reconstruct refuses, and a progress
// interval out of range or a model with no refine stage, before any
// message; a progress interval on the other calls is refused too.
TEST_F(HostileRequests, ProgressCallsAreCheckedLikeReconstructAndOnlyForRefiners) {
  auto stub = v1::Reconstruction::NewStub(server_->channel());
  auto progress = [&](const v1::ReconstructRequest& req, int* messages) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto reader = stub->ReconstructWithProgress(&ctx, req);
    v1::ReconstructProgress msg;
    *messages = 0;
    while (reader->Read(&msg)) ++*messages;
    return reader->Finish();
  };
  struct Case {
    std::string what;
    std::function<void(v1::ReconstructRequest*)> spoil;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"no interval", [](v1::ReconstructRequest* r) { r->set_progress_every(0); },
       "progress_every is 0"},
      {"interval -3", [](v1::ReconstructRequest* r) { r->set_progress_every(-3); },
       "progress_every is -3"},
      {"interval 20000", [](v1::ReconstructRequest* r) { r->set_progress_every(20000); },
       "progress_every is 20000"},
      {"wrong voxel count",
       [](v1::ReconstructRequest* r) { r->mutable_samples(0)->mutable_betas()->RemoveLast(); },
       "expects 3092 betas"},
      {"NaN", [](v1::ReconstructRequest* r) { r->mutable_samples(0)->set_betas(5, std::nanf("")); },
       "is nan"},
      {"no samples", [](v1::ReconstructRequest* r) { r->clear_samples(); }, "sample"},
      {"traversal model", [](v1::ReconstructRequest* r) { r->set_model("../x"); }, "model"},
      {"no refine stage", [](v1::ReconstructRequest*) {}, "no refine stage"},
  };
  for (const Case& c : cases) {
    v1::ReconstructRequest req = Request(2);
    req.set_progress_every(5);
    c.spoil(&req);
    int messages = -1;
    const grpc::Status s = progress(req, &messages);
    ExpectRefused(s, c.what);
    EXPECT_THAT(s.error_message(), HasSubstr(c.says)) << c.what;
    EXPECT_EQ(messages, 0) << c.what;
  }
  v1::ReconstructRequest unary = Request(1);
  unary.set_progress_every(5);
  const grpc::Status s = Reconstruct(unary);
  ExpectRefused(s, "progress_every on Reconstruct");
  EXPECT_THAT(s.error_message(), HasSubstr("only by ReconstructWithProgress"));
  EXPECT_TRUE(Reconstruct(Request(1)).ok());
}

TEST_F(HostileRequests, OperationIdsFiltersAndPageTokensAreChecked) {
  auto ops = lro::Operations::NewStub(server_->channel());
  const std::string long_name = "operations/" + std::string(300, 'a');
  {
    grpc::ClientContext ctx;
    lro::GetOperationRequest r;
    r.set_name(long_name);
    lro::Operation op;
    ExpectRefused(ops->GetOperation(&ctx, r, &op), "GetOperation 300 characters");
  }
  {
    grpc::ClientContext ctx;
    lro::CancelOperationRequest r;
    r.set_name(long_name);
    google::protobuf::Empty e;
    ExpectRefused(ops->CancelOperation(&ctx, r, &e), "CancelOperation 300 characters");
  }
  {
    grpc::ClientContext ctx;
    lro::DeleteOperationRequest r;
    r.set_name(long_name);
    google::protobuf::Empty e;
    ExpectRefused(ops->DeleteOperation(&ctx, r, &e), "DeleteOperation 300 characters");
  }
  {
    grpc::ClientContext ctx;
    lro::WaitOperationRequest r;
    r.set_name(long_name);
    lro::Operation op;
    ExpectRefused(ops->WaitOperation(&ctx, r, &op), "WaitOperation 300 characters");
  }
  // No operation exists yet: a malformed filter or token is refused anyway.
  for (const auto& [filter, token] :
       std::vector<std::pair<std::string, std::string>>{{"garbage", ""},
                                                        {"colour=red", ""},
                                                        {std::string(5000, 'f'), ""},
                                                        {"", "!!"},
                                                        {"", std::string(300, 'a')}}) {
    grpc::ClientContext ctx;
    lro::ListOperationsRequest r;
    r.set_filter(filter);
    r.set_page_token(token);
    lro::ListOperationsResponse resp;
    ExpectRefused(ops->ListOperations(&ctx, r, &resp), "ListOperations " + filter.substr(0, 12));
  }
  grpc::ClientContext ctx;
  lro::ListOperationsRequest ok;
  ok.set_filter("done=true");
  lro::ListOperationsResponse resp;
  EXPECT_TRUE(ops->ListOperations(&ctx, ok, &resp).ok());
}

// Uploads the header alone (the description is refused before any byte).
grpc::Status UploadHeader(v1::Datasets::Stub& stub, const v1::DatasetDescription& description) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::Dataset record;
  auto writer = stub.UploadDataset(&ctx, &record);
  v1::UploadDatasetRequest msg;
  msg.mutable_header()->set_name("hostile");
  *msg.mutable_header()->mutable_description() = description;
  msg.mutable_header()->set_total_bytes(4);
  msg.mutable_header()->set_sha256(std::string(64, '0'));
  writer->Write(msg);
  writer->WritesDone();
  return writer->Finish();
}

TEST_F(HostileRequests, UploadsDeclaringImpossibleImagesOrVariablesAreRefused) {
  auto stub = v1::Datasets::NewStub(server_->channel());
  v1::DatasetDescription d;
  d.mutable_train()->set_betas("fmriTrain");
  d.mutable_train()->set_stimuli("stimTrain");
  d.mutable_image()->set_layout(v1::IMAGE_LAYOUT_COLUMN_MAJOR);
  d.mutable_image()->set_height(-28);
  d.mutable_image()->set_width(-28);
  grpc::Status s = UploadHeader(*stub, d);
  ExpectRefused(s, "-28 x -28");
  EXPECT_THAT(s.error_message(), HasSubstr("image.height is -28"));
  d.mutable_image()->set_height(28);
  d.mutable_image()->set_width(100000);
  ExpectRefused(UploadHeader(*stub, d), "width 100000");
  d.mutable_image()->set_width(28);
  d.mutable_image()->set_channels(4);
  ExpectRefused(UploadHeader(*stub, d), "4 channels");
  d.mutable_image()->set_channels(1);
  d.mutable_train()->set_stimuli("stim; rm -rf");
  s = UploadHeader(*stub, d);
  ExpectRefused(s, "variable name");
  EXPECT_THAT(s.error_message(), HasSubstr("train.stimuli"));
  d.mutable_train()->set_stimuli(std::string(100000, 's'));
  ExpectRefused(UploadHeader(*stub, d), "100 KB variable name");
  // Nothing was stored.
  grpc::ClientContext ctx;
  v1::ListDatasetsResponse list;
  ASSERT_TRUE(stub->ListDatasets(&ctx, v1::ListDatasetsRequest(), &list).ok());
  EXPECT_EQ(list.datasets_size(), 0);
}

TEST_F(HostileRequests, NoAnswerNamesAServerPath) {
  std::vector<std::pair<std::string, grpc::Status>> answers;
  {
    v1::ReconstructRequest r = Request(1);
    r.set_model("no_such_model");
    answers.emplace_back("Reconstruct unknown model", Reconstruct(r));
    r.set_model(kModel);
    r.set_model_version(99);
    answers.emplace_back("Reconstruct unknown version", Reconstruct(r));
  }
  auto datasets = v1::Datasets::NewStub(server_->channel());
  {
    grpc::ClientContext ctx;
    v1::GetDatasetRequest r;
    r.set_name("no_such_dataset");
    v1::Dataset d;
    answers.emplace_back("GetDataset", datasets->GetDataset(&ctx, r, &d));
  }
  {
    grpc::ClientContext ctx;
    v1::DeleteDatasetRequest r;
    r.set_name("no_such_dataset");
    google::protobuf::Empty e;
    answers.emplace_back("DeleteDataset", datasets->DeleteDataset(&ctx, r, &e));
  }
  auto training = v1::Training::NewStub(server_->channel());
  for (const std::string& spec :
       {std::string("target: TARGET_SPACE_PIXELS decoder { ridge {} } generator { identity {} }"),
        std::string("target: TARGET_SPACE_FEATURES feature_network { name: \"missing\" layers: "
                    "\"fc6\" } decoder { ridge {} }")}) {
    grpc::ClientContext ctx;
    v1::CreateTrainingJobRequest r;
    r.set_dataset("no_such_dataset");
    r.set_model("m");
    r.set_pipeline_spec(spec);
    lro::Operation op;
    answers.emplace_back("CreateTrainingJob", training->CreateTrainingJob(&ctx, r, &op));
  }
  auto ops = lro::Operations::NewStub(server_->channel());
  {
    grpc::ClientContext ctx;
    lro::GetOperationRequest r;
    r.set_name("operations/0000000000000-deadbeef");
    lro::Operation op;
    answers.emplace_back("GetOperation", ops->GetOperation(&ctx, r, &op));
  }
  for (const auto& [what, s] : answers) {
    EXPECT_FALSE(s.ok()) << what;
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr(*repo_))) << what;
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("/tmp/"))) << what;
  }
}

// Every public service described through the reflection API, as grpcurl
// and grpc_cli do before they call: its file and dependencies come back,
// build into a descriptor pool, and the service has its methods with their
// message types.
TEST_F(HostileRequests, ReflectionDescribesEveryPublicService) {
  namespace refl = grpc::reflection::v1alpha;
  auto stub = refl::ServerReflection::NewStub(server_->channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub->ServerReflectionInfo(&ctx);
  const std::vector<std::pair<std::string, std::string>> services = {
      {"voxel2pixel.v1.Reconstruction", "StreamReconstruct"},
      {"voxel2pixel.v1.Models", "UnloadModel"},
      {"voxel2pixel.v1.Datasets", "UploadDataset"},
      {"voxel2pixel.v1.Training", "CreateTrainingJob"},
      {"google.longrunning.Operations", "WaitOperation"},
      {"grpc.health.v1.Health", "Check"}};
  google::protobuf::SimpleDescriptorDatabase db;
  for (const auto& [service, method] : services) {
    refl::ServerReflectionRequest req;
    req.set_file_containing_symbol(service);
    ASSERT_TRUE(stream->Write(req));
    refl::ServerReflectionResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_FALSE(resp.has_error_response())
        << service << ": " << resp.error_response().error_message();
    for (const std::string& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      google::protobuf::FileDescriptorProto known;
      if (!db.FindFileByName(file.name(), &known)) EXPECT_TRUE(db.Add(file)) << file.name();
    }
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  google::protobuf::DescriptorPool pool(&db);
  for (const auto& [service, method] : services) {
    const google::protobuf::ServiceDescriptor* sd = pool.FindServiceByName(service);
    ASSERT_NE(sd, nullptr) << service << " cannot be described";
    const google::protobuf::MethodDescriptor* md = sd->FindMethodByName(method);
    ASSERT_NE(md, nullptr) << service << "." << method;
    EXPECT_NE(md->input_type(), nullptr);
    EXPECT_GT(md->input_type()->field_count() + md->output_type()->field_count(), 0)
        << service << "." << method;
  }
  const auto* request = pool.FindMessageTypeByName("voxel2pixel.v1.ReconstructRequest");
  ASSERT_NE(request, nullptr);
  EXPECT_NE(request->FindFieldByName("include_attention"), nullptr);
}

// An upload that has sent its header and then nothing.
struct IdleUpload {
  grpc::ClientContext context;
  v1::Dataset record;
  std::unique_ptr<grpc::ClientWriter<v1::UploadDatasetRequest>> writer;
};
v1::UploadDatasetRequest ValidHeader(const std::string& name) {
  v1::UploadDatasetRequest msg;
  auto* h = msg.mutable_header();
  h->set_name(name);
  h->mutable_description()->mutable_train()->set_betas("fmriTrain");
  h->mutable_description()->mutable_image()->set_height(28);
  h->mutable_description()->mutable_image()->set_width(28);
  h->mutable_description()->mutable_image()->set_layout(v1::IMAGE_LAYOUT_COLUMN_MAJOR);
  h->set_total_bytes(100);
  h->set_sha256(std::string(64, '0'));
  return msg;
}

// An upload of the header alone, ended at once: its status and the retry
// pushback the server sent with it (empty when none).
std::pair<grpc::Status, std::string> HeaderOnlyUpload(v1::Datasets::Stub& stub,
                                                      const std::string& name) {
  grpc::ClientContext ctx;
  v1::Dataset record;
  auto writer = stub.UploadDataset(&ctx, &record);
  writer->Write(ValidHeader(name));
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  const auto& trailers = ctx.GetServerTrailingMetadata();
  const auto it = trailers.find("grpc-retry-pushback-ms");
  return {status, it == trailers.end() ? "" : std::string(it->second.data(), it->second.size())};
}

TEST_F(HostileRequests, IdleUploadsAreCancelledAndOnlySoManyRunAtOnce) {
  auto stub = v1::Datasets::NewStub(server_->channel());
  std::vector<std::unique_ptr<IdleUpload>> idle;
  for (int i = 0; i < 2; ++i) {
    idle.push_back(std::make_unique<IdleUpload>());
    idle.back()->writer = stub->UploadDataset(&idle.back()->context, &idle.back()->record);
    ASSERT_TRUE(idle.back()->writer->Write(ValidHeader(absl::StrCat("idle", i))));
  }
  // A third is refused once the server holds both (until then it is
  // admitted and ends at once: its header promised bytes it never sends).
  grpc::Status third;
  std::string pushback;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    std::tie(third, pushback) = HeaderOnlyUpload(*stub, "third");
    if (third.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) break;
    ASSERT_EQ(third.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << third.error_message();
  }
  ASSERT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();
  EXPECT_THAT(third.error_message(), HasSubstr("--max_concurrent_uploads"));
  EXPECT_EQ(pushback, "1000");
  // The idle ones are ended by the server, not left holding its threads.
  const auto start = std::chrono::steady_clock::now();
  for (auto& u : idle) {
    const grpc::Status s = u->writer->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED) << s.error_message();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  // Their places are free again, and nothing they sent was kept.
  grpc::Status next;
  const auto free_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < free_by) {
    next = HeaderOnlyUpload(*stub, "next").first;
    if (next.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
  }
  EXPECT_EQ(next.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << next.error_message();
  EXPECT_THAT(next.error_message(), HasSubstr("upload ended after 0 of 100"));
  grpc::ClientContext ctx;
  v1::ListDatasetsResponse list;
  ASSERT_TRUE(stub->ListDatasets(&ctx, v1::ListDatasetsRequest(), &list).ok());
  EXPECT_EQ(list.datasets_size(), 0);
}

}  // namespace
}  // namespace v2p
