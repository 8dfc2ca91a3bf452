// Metric blocks and their rendering: histogram buckets, status slots, the Prometheus writer
// (checked by the test parser in prom_text.h), a whole exposition from two cores with routes and
// keys, and who may read /metrics.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "prom_text.h"
#include "ringgate/config/config.h"
#include "ringgate/http/request.h"
#include "ringgate/http/router.h"
#include "ringgate/keys/key_pool.h"
#include "ringgate/observe/metrics.h"
#include "ringgate/observe/metrics_route.h"
#include "ringgate/observe/prometheus.h"

namespace ringgate {
namespace {

using testing::ParsePromText;
using testing::PromScrape;

constexpr char kKey[] = "AIzaSyFAKEkey0123456789abcdefghijklmnop";

std::string ErrorsOf(const PromScrape& scrape) {
  std::string out;
  for (const std::string& e : scrape.errors)
    out += e + "\n";
  return out;
}

TEST(HistogramTest, BoundsAreInclusiveAndTheRestIsInf) {
  Histogram h(kUpstreamBucketsUs);
  h.Observe(0);
  h.Observe(5'000);  // on the first bound
  h.Observe(5'001);
  h.Observe(600'000'000);
  h.Observe(600'000'001);
  EXPECT_EQ(h.bucket(0), 2u);
  EXPECT_EQ(h.bucket(1), 1u);
  EXPECT_EQ(h.bucket(std::size(kUpstreamBucketsUs) - 1), 1u);
  EXPECT_EQ(h.bucket(std::size(kUpstreamBucketsUs)), 1u) << "+Inf";
  EXPECT_EQ(h.sum_us(), 0u + 5'000 + 5'001 + 600'000'000 + 600'000'001);
  static_assert(std::size(kUpstreamBucketsUs) <= Histogram::kMaxBuckets);
  static_assert(std::size(kOverheadBucketsUs) <= Histogram::kMaxBuckets);
}

TEST(StatusSlotTest, KnownCodesHaveSlotsOthersShareOne) {
  for (uint16_t code : kStatusCodes)
    EXPECT_EQ(StatusOfSlot(StatusSlot(code)), code);
  EXPECT_EQ(StatusSlot(299), kOtherStatusSlot);
  EXPECT_EQ(StatusSlot(-1), kOtherStatusSlot);
  EXPECT_EQ(StatusSlot(1000), kOtherStatusSlot);
  EXPECT_EQ(StatusOfSlot(kOtherStatusSlot), 0);
}

TEST(PrometheusWriterTest, SamplesAndEscapes) {
  std::string out;
  PrometheusWriter w(out);
  w.Family("demo_total", "counter", "A help text with a \\ and a\nline feed.");
  w.Sample("demo_total", {{"path", "a\"b\\c\nd"}}, uint64_t{7});
  w.Family("demo_gauge", "gauge", "Negative values too.");
  w.Sample("demo_gauge", {}, int64_t{-3});
  EXPECT_EQ(out,
            "# HELP demo_total A help text with a \\\\ and a\\nline feed.\n"
            "# TYPE demo_total counter\n"
            "demo_total{path=\"a\\\"b\\\\c\\nd\"} 7\n"
            "# HELP demo_gauge Negative values too.\n"
            "# TYPE demo_gauge gauge\n"
            "demo_gauge -3\n");
  PromScrape scrape = ParsePromText(out);
  EXPECT_TRUE(scrape.errors.empty()) << ErrorsOf(scrape);
  ASSERT_EQ(scrape.samples.size(), 2u);
  EXPECT_EQ(scrape.samples[0].labels.at("path"), "a\"b\\c\nd");
}

TEST(PrometheusWriterTest, HistogramIsCumulativeWithInfAndCount) {
  std::string out;
  PrometheusWriter w(out);
  const uint64_t bounds[] = {1'000, 250'000, 2'000'000};
  const uint64_t counts[] = {1, 0, 3, 2};
  w.Family("demo_seconds", "histogram", "Demo.");
  w.Histogram("demo_seconds", {{"core", "0"}}, bounds, counts, 2'500'000);
  EXPECT_EQ(out,
            "# HELP demo_seconds Demo.\n"
            "# TYPE demo_seconds histogram\n"
            "demo_seconds_bucket{core=\"0\",le=\"0.001\"} 1\n"
            "demo_seconds_bucket{core=\"0\",le=\"0.25\"} 1\n"
            "demo_seconds_bucket{core=\"0\",le=\"2\"} 4\n"
            "demo_seconds_bucket{core=\"0\",le=\"+Inf\"} 6\n"
            "demo_seconds_sum{core=\"0\"} 2.500000\n"
            "demo_seconds_count{core=\"0\"} 6\n");
  PromScrape scrape = ParsePromText(out);
  EXPECT_TRUE(scrape.errors.empty()) << ErrorsOf(scrape);
}

TEST(PromParserTest, CatchesBrokenExpositions) {
  EXPECT_FALSE(ParsePromText("x 1\n").errors.empty()) << "no TYPE";
  EXPECT_FALSE(ParsePromText("# TYPE x counter\nx{a=\"1\" 1\n").errors.empty());
  EXPECT_FALSE(ParsePromText("# TYPE x counter\nx one\n").errors.empty());
  EXPECT_FALSE(ParsePromText("# TYPE x counter\nx 1\nx 2\n").errors.empty()) << "twice";
  EXPECT_FALSE(ParsePromText("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                             "h_sum 1\nh_count 1\n")
                   .errors.empty())
      << "not cumulative";
  EXPECT_FALSE(ParsePromText("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                             "h_sum 1\nh_count 3\n")
                   .errors.empty())
      << "+Inf != count";
  EXPECT_TRUE(ParsePromText("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                            "h_sum 1\nh_count 2\n")
                  .errors.empty());
}

class RenderMetricsTest : public ::testing::Test {
 protected:
  RenderMetricsTest() : keys_(KeyPoolOptions{}, 1, 1'000'000) {
    router_.Add("GET", "/healthz", [](HttpRequest&, Responder&) {});
    router_.Add("POST", "/v1/chat/completions", [](HttpRequest&, Responder&) {});
    router_.AddPrefix("POST", "/v1beta/models/", [](HttpRequest&, Responder&) {});
    std::vector<std::string> keys = {kKey, "AIzaSyBBBBkey0123456789abcdefghijklmnop",
                                     "AIzaSyCCCCkey0123456789abcdefghijklmnop"};
    keys_.AddKeys(keys);
    keys_.Apply(HealthEvent::Quarantine(1));
    keys_.Apply(HealthEvent::Rest(2, "gemini-2.5-flash", 2'000'000));
  }

  PromScrape Render() {
    MetricsSources sources;
    sources.cores = {&core0_, &core1_};
    sources.router = &router_;
    sources.keys = &keys_;
    sources.now_ms = 1'500'000;
    sources.started_ms = 1'000'000;
    text_.clear();
    RenderMetrics(sources, text_);
    return ParsePromText(text_);
  }

  CoreMetrics core0_;
  CoreMetrics core1_;
  Router router_;
  KeyPoolShard keys_;
  std::string text_;
};

TEST_F(RenderMetricsTest, SumsCoresAndLabelsRoutesByPattern) {
  uint16_t chat = Router::kFirstRouteId + 1;
  uint16_t native = Router::kFirstRouteId + 2;
  core0_.CountRequest(chat, 200);
  core0_.CountRequest(chat, 200);
  core1_.CountRequest(chat, 200);
  core1_.CountRequest(chat, 429);
  core1_.CountRequest(native, 200);
  core0_.CountRequest(kRouteUnmatched, 404);
  core0_.CountRequest(kRouteNone, 400);
  core1_.CountRequest(chat, 299);  // a code without a slot
  core0_.open_connections.Set(2);
  core1_.open_connections.Set(5);
  core0_.prompt_tokens.Add(10);
  core1_.prompt_tokens.Add(5);
  core1_.completion_tokens.Add(7);
  core0_.upstream_duration.Observe(20'000);
  core1_.upstream_duration.Observe(3'000'000);
  core0_.upstream_errors[0].Add();
  PromScrape scrape = Render();
  ASSERT_TRUE(scrape.errors.empty()) << ErrorsOf(scrape) << text_;
  EXPECT_EQ(scrape.Sum("ringgate_requests_total",
                       {{"route", "/v1/chat/completions"}, {"method", "POST"}, {"status", "200"}}),
            3);
  EXPECT_EQ(
      scrape.Sum("ringgate_requests_total", {{"route", "/v1/chat/completions"}, {"status", "429"}}),
      1);
  EXPECT_EQ(scrape.Sum("ringgate_requests_total",
                       {{"route", "/v1/chat/completions"}, {"status", "other"}}),
            1);
  EXPECT_EQ(scrape.Sum("ringgate_requests_total", {{"route", "/v1beta/models/*"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_requests_total", {{"route", "unmatched"}, {"status", "404"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_requests_total", {{"route", "none"}, {"status", "400"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_requests_total", {{"route", "/healthz"}}), -1)
      << "no series for a route never answered";
  EXPECT_EQ(scrape.Sum("ringgate_open_connections", {{"core", "0"}}), 2);
  EXPECT_EQ(scrape.Sum("ringgate_open_connections", {{"core", "1"}}), 5);
  EXPECT_EQ(scrape.Sum("ringgate_tokens_total", {{"kind", "prompt"}}), 15);
  EXPECT_EQ(scrape.Sum("ringgate_tokens_total", {{"kind", "completion"}}), 7);
  EXPECT_EQ(scrape.Sum("ringgate_upstream_request_duration_seconds_count"), 2);
  EXPECT_EQ(scrape.Sum("ringgate_upstream_request_duration_seconds_bucket", {{"le", "0.025"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_upstream_request_duration_seconds_bucket", {{"le", "5"}}), 2);
  EXPECT_DOUBLE_EQ(scrape.Sum("ringgate_upstream_request_duration_seconds_sum"), 3.02);
  EXPECT_EQ(scrape.Sum("ringgate_upstream_errors_total", {{"kind", "dns"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_cores"), 2);
  EXPECT_EQ(scrape.Sum("ringgate_start_time_seconds"), 1000);
  EXPECT_EQ(scrape.types.at("ringgate_gateway_overhead_seconds"), "histogram");
}

TEST_F(RenderMetricsTest, KeyHealthByStateAndPerMaskedKey) {
  PromScrape scrape = Render();
  ASSERT_TRUE(scrape.errors.empty()) << ErrorsOf(scrape);
  EXPECT_EQ(scrape.Sum("ringgate_keys", {{"state", "healthy"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_keys", {{"state", "quarantined"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_keys", {{"state", "resting"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_keys", {{"state", "over_daily_limit"}}), 0);
  EXPECT_EQ(scrape.SeriesCount("ringgate_key_health"), 3u);
  EXPECT_EQ(scrape.Sum("ringgate_key_health",
                       {{"key", "AIzaSyFA"}, {"index", "0"}, {"state", "healthy"}}),
            1);
  EXPECT_EQ(scrape.Sum("ringgate_key_health", {{"index", "1"}, {"state", "quarantined"}}), 1);
  EXPECT_EQ(scrape.Sum("ringgate_key_health", {{"index", "2"}, {"state", "resting"}}), 1);
  EXPECT_EQ(text_.find("FAKEkey0123"), std::string::npos) << "a whole key in the scrape";
  EXPECT_EQ(scrape.Sum("ringgate_upstream_throttled"), 0);
}

HttpRequest WithAuthorization(std::string_view value) {
  HttpRequest request;
  if (!value.empty())
    request.headers.push_back({"Authorization", value});
  return request;
}

TEST(MetricsAuthTest, TokenOrWebPassword) {
  Config config;
  config.password = "secret";
  config.metrics_token = "scrape-token";
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization(""), config));
  EXPECT_TRUE(MetricsRequestAuthorized(WithAuthorization("Bearer scrape-token"), config));
  EXPECT_TRUE(MetricsRequestAuthorized(WithAuthorization("bearer  secret "), config));
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization("Bearer wrong"), config));
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization("Bearer scrape-toke"), config));
  // "anyone:secret" and "anyone:wrong" in base64.
  EXPECT_TRUE(MetricsRequestAuthorized(WithAuthorization("Basic YW55b25lOnNlY3JldA=="), config));
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization("Basic YW55b25lOndyb25n"), config));
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization("Basic !!!"), config));
  // The token is not a Basic password.
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization("Basic eDpzY3JhcGUtdG9rZW4="), config));
}

TEST(MetricsAuthTest, NothingOpensWithoutSecrets) {
  Config config;
  config.password = "";
  config.metrics_token = "";
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization("Bearer "), config));
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization("Bearer"), config));
  EXPECT_FALSE(MetricsRequestAuthorized(WithAuthorization("Basic Og=="), config)) << "\":\"";
  EXPECT_EQ(&WebPassword(config), &config.password);
}

}  // namespace
}  // namespace ringgate
