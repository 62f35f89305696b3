// A method's generic parameters (core/methods/registry.h): each value
// parsed by its option's type, every refusal naming the method and key and
// quoting the client's text bounded and escaped; the built-in methods
// take their parameters through it.
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "core/methods/fattention/fattention_method.h"
#include "core/methods/registry.h"
#include "core/methods/shen/shen_method.h"
#include "gtest/gtest.h"

namespace v2p::core {
namespace {

TEST(MethodParameters, EachValueIsParsedByItsOptionsType) {
  bool flag = false;
  double weight = 0;
  float rate = 0;
  int count = 0;
  int64_t version = 0;
  std::string name;
  const std::map<std::string, ParameterSetter> setters = {
      {"flag", SetsValue(&flag)},   {"weight", SetsValue(&weight)},   {"rate", SetsValue(&rate)},
      {"count", SetsValue(&count)}, {"version", SetsValue(&version)}, {"name", SetsValue(&name)},
  };
  ASSERT_TRUE(ApplyParameters("m",
                              {{"flag", "true"},
                               {"weight", "-2.5e-3"},
                               {"rate", "0.5"},
                               {"count", "12"},
                               {"version", "9000000000"},
                               {"name", "a b"}},
                              setters)
                  .ok());
  EXPECT_TRUE(flag);
  EXPECT_DOUBLE_EQ(weight, -2.5e-3);
  EXPECT_FLOAT_EQ(rate, 0.5f);
  EXPECT_EQ(count, 12);
  EXPECT_EQ(version, 9000000000);
  EXPECT_EQ(name, "a b");
  for (const auto& [key, value, says] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"flag", "yes", "method m: flag is not true or false: 'yes'"},
           {"weight", "nan", "method m: weight is not a number: 'nan'"},
           {"weight", "inf", "method m: weight is not a number: 'inf'"},
           {"count", "1.5", "method m: count is not an integer: '1.5'"},
           {"count", "", "method m: count is not an integer: ''"},
           {"count", "99999999999", "method m: count is not an integer: '99999999999'"},
       }) {
    const absl::Status s = ApplyParameters("m", {{key, value}}, setters);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << key << "=" << value;
    EXPECT_EQ(s.message(), says);
  }
}

TEST(MethodParameters, RefusalsListWhatIsTakenAndQuoteClientTextBoundedAndEscaped) {
  int count = 0;
  const std::map<std::string, ParameterSetter> setters = {{"count", SetsValue(&count)},
                                                          {"depth", SetsValue(&count)}};
  const absl::Status unknown = ApplyParameters("m", {{"cuont", "1"}}, setters);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.message(), "method m: unknown parameter 'cuont' (it takes count, depth)");
  const std::string forged = "1\n[E] forged log line" + std::string(5000, 'x');
  for (const MethodParameters& p :
       {MethodParameters{{forged, "1"}}, MethodParameters{{"count", forged}}}) {
    const absl::Status s = ApplyParameters("m", p, setters);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message().find('\n'), absl::string_view::npos) << s.message();
    EXPECT_NE(s.message().find("1\\n[E] forged"), absl::string_view::npos) << s.message();
    EXPECT_NE(s.message().find("x...'"), absl::string_view::npos) << s.message();
    EXPECT_LT(s.message().size(), 200u);
  }
}

TEST(MethodParameters, TheBuiltInMethodsTakeThemThroughTheSameParser) {
  EXPECT_TRUE(ShenMethod::Create({{"iterations", "50"}, {"optimizer", "gd"}}).ok());
  EXPECT_EQ(ShenMethod::Create({{"iterations", "many"}}).status().message(),
            "method shen: iterations is not an integer: 'many'");
  EXPECT_EQ(ShenMethod::Create({{"optimizer", "adam"}}).status().message(),
            "method shen: optimizer is \"lbfgs\" or \"gd\": 'adam'");
  EXPECT_EQ(ShenMethod::Create({{"norm_correction", "1"}}).status().message(),
            "method shen: norm_correction is not true or false: '1'");
  EXPECT_EQ(FAttentionMethod::Create({{"otsu", "maybe"}}).status().message(),
            "method fattention: otsu is not true or false: 'maybe'");
}

}  // namespace
}  // namespace v2p::core
