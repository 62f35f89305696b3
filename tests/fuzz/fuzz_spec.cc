// libFuzzer harness: any text as a pipeline spec and as a dataset
// description, parsed and checked by spec/ as the gateway does.
#include <google/protobuf/text_format.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "spec/dataset_rules.h"
#include "spec/method_spec.h"
#include "spec/pipeline_spec_rules.h"
#include "spec/spec_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = v2p::spec::ParsePipelineSpec(text);
  if (spec.ok()) {
    (void)v2p::spec::ValidatePipelineSpec(*spec);
    (void)v2p::spec::ValidateMethodSpec(*spec);
  }
  voxel2pixel::v1::DatasetDescription d;
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  if (parser.ParseFromString(text, &d)) (void)v2p::spec::ValidateDatasetDescription(d);
  return 0;
}
