// v2p-worker: serves the internal worker API from a model repository on one
// device. Usually started and supervised by v2p-server (--workers=spawn:N).
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "core/pipeline/device.h"
#include "proto/serving.h"
#include "workers/model_registry.h"
#include "workers/worker_service.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on (0.0.0.0 for all interfaces).");
ABSL_FLAG(int, port, 0,
          "Port to listen on; 0 picks a free one (see --ready_fd).");
ABSL_FLAG(std::string, repo, "", "Model repository directory (required).");
ABSL_FLAG(std::string, device, "auto", "auto, cpu or cuda:N.");
ABSL_FLAG(int, ready_fd, -1,
          "Write the bound port to this file descriptor, then close it.");
ABSL_FLAG(int, max_message_mb, 64, "Largest request or response, in MiB.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "v2p-worker --repo=DIR [--port=P] [--device=auto|cpu|cuda:N]");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_repo).empty()) {
    std::fprintf(stderr, "v2p-worker: --repo is required\n");
    return 2;
  }
  auto device = v2p::core::PickDevice(absl::GetFlag(FLAGS_device));
  if (!device.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n",
                 device.status().ToString().c_str());
    return 2;
  }
  auto registry =
      v2p::worker::ModelRegistry::Create({absl::GetFlag(FLAGS_repo)});
  if (!registry.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n",
                 registry.status().ToString().c_str());
    return 2;
  }
  v2p::worker::WorkerService service(registry->get(), {*device});
  v2p::ServeOptions serve;
  serve.name = "v2p-worker[" + *device + "]";
  serve.host = absl::GetFlag(FLAGS_host);
  serve.port = absl::GetFlag(FLAGS_port);
  serve.ready_fd = absl::GetFlag(FLAGS_ready_fd);
  serve.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  serve.services = {&service};
  const absl::Status status = v2p::ServeUntilSignalled(serve);
  if (!status.ok()) {
    std::fprintf(stderr, "v2p-worker: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
