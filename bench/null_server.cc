// A Reconstruction server that does no work: each sample is answered at
// once with a result of the size the digit69 pipeline returns (its id, a
// PNG-sized image, stage timings), from the same gRPC setup the v2p
// processes use (callback API, ServeUntilSignalled, the same per-RPC
// metrics interceptor). serving_bench loads it with the same
// clients as the real server: what it sustains bounds what any gateway on
// this gRPC can sustain on the machine, since the gateway does at least
// this much for every call.
#include <prometheus/registry.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "proto/rpc_metrics.h"
#include "proto/serving.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

ABSL_FLAG(int, port, 0, "Port to listen on; 0 picks a free one.");
ABSL_FLAG(int, ready_fd, -1, "Writes the bound port here (see SpawnWithReadyFd).");
ABSL_FLAG(int, voxels, 3092, "Voxel count GetModel reports.");
ABSL_FLAG(int, png_bytes, 400,
          "Size of the PNG each result carries (serving_bench passes the pipeline's).");

namespace {

namespace v1 = voxel2pixel::v1;

class NullModels final : public v1::Models::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const v1::GetModelRequest* request,
                                     v1::Model* response) override {
    response->set_name(request->name());
    response->set_num_voxels(absl::GetFlag(FLAGS_voxels));
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class NullReconstruction final : public v1::Reconstruction::CallbackService {
 public:
  NullReconstruction() : png_(absl::GetFlag(FLAGS_png_bytes), 'x') {}

  grpc::ServerUnaryReactor* Reconstruct(grpc::CallbackServerContext* context,
                                        const v1::ReconstructRequest* request,
                                        v1::ReconstructResponse* response) override {
    for (const v1::Sample& sample : request->samples()) {
      v1::ReconstructionResult* r = response->add_results();
      r->set_sample_id(sample.id());
      r->set_model(request->model());
      r->set_model_version(1);
      v1::Image* image = r->mutable_image();
      image->set_png(png_);
      image->set_height(28);
      image->set_width(28);
      image->set_channels(1);
      r->mutable_timings()->mutable_total()->set_nanos(1000);
    }
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const std::string png_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  v2p::DisableMutexDeadlockDetection();
  prometheus::Registry registry;
  v2p::RpcMetrics rpc_metrics(registry, "null", "bench");
  NullModels models;
  NullReconstruction reconstruction;
  v2p::ServeOptions serve;
  serve.name = "null_server";
  serve.port = absl::GetFlag(FLAGS_port);
  serve.ready_fd = absl::GetFlag(FLAGS_ready_fd);
  serve.shutdown_grace = absl::Seconds(1);
  serve.interceptors.push_back(rpc_metrics.InterceptorFactory());
  serve.services = {&models, &reconstruction};
  const absl::Status status = v2p::ServeUntilSignalled(std::move(serve));
  if (!status.ok()) {
    std::fprintf(stderr, "null_server: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
