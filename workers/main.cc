// v2p-worker with the built-in methods.
#include "workers/worker_main.h"

int main(int argc, char** argv) { return v2p::worker::WorkerMain(argc, argv); }
