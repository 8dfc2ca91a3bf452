// Embedded dashboard assets: the files under web/, compiled into the binary by
// tools/embed_assets.py (web/meson.build), so the dashboard works offline and needs no files at
// run time. The generated embedded_assets.cc defines kEmbeddedAssets and kEmbeddedAssetCount.
//
// Paths: the dashboard shell (web/index.html) is "/"; the server answers it at / or at
// /{DASHBOARD_URL}. Every other file is "/assets/<file name>", which index.html references.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringgate {

struct EmbeddedAsset {
  std::string_view path;          // "/" or "/assets/app.js"
  std::string_view content_type;  // full Content-Type value, e.g. "text/css; charset=utf-8"
  std::string_view body;          // the file's bytes, unchanged
  std::string_view etag;          // strong ETag value with its quotes: "\"<16 hex digits>\""
};

extern const EmbeddedAsset kEmbeddedAssets[];
extern const size_t kEmbeddedAssetCount;

// The asset at `path` (exact match, no query string), or nullptr. A linear scan: there are a
// handful of assets.
inline const EmbeddedAsset* FindEmbeddedAsset(std::string_view path) {
  for (size_t i = 0; i < kEmbeddedAssetCount; ++i) {
    if (kEmbeddedAssets[i].path == path)
      return &kEmbeddedAssets[i];
  }
  return nullptr;
}

}  // namespace ringgate
