// The evaluation page (client/report_html.h) from synthetic inputs: every
// section present with one row and two images per trial, SD maps when
// given, client and server text escaped, and inputs that disagree refused.
// tests/python/report_test.py loads a real one in a browser.
#include "client/report_html.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/evaluation/contact_sheet.h"
#include "core/evaluation/report.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace v2p::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

ReportInputs Inputs(int n, bool with_sd) {
  ReportInputs in;
  in.model = "m<1>";
  in.version = 3;
  in.description = "ridge \"to\" pixels";
  in.dataset = "lab & co";
  in.source = "betas.mat (fmriTest)";
  in.shape = {8, 8, 1};
  std::srand(7);
  in.stimuli = (Eigen::MatrixXf::Random(n, 64).array() + 1) / 2;
  in.recon = (in.stimuli.array() + 0.1f * Eigen::ArrayXXf::Random(n, 64)).cwiseMax(0).cwiseMin(1);
  auto scores =
      core::ScoreReconstructions(in.recon.cast<double>(), in.stimuli.cast<double>(), in.shape);
  EXPECT_TRUE(scores.ok()) << scores.status();
  in.metrics.scores = *scores;
  for (int i = 0; i < n; ++i) {
    in.ids.push_back(i == 0 ? "<script>alert(1)</script>" : absl::StrCat("trial_", i));
    in.timings["decode"].push_back(absl::Microseconds(100 + 10 * i));
    in.timings["refine"].push_back(absl::ZeroDuration());  // not measured: no histogram
    if (with_sd) {
      auto png = core::EncodePng(in.stimuli.row(i).data(), in.shape);
      EXPECT_TRUE(png.ok());
      in.sd_pngs.push_back(*png);
    }
  }
  auto sheet = core::ContactSheetPng({in.stimuli, in.recon}, in.shape);
  EXPECT_TRUE(sheet.ok());
  in.contact_sheet_png = *sheet;
  return in;
}

TEST(ReportHtml, HoldsEverySectionWithARowAndTwoImagesPerTrial) {
  auto html = ReportHtml(Inputs(4, /*with_sd=*/false));
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_THAT(*html, HasSubstr("<table id=\"metrics\">"));
  EXPECT_THAT(*html, HasSubstr("<table id=\"per-trial\">"));
  EXPECT_EQ(Count(*html, "<td class=\"id\">"), 4);
  EXPECT_EQ(Count(*html, "<img "), 1 + 2 * 4);  // contact sheet, stimulus and reconstruction
  EXPECT_EQ(Count(*html, "<figure><svg"), 1) << "decode only: refine was never measured";
  EXPECT_THAT(*html, HasSubstr("decode: median"));
  EXPECT_THAT(*html, Not(HasSubstr("id=\"sd-maps\"")));
  EXPECT_THAT(*html, HasSubstr("data:image/png;base64,iVBORw0KGgo"));  // PNG signature
  // Each trial's own stimulus and reconstruction (rows of column-major
  // matrices, which are not contiguous), at the page's scale.
  const ReportInputs in = Inputs(4, false);
  for (int i : {1, 3}) {
    for (const Eigen::MatrixXf* images : {&in.stimuli, &in.recon}) {
      const Eigen::RowVectorXf row = images->row(i);
      auto png = core::EncodePng(row.data(), in.shape, 84 / in.shape.width);
      ASSERT_TRUE(png.ok());
      EXPECT_THAT(*html, HasSubstr(absl::Base64Escape(*png))) << "trial " << i;
    }
  }
}

TEST(ReportHtml, ShowsTheSdMapsOfDraws) {
  auto html = ReportHtml(Inputs(3, /*with_sd=*/true));
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_THAT(*html, HasSubstr("id=\"sd-maps\""));
  EXPECT_EQ(Count(*html, "<img "), 1 + 2 * 3 + 3);
}

TEST(ReportHtml, EscapesEveryStringItIsGiven) {
  auto html = ReportHtml(Inputs(2, false));
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_EQ(Count(*html, "<script>"), 1) << "only the page's own load check";
  EXPECT_THAT(*html, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(*html, HasSubstr("m&lt;1&gt; version 3"));
  EXPECT_THAT(*html, HasSubstr("ridge &quot;to&quot; pixels"));
  EXPECT_THAT(*html, HasSubstr("lab &amp; co"));
  EXPECT_EQ(HtmlEscape("a'b"), "a&#39;b");
}

TEST(ReportHtml, InputsThatDisagreeAreRefused) {
  ReportInputs in = Inputs(3, true);
  in.ids.pop_back();
  EXPECT_EQ(ReportHtml(in).status().code(), absl::StatusCode::kInvalidArgument);
  in = Inputs(3, true);
  in.sd_pngs.pop_back();
  EXPECT_EQ(ReportHtml(in).status().code(), absl::StatusCode::kInvalidArgument);
  in = Inputs(3, false);
  in.shape = {4, 4, 1};
  EXPECT_EQ(ReportHtml(in).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReportHtml(ReportInputs()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace v2p::client
