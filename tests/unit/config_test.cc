// Config: defaults, environment then flags, value parsers, error messages and help text.
#include "ringgate/config/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringgate {
namespace {

struct Args {
  std::vector<std::string> argv;
  std::vector<std::string> env;
};

Result<Config> Parse(const Args& args, bool* help = nullptr) {
  std::vector<const char*> argv = {"ringgate"};
  for (const std::string& a : args.argv)
    argv.push_back(a.c_str());
  argv.push_back(nullptr);
  std::vector<const char*> env;
  for (const std::string& e : args.env)
    env.push_back(e.c_str());
  env.push_back(nullptr);
  bool ignored = true;
  return ParseConfig(static_cast<int>(argv.size() - 1), argv.data(), env.data(),
                     help != nullptr ? help : &ignored);
}

TEST(ConfigTest, Defaults) {
  bool help = true;
  Result<Config> config = Parse({}, &help);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_FALSE(help);
  ASSERT_EQ(config->listen.size(), 1u);
  EXPECT_EQ(config->listen[0].host, "0.0.0.0");
  EXPECT_EQ(config->listen[0].port, 7860);
  EXPECT_EQ(config->threads, 0);
  EXPECT_EQ(config->max_header_bytes, 64u * 1024);
  EXPECT_EQ(config->max_body_bytes, 32ull * 1024 * 1024);
  EXPECT_EQ(config->header_timeout_ms, 15000u);
  EXPECT_EQ(config->idle_timeout_ms, 60000u);
  EXPECT_EQ(config->max_connections_per_core, 16384u);
  EXPECT_EQ(config->drain_timeout_ms, 10000u);
  EXPECT_EQ(config->log_level, "info");
}

TEST(ConfigTest, NullEnvironmentIsAllowed) {
  const char* argv[] = {"ringgate", "--threads", "3", nullptr};
  bool help = false;
  Result<Config> config = ParseConfig(3, argv, nullptr, &help);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->threads, 3);
}

TEST(ConfigTest, EveryOptionFromEnvironment) {
  Result<Config> config =
      Parse({{},
             {"PATH=/usr/bin", "LISTEN=127.0.0.1:8080,[::1]:8081", "THREADS=4",
              "MAX_HEADER_BYTES=8KiB", "MAX_BODY_BYTES=1M", "HEADER_TIMEOUT=500ms",
              "IDLE_TIMEOUT=2m", "MAX_CONNECTIONS_PER_CORE=100", "DRAIN_TIMEOUT=3",
              "LOG_LEVEL=DEBUG", "NO_EQUALS_SIGN", "threads=9"}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->listen.size(), 2u);
  EXPECT_EQ(config->listen[0].host, "127.0.0.1");
  EXPECT_EQ(config->listen[0].port, 8080);
  EXPECT_EQ(config->listen[1].host, "::1");
  EXPECT_EQ(config->listen[1].port, 8081);
  EXPECT_EQ(config->threads, 4) << "environment names are case-sensitive";
  EXPECT_EQ(config->max_header_bytes, 8192u);
  EXPECT_EQ(config->max_body_bytes, 1048576u);
  EXPECT_EQ(config->header_timeout_ms, 500u);
  EXPECT_EQ(config->idle_timeout_ms, 120000u);
  EXPECT_EQ(config->max_connections_per_core, 100u);
  EXPECT_EQ(config->drain_timeout_ms, 3000u);
  EXPECT_EQ(config->log_level, "debug");
}

TEST(ConfigTest, EveryOptionFromFlags) {
  Result<Config> config =
      Parse({{"--listen", "[::]:0", "--threads=2", "--max-header-bytes", "1024",
              "--max-body-bytes=0", "--header-timeout", "1s", "--idle-timeout=1h",
              "--max-connections-per-core", "1", "--drain-timeout=0", "--log-level", "warning"},
             {}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->listen.size(), 1u);
  EXPECT_EQ(config->listen[0].host, "::");
  EXPECT_EQ(config->listen[0].port, 0);
  EXPECT_EQ(config->threads, 2);
  EXPECT_EQ(config->max_header_bytes, 1024u);
  EXPECT_EQ(config->max_body_bytes, 0u);
  EXPECT_EQ(config->header_timeout_ms, 1000u);
  EXPECT_EQ(config->idle_timeout_ms, 3600000u);
  EXPECT_EQ(config->max_connections_per_core, 1u);
  EXPECT_EQ(config->drain_timeout_ms, 0u);
  EXPECT_EQ(config->log_level, "warning");
}

TEST(ConfigTest, FlagsWinOverEnvironment) {
  Result<Config> config = Parse({{"--threads", "8", "--listen=127.0.0.1:1"},
                                 {"THREADS=4", "LISTEN=0.0.0.0:2", "IDLE_TIMEOUT=5s"}});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->threads, 8);
  ASSERT_EQ(config->listen.size(), 1u);
  EXPECT_EQ(config->listen[0].host, "127.0.0.1");
  EXPECT_EQ(config->listen[0].port, 1);
  EXPECT_EQ(config->idle_timeout_ms, 5000u) << "environment applies where no flag is given";
}

TEST(ConfigTest, LaterFlagWins) {
  Result<Config> config = Parse({{"--threads", "8", "--threads=3"}, {}});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->threads, 3);
}

TEST(ConfigTest, HelpRequested) {
  for (const char* flag : {"--help", "-h"}) {
    bool help = false;
    Result<Config> config = Parse({{"--threads", "2", flag}, {}}, &help);
    EXPECT_TRUE(config.ok()) << flag;
    EXPECT_TRUE(help) << flag;
  }
}

TEST(ConfigTest, UnknownFlag) {
  Result<Config> config = Parse({{"--no-such-option", "1"}, {}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("--no-such-option"), std::string::npos)
      << config.status().message();
  EXPECT_EQ(config.status().message().find('\n'), std::string::npos);

  config = Parse({{"--thread=2"}, {}});  // a prefix of --threads is not --threads
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("--thread"), std::string::npos);
}

TEST(ConfigTest, PositionalArgumentIsAnError) {
  Result<Config> config = Parse({{"serve"}, {}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("serve"), std::string::npos);
  config = Parse({{"-threads", "2"}, {}});
  EXPECT_FALSE(config.ok());
}

TEST(ConfigTest, FlagWithoutValue) {
  Result<Config> config = Parse({{"--threads"}, {}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("--threads"), std::string::npos)
      << config.status().message();
}

struct BadValue {
  const char* flag;
  const char* env;
  const char* value;
};

// Each option's parse errors: one line naming the flag (or the environment variable) and the
// value.
TEST(ConfigTest, BadValuesNameTheOptionInOneLine) {
  const BadValue cases[] = {
      {"listen", "LISTEN", "nowhere"},
      {"listen", "LISTEN", "1.2.3.4:99999"},
      {"threads", "THREADS", "many"},
      {"threads", "THREADS", "-1"},
      {"threads", "THREADS", "5000"},
      {"max-header-bytes", "MAX_HEADER_BYTES", "12X"},
      {"max-header-bytes", "MAX_HEADER_BYTES", "100"},  // below the 256-byte floor
      {"max-header-bytes", "MAX_HEADER_BYTES", "1G"},
      {"max-body-bytes", "MAX_BODY_BYTES", "lots"},
      {"max-body-bytes", "MAX_BODY_BYTES", "5G"},
      {"header-timeout", "HEADER_TIMEOUT", "soon"},
      {"header-timeout", "HEADER_TIMEOUT", "5ms"},  // below 10ms
      {"header-timeout", "HEADER_TIMEOUT", "2h"},
      {"idle-timeout", "IDLE_TIMEOUT", "1.5s"},
      {"idle-timeout", "IDLE_TIMEOUT", "2d"},
      {"max-connections-per-core", "MAX_CONNECTIONS_PER_CORE", "0"},
      {"max-connections-per-core", "MAX_CONNECTIONS_PER_CORE", "1e6"},
      {"drain-timeout", "DRAIN_TIMEOUT", "-1s"},
      {"drain-timeout", "DRAIN_TIMEOUT", "2h"},
      {"log-level", "LOG_LEVEL", "verbose"},
      {"log-level", "LOG_LEVEL", ""},
  };
  for (const BadValue& c : cases) {
    std::string flag = std::string("--") + c.flag;
    Result<Config> from_flag = Parse({{flag, c.value}, {}});
    ASSERT_FALSE(from_flag.ok()) << flag << " " << c.value;
    const std::string& m1 = from_flag.status().message();
    EXPECT_NE(m1.find(flag), std::string::npos) << m1;
    EXPECT_NE(m1.find(std::string("'") + c.value + "'"), std::string::npos) << m1;
    EXPECT_EQ(m1.find('\n'), std::string::npos) << m1;

    Result<Config> joined = Parse({{flag + "=" + c.value}, {}});
    ASSERT_FALSE(joined.ok()) << flag << "=" << c.value;
    EXPECT_EQ(joined.status().message(), m1);

    Result<Config> from_env = Parse({{}, {std::string(c.env) + "=" + c.value}});
    ASSERT_FALSE(from_env.ok()) << c.env << "=" << c.value;
    const std::string& m2 = from_env.status().message();
    EXPECT_NE(m2.find(c.env), std::string::npos) << m2;
    EXPECT_EQ(m2.find("--"), std::string::npos) << "names the variable, not the flag: " << m2;
    EXPECT_EQ(m2.find('\n'), std::string::npos) << m2;
  }
}

TEST(ConfigTest, RangeLimitsAreInclusive) {
  EXPECT_TRUE(Parse({{"--threads", "1024"}, {}}).ok());
  EXPECT_TRUE(Parse({{"--max-header-bytes", "256"}, {}}).ok());
  EXPECT_TRUE(Parse({{"--max-header-bytes", "16MiB"}, {}}).ok());
  EXPECT_FALSE(Parse({{"--max-header-bytes", "255"}, {}}).ok());
  EXPECT_TRUE(Parse({{"--max-body-bytes", "4GiB"}, {}}).ok());
  EXPECT_TRUE(Parse({{"--header-timeout", "10ms"}, {}}).ok());
  EXPECT_TRUE(Parse({{"--header-timeout", "1h"}, {}}).ok());
  EXPECT_TRUE(Parse({{"--idle-timeout", "24h"}, {}}).ok());
  EXPECT_FALSE(Parse({{"--idle-timeout", "25h"}, {}}).ok());
  EXPECT_TRUE(Parse({{"--max-connections-per-core", "4194304"}, {}}).ok());
  EXPECT_FALSE(Parse({{"--max-connections-per-core", "4194305"}, {}}).ok());
}

// ---- Value parsers ----

TEST(ParseDurationMillisTest, Valid) {
  struct {
    const char* text;
    uint64_t ms;
  } cases[] = {
      {"500ms", 500}, {"15s", 15000},   {"15", 15000},   {"0", 0},
      {"2m", 120000}, {"2min", 120000}, {"1h", 3600000}, {"1H", 3600000},
      {"10MS", 10},   {"10 ms", 10},    {"007s", 7000},  {"0ms", 0},
  };
  for (const auto& c : cases) {
    Result<uint64_t> r = ParseDurationMillis(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().message();
    EXPECT_EQ(*r, c.ms) << c.text;
  }
}

TEST(ParseDurationMillisTest, Invalid) {
  for (const char* text : {"", "ms", "s", "-5s", "+5s", "1.5s", "5x", "5sec", "5 s s", " 5s", "5d",
                           "1e3", "99999999999999999999", "9999999999999999999h"}) {
    Result<uint64_t> r = ParseDurationMillis(text);
    EXPECT_FALSE(r.ok()) << "'" << text << "' parsed as " << (r.ok() ? *r : 0);
    if (!r.ok()) {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
}

TEST(ParseByteSizeTest, Valid) {
  struct {
    const char* text;
    uint64_t bytes;
  } cases[] = {
      {"65536", 65536},
      {"0", 0},
      {"10b", 10},
      {"10B", 10},
      {"64k", 65536},
      {"64K", 65536},
      {"64kb", 65536},
      {"64KiB", 65536},
      {"32M", 32ull << 20},
      {"32MiB", 32ull << 20},
      {"32mb", 32ull << 20},
      {"1G", 1ull << 30},
      {"1GiB", 1ull << 30},
      {"1 KiB", 1024},
      {"9999999999999999999", 9999999999999999999ull},
  };
  for (const auto& c : cases) {
    Result<uint64_t> r = ParseByteSize(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().message();
    EXPECT_EQ(*r, c.bytes) << c.text;
  }
}

TEST(ParseByteSizeTest, Invalid) {
  for (const char* text : {"", "k", "KiB", "1T", "1TiB", "1.5M", "-1", "12 34", "0x10", "1KB2",
                           "99999999999999999999", "17179869184G"}) {
    Result<uint64_t> r = ParseByteSize(text);
    EXPECT_FALSE(r.ok()) << "'" << text << "' parsed as " << (r.ok() ? *r : 0);
  }
}

TEST(ParseListenListTest, Valid) {
  Result<std::vector<ListenAddress>> r = ParseListenList("[::1]:80");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].host, "::1");
  EXPECT_EQ((*r)[0].port, 80);

  r = ParseListenList("0.0.0.0:0");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].host, "0.0.0.0");
  EXPECT_EQ((*r)[0].port, 0);

  r = ParseListenList("127.0.0.1:8080,[::]:65535,localhost:1,[fe80::1%eth0]:7860");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].host, "127.0.0.1");
  EXPECT_EQ((*r)[0].port, 8080);
  EXPECT_EQ((*r)[1].host, "::");
  EXPECT_EQ((*r)[1].port, 65535);
  EXPECT_EQ((*r)[2].host, "localhost");
  EXPECT_EQ((*r)[2].port, 1);
  EXPECT_EQ((*r)[3].host, "fe80::1%eth0");
  EXPECT_EQ((*r)[3].port, 7860);
}

TEST(ParseListenListTest, Invalid) {
  for (const char* text : {
           "",                 // nothing
           "127.0.0.1",        // missing port
           "127.0.0.1:",       // empty port
           ":80",              // missing host
           "127.0.0.1:65536",  // port too large
           "127.0.0.1:-1",     // negative port
           "127.0.0.1:80x",    // junk after the port
           "127.0.0.1: 80",    // space
           "::1:80",           // IPv6 without brackets
           "[::1]80",          // no colon after the bracket
           "[::1]",            // no port
           "[::1]:",           // empty port
           "[::1",             // unclosed bracket
           "[]:80",            // empty IPv6 host
           "127.0.0.1:80,",    // trailing comma
           ",127.0.0.1:80",    // leading comma
           "a:1,,b:2",         // empty item
           "127.0.0.1:99999999999999999999",
       }) {
    Result<std::vector<ListenAddress>> r = ParseListenList(text);
    EXPECT_FALSE(r.ok()) << "'" << text << "' accepted";
    if (!r.ok()) {
      EXPECT_FALSE(r.status().message().empty());
      EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
    }
  }
}

// ---- Help ----

TEST(ConfigHelpTextTest, MentionsEveryFlagEnvAndDefault) {
  std::string help = ConfigHelpText();
  const char* flags[] = {
      "--listen",         "--threads",      "--max-header-bytes",         "--max-body-bytes",
      "--header-timeout", "--idle-timeout", "--max-connections-per-core", "--drain-timeout",
      "--log-level",      "--help"};
  const char* envs[] = {
      "LISTEN",         "THREADS",      "MAX_HEADER_BYTES",         "MAX_BODY_BYTES",
      "HEADER_TIMEOUT", "IDLE_TIMEOUT", "MAX_CONNECTIONS_PER_CORE", "DRAIN_TIMEOUT",
      "LOG_LEVEL"};
  for (const char* f : flags)
    EXPECT_NE(help.find(f), std::string::npos) << f;
  for (const char* e : envs) {
    EXPECT_NE(help.find(std::string("env ") + e + "\n"), std::string::npos) << e;
  }
  for (const char* d : {"(default: 0.0.0.0:7860)", "(default: 0)", "(default: 64KiB)",
                        "(default: 32MiB)", "(default: 15s)", "(default: 60s)", "(default: 16384)",
                        "(default: 10s)", "(default: info)"}) {
    EXPECT_NE(help.find(d), std::string::npos) << d;
  }
}

// Every flag the help text lists is accepted by the parser with its documented default.
TEST(ConfigHelpTextTest, DefaultsInHelpParseBack) {
  std::string help = ConfigHelpText();
  struct {
    const char* flag;
    const char* shown_default;
  } pairs[] = {{"--listen", "0.0.0.0:7860"},
               {"--max-header-bytes", "64KiB"},
               {"--max-body-bytes", "32MiB"},
               {"--header-timeout", "15s"},
               {"--idle-timeout", "60s"},
               {"--drain-timeout", "10s"},
               {"--log-level", "info"},
               {"--threads", "0"},
               {"--max-connections-per-core", "16384"}};
  Result<Config> defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  for (const auto& p : pairs) {
    Result<Config> c = Parse({{p.flag, p.shown_default}, {}});
    ASSERT_TRUE(c.ok()) << p.flag << " " << p.shown_default << ": " << c.status().message();
    EXPECT_EQ(c->max_header_bytes, defaults->max_header_bytes);
    EXPECT_EQ(c->max_body_bytes, defaults->max_body_bytes);
    EXPECT_EQ(c->header_timeout_ms, defaults->header_timeout_ms);
    EXPECT_EQ(c->idle_timeout_ms, defaults->idle_timeout_ms);
    EXPECT_EQ(c->drain_timeout_ms, defaults->drain_timeout_ms);
  }
}

// MAX_REQUESTS_PER_MINUTE, MAX_REQUESTS_PER_DAY_PER_IP (HAJIMI's defaults; 0: no limit) and
// TRUSTED_PROXIES (checked when parsed).
TEST(ConfigTest, RateLimitOptions) {
  Result<Config> defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->max_requests_per_minute, 30u);
  EXPECT_EQ(defaults->max_requests_per_day_per_ip, 600u);
  EXPECT_EQ(defaults->trusted_proxies, "");

  Result<Config> set =
      Parse({{"--max-requests-per-day-per-ip", "0"},
             {"MAX_REQUESTS_PER_MINUTE=0", "TRUSTED_PROXIES=127.0.0.1, 10.0.0.0/8,fd00::/8"}});
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->max_requests_per_minute, 0u);
  EXPECT_EQ(set->max_requests_per_day_per_ip, 0u);
  EXPECT_EQ(set->trusted_proxies, "127.0.0.1, 10.0.0.0/8,fd00::/8");

  for (const char* bad : {"10.0.0.0/33", "example.com", "1.2.3.4/"}) {
    Result<Config> c = Parse({{}, {std::string("TRUSTED_PROXIES=") + bad}});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("TRUSTED_PROXIES"), std::string::npos)
        << c.status().message();
  }
  EXPECT_FALSE(Parse({{"--max-requests-per-minute", "-1"}, {}}).ok());
  EXPECT_FALSE(Parse({{"--max-requests-per-minute", "lots"}, {}}).ok());
}

}  // namespace
}  // namespace ringgate
