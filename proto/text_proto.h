// Parsing text-format protos (pipeline specs, dataset descriptions) with
// errors that name the line and column. Shared by every process edge.
#ifndef V2P_PROTO_TEXT_PROTO_H_
#define V2P_PROTO_TEXT_PROTO_H_

#include <string>
#include <vector>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace v2p {

// `where` names the source in errors (a path, or "pipeline spec").
// INVALID_ARGUMENT lists each error as "line:column: message".
template <typename Message>
absl::StatusOr<Message> ParseTextProto(const std::string& text, const std::string& where) {
  class Collector : public google::protobuf::io::ErrorCollector {
   public:
    void AddError(int line, int column, const std::string& message) override {
      errors.push_back(absl::StrCat(line + 1, ":", column + 1, ": ", message));
    }
    std::vector<std::string> errors;
  } collector;
  Message message;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  if (!parser.ParseFromString(text, &message)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ":", absl::StrJoin(collector.errors, "; ")));
  }
  return message;
}

}  // namespace v2p

#endif  // V2P_PROTO_TEXT_PROTO_H_
