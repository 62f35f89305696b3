// TLS on every listener: v2p-server serves clients over TLS and talks to
// its spawned v2p-worker over mutual TLS. A client that trusts the CA
// reconstructs; a plaintext one is refused; the worker's port refuses any
// client but the gateway (no certificate, or one another CA signed). The
// certificates are made by the `openssl` command for each run.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/base/files.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "proto/tls.h"
#include "tests/testing/digit69.h"
#include "tests/testing/reconstruct.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p {
namespace {

namespace v1 = voxel2pixel::v1;

// A CA (ca.pem), a certificate it signs for the servers (server.pem, for
// 127.0.0.1 and the name v2p-worker) and one for the gateway as a client
// (gateway.pem); and a rogue CA's client certificate (rogue_client.pem).
void MakeCertificates(const std::string& dir) {
  const std::string script = absl::StrCat(
      "set -e; cd ", dir,
      "; gen() { openssl req -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr -subj /CN=$1 "
      "2>/dev/null; }"
      "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
      "-subj /CN=v2p-test-ca 2>/dev/null"
      "; openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue_ca.key -out rogue_ca.pem -days 2 "
      "-subj /CN=rogue-ca 2>/dev/null"
      "; printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:v2p-worker\\n' > san.cnf"
      "; gen server; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out server.pem -days 2 -extfile san.cnf 2>/dev/null"
      "; gen gateway; openssl x509 -req -in gateway.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
      "-out gateway.pem -days 2 2>/dev/null"
      "; gen rogue_client; openssl x509 -req -in rogue_client.csr -CA rogue_ca.pem -CAkey "
      "rogue_ca.key -CAcreateserial -out rogue_client.pem -days 2 2>/dev/null");
  const auto made = testing::RunCommand(script);
  ASSERT_EQ(made.exit_code, 0) << made.output;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address, const TlsFiles& files) {
  auto credentials = ChannelCredentials(files);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return grpc::CreateChannel(address, *credentials);
}

// The health status the channel gets, or the call's error code.
std::string Health(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status s = stub->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
  if (!s.ok()) return absl::StrCat("error ", s.error_code());
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

TEST(Tls, ClientsNeedTheCaAndWorkersAcceptOnlyTheGateway) {
  const std::string repo = testing::MakeTempDir("tls");
  const std::string certs = repo + "/certs";
  std::filesystem::create_directories(certs);
  MakeCertificates(certs);
  const auto train = testing::TrainDigit69Ridge(repo, "ridge");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  const std::string c = certs + "/";
  auto server = testing::ServerProcess::Start(
      repo, {"--workers=spawn:1", "--worker_device=cpu", "--tls_cert=" + c + "server.pem",
             "--tls_key=" + c + "server.key", "--worker_tls_ca=" + c + "ca.pem",
             "--worker_tls_cert=" + c + "gateway.pem", "--worker_tls_key=" + c + "gateway.key",
             "--worker_tls_server_name=v2p-worker",
             absl::StrCat("--worker_args=--tls_cert=", c, "server.pem,--tls_key=", c,
                          "server.key,--tls_client_ca=", c, "ca.pem")});
  ASSERT_TRUE(server.ok()) << server.status();  // it waited for its worker, over mTLS
  const std::string address = (*server)->address();

  // A client trusting the CA reconstructs; the gateway reached its worker.
  auto tls = Channel(address, {"", "", c + "ca.pem"});
  auto ds = core::LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto stub = v1::Reconstruction::NewStub(tls);
  v1::ReconstructResponse resp;
  const grpc::Status st = testing::ReconstructTestTrials(*stub, "ridge", *ds, false, 0, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.results_size(), ds->test.betas.rows());

  // A plaintext client is refused at the handshake.
  EXPECT_NE(Health(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())), "SERVING");
  EXPECT_EQ(Health(tls), "SERVING");

  // The CLI takes the CA from V2P_TLS_CA.
  const std::string cli = absl::StrCat(testing::BinDir(), "/v2p models list --server ", address);
  EXPECT_EQ(testing::RunCommand("V2P_TLS_CA=" + c + "ca.pem " + cli).exit_code, 0);
  EXPECT_NE(testing::RunCommand(cli + " --deadline_s 5").exit_code, 0);
  const auto missing = testing::RunCommand("V2P_TLS_CA=" + c + "nothing.pem " + cli);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("cannot read the CA"), std::string::npos) << missing.output;

  // The worker's port: only a client with a certificate the CA signed.
  auto models = v1::Models::NewStub(tls);
  grpc::ClientContext ctx;
  v1::GetModelRequest get;
  get.set_name("ridge");
  v1::Model model;
  ASSERT_TRUE(models->GetModel(&ctx, get, &model).ok());
  ASSERT_GT(model.placement_size(), 0);
  const std::string worker = model.placement(0).worker();
  grpc::ChannelArguments as_worker_name;
  as_worker_name.SetSslTargetNameOverride("v2p-worker");
  auto worker_channel = [&](const TlsFiles& files) {
    return grpc::CreateCustomChannel(worker, *ChannelCredentials(files), as_worker_name);
  };
  EXPECT_EQ(Health(worker_channel({c + "gateway.pem", c + "gateway.key", c + "ca.pem"})),
            "SERVING");
  EXPECT_NE(Health(worker_channel({"", "", c + "ca.pem"})), "SERVING") << "no client certificate";
  EXPECT_NE(Health(worker_channel({c + "rogue_client.pem", c + "rogue_client.key", c + "ca.pem"})),
            "SERVING")
      << "a certificate another CA signed";
  EXPECT_NE(Health(grpc::CreateChannel(worker, grpc::InsecureChannelCredentials())), "SERVING");
  server->reset();
  std::filesystem::remove_all(repo);
}

}  // namespace
}  // namespace v2p
