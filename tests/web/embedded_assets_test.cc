// The dashboard assets compiled into the binary (tools/embed_assets.py via web/meson.build):
// every file is there, byte for byte, with its content type and ETag, and the page refers to
// nothing outside itself (it must work offline: no CDN, no remote URL anywhere).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <string_view>

#include "ringgate/admin/embedded_assets.h"

namespace ringgate {
// Built from tests/web/testdata by the same generator under other names.
extern const EmbeddedAsset kWebTestAssets[];
extern const size_t kWebTestAssetCount;
}  // namespace ringgate

namespace ringgate {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct Expected {
  const char* path;
  const char* file;
  const char* content_type;
};

constexpr Expected kExpected[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/assets/app.css", "app.css", "text/css; charset=utf-8"},
    {"/assets/app.js", "app.js", "text/javascript; charset=utf-8"},
};

TEST(EmbeddedAssets, EveryWebFileIsEmbeddedUnchangedWithItsContentType) {
  ASSERT_EQ(kEmbeddedAssetCount, std::size(kExpected));
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(e.path);
    const EmbeddedAsset* asset = FindEmbeddedAsset(e.path);
    ASSERT_NE(asset, nullptr);
    EXPECT_EQ(asset->content_type, e.content_type);
    EXPECT_FALSE(asset->body.empty());
    EXPECT_EQ(asset->body, ReadFile(std::string(RINGGATE_WEB_DIR) + "/" + e.file));
  }
}

TEST(EmbeddedAssets, PathsAreUniqueAndLookupIsExact) {
  std::set<std::string_view> paths;
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    EXPECT_TRUE(paths.insert(kEmbeddedAssets[i].path).second) << kEmbeddedAssets[i].path;
    EXPECT_EQ(FindEmbeddedAsset(kEmbeddedAssets[i].path), &kEmbeddedAssets[i]);
  }
  EXPECT_EQ(FindEmbeddedAsset("/index.html"), nullptr);
  EXPECT_EQ(FindEmbeddedAsset("/assets/app.js?v=1"), nullptr);
  EXPECT_EQ(FindEmbeddedAsset("/assets/"), nullptr);
  EXPECT_EQ(FindEmbeddedAsset(""), nullptr);
}

TEST(EmbeddedAssets, EtagsAreQuotedHashesThatDifferPerAsset) {
  std::set<std::string_view> etags;
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    std::string_view etag = kEmbeddedAssets[i].etag;
    SCOPED_TRACE(kEmbeddedAssets[i].path);
    ASSERT_EQ(etag.size(), 18u);
    EXPECT_EQ(etag.front(), '"');
    EXPECT_EQ(etag.back(), '"');
    for (char c : etag.substr(1, 16)) {
      EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << etag;
    }
    EXPECT_TRUE(etags.insert(etag).second) << etag;
  }
}

TEST(EmbeddedAssets, NoAssetNamesARemoteUrl) {
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    const std::string body = Lower(kEmbeddedAssets[i].body);
    SCOPED_TRACE(kEmbeddedAssets[i].path);
    EXPECT_EQ(body.find("http://"), std::string::npos);
    EXPECT_EQ(body.find("https://"), std::string::npos);
    EXPECT_EQ(body.find("ws://"), std::string::npos);
    EXPECT_EQ(body.find("wss://"), std::string::npos);
    // CSS pulls nothing in: no @import, and url() only for data: URIs.
    if (kEmbeddedAssets[i].content_type.rfind("text/css", 0) != 0)
      continue;
    EXPECT_EQ(body.find("@import"), std::string::npos);
    static const std::regex kCssUrl(R"(\burl\(\s*['"]?([^'")\s]*))");
    for (auto it = std::sregex_iterator(body.begin(), body.end(), kCssUrl);
         it != std::sregex_iterator(); ++it) {
      EXPECT_EQ((*it)[1].str().rfind("data:", 0), 0u) << it->str();
    }
  }
}

TEST(EmbeddedAssets, IndexReferencesOnlyEmbeddedAssets) {
  const EmbeddedAsset* index = FindEmbeddedAsset("/");
  ASSERT_NE(index, nullptr);
  const std::string html(index->body);
  EXPECT_NE(html.find("<!doctype html>"), std::string::npos);

  // Every src= / href= / action= / srcset= / poster= value: an embedded asset, an in-page
  // anchor or a data: URI. Nothing protocol-relative ("//host").
  static const std::regex kAttr(
      R"re(\b(src|href|action|srcset|poster)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+)))re",
      std::regex::icase);
  std::set<std::string> referenced;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), kAttr);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    std::string value = m[3].matched ? m[3].str() : m[4].matched ? m[4].str() : m[5].str();
    SCOPED_TRACE(m.str());
    if (value.rfind("data:", 0) == 0 || value.rfind("#", 0) == 0)
      continue;
    ASSERT_EQ(value.rfind("//", 0), std::string::npos);
    EXPECT_NE(FindEmbeddedAsset(value), nullptr) << value << " is not embedded";
    referenced.insert(value);
  }
  // ... and it does load the script and the style sheet.
  EXPECT_TRUE(referenced.count("/assets/app.js"));
  EXPECT_TRUE(referenced.count("/assets/app.css"));
  // No inline script or style, so the server may send a strict Content-Security-Policy.
  static const std::regex kInlineScript(R"(<script(?![^>]*\bsrc=)[^>]*>)", std::regex::icase);
  EXPECT_FALSE(std::regex_search(html, kInlineScript));
  EXPECT_EQ(Lower(html).find("<style"), std::string::npos);
  EXPECT_EQ(Lower(html).find(" style="), std::string::npos);
  EXPECT_EQ(Lower(html).find(" onclick="), std::string::npos);
}

TEST(EmbeddedAssets, GeneratorKeepsEveryByte) {
  ASSERT_EQ(kWebTestAssetCount, 2u);
  const EmbeddedAsset& bin = kWebTestAssets[0];
  EXPECT_EQ(bin.path, "/t/all_bytes.bin");
  EXPECT_EQ(bin.content_type, "application/octet-stream");
  const std::string expected_bin = ReadFile(std::string(RINGGATE_WEB_TESTDATA) + "/all_bytes.bin");
  ASSERT_GE(expected_bin.size(), 512u);
  EXPECT_EQ(bin.body, expected_bin);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(static_cast<unsigned char>(bin.body[static_cast<size_t>(b)]), b);
  }

  const EmbeddedAsset& txt = kWebTestAssets[1];
  EXPECT_EQ(txt.path, "/t/tricky.txt");
  EXPECT_EQ(txt.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(txt.body, ReadFile(std::string(RINGGATE_WEB_TESTDATA) + "/tricky.txt"));
  EXPECT_NE(bin.etag, txt.etag);
}

}  // namespace
}  // namespace ringgate
