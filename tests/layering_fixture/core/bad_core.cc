// A fixture that must fail tests/layering_test.py: core/ may not see gRPC or
// the generated API (never compiled).
#include <grpcpp/grpcpp.h>
#include "voxel2pixel/v1/models.pb.h"
