// A fixture that must fail tests/layering_test.py: the gateway may not see
// core/ or LibTorch (never compiled).
#include "core/pipeline/pipeline.h"
#include "torch/torch.h"
