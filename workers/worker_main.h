// v2p-worker: serves the internal worker API from a model repository on one
// device, and runs training jobs. Usually started and supervised by
// v2p-server (--workers=spawn:N). Its flags are defined beside WorkerMain;
// a build that adds methods (core/methods/registry.h) registers them in its
// own main and then calls WorkerMain.
#ifndef V2P_WORKERS_WORKER_MAIN_H_
#define V2P_WORKERS_WORKER_MAIN_H_

namespace v2p::worker {

// Parses the flags, serves until SIGTERM/SIGINT; the process exit code.
int WorkerMain(int argc, char** argv);

}  // namespace v2p::worker

#endif  // V2P_WORKERS_WORKER_MAIN_H_
