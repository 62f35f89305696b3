// The real Prometheus server (Debian's `prometheus`) scrapes a v2p-server
// and a v2p-worker on loopback; after traffic its HTTP API shows the
// per-stage histograms and the request counters with non-zero counts.
// promtool checks both endpoints' exposition and the alert rules. The same
// Prometheus evaluates the alert rules and every query of the Grafana
// dashboard, and each metric they name is one the processes export, so a
// renamed metric cannot leave an alert silent or a panel empty.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/subprocess.h"
#include "tests/testing/server_process.h"
#include "tests/testing/test_paths.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p {
namespace {

namespace fs = std::filesystem;
namespace v1 = voxel2pixel::v1;
using google::protobuf::Struct;
using google::protobuf::Value;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// GET of Prometheus' HTTP API at `path` with form-encoded `query`, parsed;
// nullopt when no JSON came back (Prometheus still starting).
std::optional<Struct> Fetch(int port, const std::string& path, const std::string& query = "") {
  const auto r = testing::RunCommand(
      absl::StrCat("curl -s --max-time 5 -G http://127.0.0.1:", port, path,
                   query.empty() ? "" : absl::StrCat(" --data-urlencode 'query=", query, "'")));
  Struct body;
  if (!google::protobuf::util::JsonStringToMessage(r.output, &body).ok()) return std::nullopt;
  return body;
}

// Fetch, from a Prometheus known to be up: no JSON is a failure.
Struct Api(int port, const std::string& path, const std::string& query = "") {
  std::optional<Struct> body = Fetch(port, path, query);
  if (!body) ADD_FAILURE() << path << " " << query << ": no JSON answer";
  return body.value_or(Struct());
}

// The string field `field` of `s`, or "" when it has none.
std::string Text(const Struct& s, const std::string& field) {
  auto it = s.fields().find(field);
  return it == s.fields().end() ? "" : it->second.string_value();
}

// The values at `path` in `s`, in order; lists on the way, and at the end,
// are walked through.
std::vector<Value> Walk(const Value& v, const std::vector<std::string>& path, size_t at = 0) {
  std::vector<Value> out;
  if (at == path.size()) {
    if (!v.has_list_value()) return {v};
    return {v.list_value().values().begin(), v.list_value().values().end()};
  }
  if (v.has_list_value()) {
    for (const Value& e : v.list_value().values()) {
      for (Value& x : Walk(e, path, at)) out.push_back(std::move(x));
    }
  } else if (v.has_struct_value()) {
    auto it = v.struct_value().fields().find(path[at]);
    if (it != v.struct_value().fields().end()) out = Walk(it->second, path, at + 1);
  }
  return out;
}
std::vector<Value> Walk(const Struct& s, const std::vector<std::string>& path) {
  Value v;
  *v.mutable_struct_value() = s;
  return Walk(v, path);
}

// Value of the first sample of an instant-vector query, or -1 (no answer
// yet, or no sample).
double Query(int port, const std::string& promql) {
  std::optional<Struct> answer = Fetch(port, "/api/v1/query", promql);
  if (!answer) return -1;
  // data.result[i].value is [time, "value"]; Walk flattens them in order.
  const std::vector<Value> v = Walk(*answer, {"data", "result", "value"});
  double value = -1;
  if (v.size() < 2 || !absl::SimpleAtod(v[1].string_value(), &value)) return -1;
  return value;
}

// The v2p metric names a PromQL expression reads.
std::set<std::string> MetricsIn(const std::string& promql) {
  std::set<std::string> names;
  const std::regex name("v2p_[a-z0-9_]+");
  for (auto it = std::sregex_iterator(promql.begin(), promql.end(), name);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

TEST(Monitoring, PrometheusScrapesServerAndWorker) {
  ASSERT_TRUE(fs::exists("/usr/bin/prometheus") && fs::exists("/usr/bin/promtool"))
      << "install Debian's prometheus (scripts/install_deps.sh)";
  const std::string dir = testing::MakeTempDir("monitoring");
  const auto train = testing::TrainDigit69Ridge(dir + "/repo", "m");
  ASSERT_EQ(train.exit_code, 0) << train.output;

  // A worker of our own (to know its metrics port) behind a server.
  auto worker =
      server::SpawnWithReadyFd({testing::BinDir() + "/v2p-worker", "--repo=" + dir + "/repo",
                                "--port=0", "--device=cpu", "--metrics_port=0"},
                               absl::Seconds(60));
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_GT(worker->metrics_port, 0);
  auto server = testing::ServerProcess::Start(dir + "/repo",
                                              {absl::StrCat("--workers=127.0.0.1:", worker->port)});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->metrics_port(), 0);

  auto stub = v1::Reconstruction::NewStub((*server)->channel());
  for (int i = 0; i < 20; ++i) {
    v1::ReconstructRequest req;
    req.set_model("m");
    auto* s = req.add_samples();
    s->mutable_betas()->Resize(3092, 0.1f * i);
    v1::ReconstructResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Reconstruct(&ctx, req, &resp).ok());
  }
  v1::ReconstructRequest bad;
  bad.set_model("m");
  v1::ReconstructResponse resp;
  grpc::ClientContext ctx;
  EXPECT_FALSE(stub->Reconstruct(&ctx, bad, &resp).ok());  // an INVALID_ARGUMENT to count

  for (int port : {(*server)->metrics_port(), worker->metrics_port}) {
    const auto check = testing::RunCommand(absl::StrCat(
        "curl -s --max-time 5 http://127.0.0.1:", port, "/metrics | promtool check metrics"));
    EXPECT_EQ(check.exit_code, 0) << "port " << port << ": " << check.output;
  }
  const auto rules = testing::RunCommand("promtool check rules " + testing::SourceDir() +
                                         "/deploy/prometheus/alerts.yml");
  EXPECT_EQ(rules.exit_code, 0) << rules.output;

  const int prom_port = FreePort();
  std::ofstream(dir + "/prometheus.yml")
      << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
      << "rule_files: ['" << testing::SourceDir() << "/deploy/prometheus/alerts.yml']\n"
      << "scrape_configs:\n"
      << "  - job_name: v2p-server\n    static_configs:\n      - targets: ['127.0.0.1:"
      << (*server)->metrics_port() << "']\n"
      << "  - job_name: v2p-worker\n    static_configs:\n      - targets: ['127.0.0.1:"
      << worker->metrics_port << "']\n";
  const pid_t prom = fork();
  if (prom == 0) {
    const int log = open((dir + "/prometheus.log").c_str(), O_WRONLY | O_CREAT, 0644);
    dup2(log, 1);
    dup2(log, 2);
    const std::string cfg = "--config.file=" + dir + "/prometheus.yml";
    const std::string tsdb = "--storage.tsdb.path=" + dir + "/tsdb";
    const std::string web = absl::StrCat("--web.listen-address=127.0.0.1:", prom_port);
    execl("/usr/bin/prometheus", "prometheus", cfg.c_str(), tsdb.c_str(), web.c_str(), nullptr);
    _exit(127);
  }

  // Scrapes every second; allow for Prometheus' own start-up.
  const char* kStage =
      "sum(v2p_stage_duration_seconds_count{job=\"v2p-worker\",model=\"m\",stage=\"decode\"})";
  const char* kServerRequests =
      "sum(v2p_grpc_requests_total{job=\"v2p-server\",method=\"/voxel2pixel.v1.Reconstruction/"
      "Reconstruct\",code=\"OK\"})";
  const char* kWorkerRequests = "sum(v2p_grpc_requests_total{job=\"v2p-worker\",code=\"OK\"})";
  const char* kRejected =
      "sum(v2p_grpc_requests_total{job=\"v2p-server\",code=\"INVALID_ARGUMENT\"})";
  const char* kWorkerUp = "sum(v2p_worker_up{job=\"v2p-server\"})";
  double stage = -1, server_requests = -1, worker_requests = -1, rejected = -1, up = -1;
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (absl::Now() < until && (stage < 20 || server_requests < 20 || rejected < 1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stage = Query(prom_port, kStage);
    server_requests = Query(prom_port, kServerRequests);
    worker_requests = Query(prom_port, kWorkerRequests);
    rejected = Query(prom_port, kRejected);
    up = Query(prom_port, kWorkerUp);
  }

  // Every v2p series name Prometheus holds from the two endpoints.
  std::set<std::string> exported;
  for (const Value& name : Walk(Api(prom_port, "/api/v1/label/__name__/values"), {"data"})) {
    exported.insert(name.string_value());
  }
  EXPECT_TRUE(exported.count("v2p_stage_duration_seconds_bucket")) << exported.size() << " names";

  // The dashboard's queries, as Grafana sends them ($job: all jobs).
  std::ifstream dashboard_file(testing::SourceDir() + "/deploy/grafana/voxel2pixel.json");
  const std::string dashboard_json((std::istreambuf_iterator<char>(dashboard_file)),
                                   std::istreambuf_iterator<char>());
  Struct dashboard;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(dashboard_json, &dashboard).ok());
  const std::vector<Value> exprs = Walk(dashboard, {"panels", "targets", "expr"});
  EXPECT_GE(exprs.size(), 8u);
  for (const Value& e : exprs) {
    const std::string promql = std::regex_replace(e.string_value(), std::regex("\\$job"), ".+");
    const Struct answer = Api(prom_port, "/api/v1/query", promql);
    EXPECT_EQ(Text(answer, "status"), "success") << promql << ": " << Text(answer, "error");
    for (const std::string& m : MetricsIn(promql)) {
      EXPECT_TRUE(exported.count(m))
          << "dashboard query " << promql << " reads " << m << ", which neither process exports";
    }
  }

  // The alert rules, as Prometheus itself evaluates them (each at least once).
  std::vector<Value> alert_rules;
  const absl::Time alert_rules_until = absl::Now() + absl::Seconds(20);
  while (absl::Now() < alert_rules_until) {
    alert_rules = Walk(Api(prom_port, "/api/v1/rules"), {"data", "groups", "rules"});
    bool evaluated = !alert_rules.empty();
    for (const Value& r : alert_rules) {
      const std::string health = Text(r.struct_value(), "health");
      if (health.empty() || health == "unknown") evaluated = false;
    }
    if (evaluated) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(alert_rules.size(), 4u);
  for (const Value& r : alert_rules) {
    const Struct& rule = r.struct_value();
    const std::string name = Text(rule, "name");
    EXPECT_EQ(Text(rule, "health"), "ok") << name << ": " << Text(rule, "lastError");
    EXPECT_EQ(Text(rule, "state"), "inactive") << name << " fires on a healthy server and worker";
    for (const std::string& m : MetricsIn(Text(rule, "query"))) {
      EXPECT_TRUE(exported.count(m))
          << "alert " << name << " reads " << m << ", which neither process exports";
    }
  }

  std::printf(
      "Prometheus evaluated %zu dashboard queries and %zu alert rules; %zu v2p series names\n",
      exprs.size(), alert_rules.size(), exported.size());

  kill(prom, SIGTERM);
  waitpid(prom, nullptr, 0);
  EXPECT_EQ(stage, 20) << kStage;
  EXPECT_EQ(server_requests, 20) << kServerRequests;
  EXPECT_GE(worker_requests, 20) << kWorkerRequests;
  EXPECT_EQ(rejected, 1) << kRejected;
  EXPECT_EQ(up, 1) << kWorkerUp;
  server->reset();
  kill(worker->pid, SIGTERM);
  waitpid(worker->pid, nullptr, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace v2p
