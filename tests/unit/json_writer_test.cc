#include "ringgate/json/json_writer.h"

#include <gtest/gtest.h>

#include <string>

namespace ringgate {
namespace {

std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

// The byte-at-a-time definition the fast path must agree with.
std::string ReferenceEscaped(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Escaped("plain text"), "plain text");
  EXPECT_EQ(Escaped("say \"hi\"\\n"), "say \\\"hi\\\"\\\\n");
  EXPECT_EQ(Escaped(std::string("a\0b", 3)), "a\\u0000b");
  EXPECT_EQ(Escaped("\x01\x1f\t\r\n\b\f"), "\\u0001\\u001f\\t\\r\\n\\b\\f");
}

TEST(JsonWriterTest, FastPathMatchesTheReferenceAtEveryOffset) {
  // Specials placed at every position around 8-byte blocks.
  for (char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
    for (size_t length = 0; length < 40; ++length) {
      for (size_t at = 0; at < length; ++at) {
        std::string text(length, 'x');
        text[at] = special;
        ASSERT_EQ(Escaped(text), ReferenceEscaped(text))
            << "special " << int(special) << " at " << at;
      }
    }
  }
}

TEST(JsonWriterTest, ValidUtf8PassesInvalidBecomesReplacement) {
  EXPECT_EQ(Escaped("héllo 世界 🙂"), "héllo 世界 🙂");
  EXPECT_EQ(Escaped("bad \xff byte"), "bad \xef\xbf\xbd byte");
  EXPECT_EQ(Escaped("cut \xe4\xb8"), "cut \xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(Escaped("surrogate \xed\xa0\x80"), "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(Escaped("overlong \xc0\xaf"), "overlong \xef\xbf\xbd\xef\xbf\xbd");
}

TEST(JsonWriterTest, CommasAndNesting) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Field("a", "x");
  w.Key("b");
  w.BeginArray();
  w.Int(-1);
  w.Uint(2);
  w.Bool(true);
  w.Null();
  w.BeginObject();
  w.EndObject();
  w.BeginArray();
  w.EndArray();
  w.Raw("{\"r\":1}");
  w.EndArray();
  w.FieldInt("c", 3);
  w.Key("d");
  w.Double(0.5);
  w.EndObject();
  EXPECT_EQ(out, R"({"a":"x","b":[-1,2,true,null,{},[],{"r":1}],"c":3,"d":0.5})");
}

TEST(JsonWriterTest, NonFiniteDoublesBecomeNull) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  w.Double(1.0 / 0.0);
  w.Double(0.1);
  w.EndArray();
  EXPECT_EQ(out, "[null,0.1]");
}

}  // namespace
}  // namespace ringgate

namespace ringgate {
namespace {

TEST(JsonWriterTest, KeysNeedingEscapesTakeTheSlowPath) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.FieldInt("plain_key", 1);
  w.FieldInt("quote\"key", 2);
  w.FieldInt(std::string(60, 'k'), 3);
  w.FieldInt("ünï", 4);
  w.EndObject();
  EXPECT_EQ(out,
            "{\"plain_key\":1,\"quote\\\"key\":2,\"" + std::string(60, 'k') + "\":3,\"ünï\":4}");
}

}  // namespace
}  // namespace ringgate

namespace ringgate {
namespace {

// Strings that need escaping part way (the writer copies the plain prefix, then escapes the
// rest) and strings that need none, as array elements and object members after others.
TEST(JsonWriterTest, EscapedAndPlainStringsGetTheirCommas) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  w.String("plain");
  w.String("tab\there");
  w.String("");
  w.String("\"");
  w.String("ü");
  w.BeginObject();
  w.Field("k", "line\nbreak");
  w.Field("k2", "x");
  w.EndObject();
  w.EndArray();
  EXPECT_EQ(out, R"(["plain","tab\there","","\"","ü",{"k":"line\nbreak","k2":"x"}])");
}

// Many small appends into a string that starts empty and one that starts full to capacity: every
// growth keeps what was written, and the result equals what appending one token at a time gives.
TEST(JsonWriterTest, GrowthKeepsEveryByte) {
  for (size_t prefill : {size_t{0}, size_t{15}, size_t{31}, size_t{1000}}) {
    std::string out(prefill, 'p');
    out.shrink_to_fit();
    std::string expected = out + "[";
    JsonWriter w(out);
    w.BeginArray();
    for (int i = 0; i < 2000; ++i) {
      std::string text = "value-" + std::to_string(i) + (i % 7 == 0 ? "\"q" : "");
      if (i % 3 == 0) {
        w.Int(i * 1000003LL);
        expected += (i ? "," : "") + std::to_string(i * 1000003LL);
      } else {
        w.String(text);
        expected += (i ? ",\"" : "\"") + Escaped(text) + "\"";
      }
    }
    w.EndArray();
    expected += "]";
    ASSERT_EQ(out, expected) << "prefill " << prefill;
  }
}

TEST(JsonWriterTest, LargeValuesAndExtremeNumbers) {
  std::string big(300000, 'b');
  big[150000] = '\\';
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  w.Int(INT64_MIN);
  w.Uint(UINT64_MAX);
  w.Double(-1.7976931348623157e308);
  w.Double(5e-324);
  w.String(big);
  w.EndArray();
  EXPECT_EQ(out, "[-9223372036854775808,18446744073709551615,-1.7976931348623157e+308,5e-324,\"" +
                     Escaped(big) + "\"]");
}

}  // namespace
}  // namespace ringgate
