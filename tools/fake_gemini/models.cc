#include "models.h"

#include <cmath>
#include <cstdio>

#include "ringgate/http/response.h"

namespace fake_gemini {

namespace {

constexpr int kMaxDims = 3072;

struct Spec {
  const char* id;
  const char* version;
  const char* display;
  const char* description;
  int input_limit;
  int output_limit;
  const char* methods;  // comma-separated
  bool thinking;
  int top_k;  // 0: an embedding model (no sampling fields)
  int embedding_dims;
};

constexpr char kChatMethods[] =
    "generateContent,countTokens,createCachedContent,batchGenerateContent";

// Values as Google's list showed them in 2025-2026 (illustrative, not authoritative).
constexpr Spec kSpecs[] = {
    {"gemini-2.5-flash", "001", "Gemini 2.5 Flash",
     "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 "
     "million tokens, released in June of 2025.",
     1048576, 65536, kChatMethods, true, 64, 0},
    {"gemini-2.5-pro", "2.5", "Gemini 2.5 Pro",
     "Stable release (June 17th, 2025) of Gemini 2.5 Pro", 1048576, 65536, kChatMethods, true, 64,
     0},
    {"gemini-2.0-flash", "2.0", "Gemini 2.0 Flash", "Gemini 2.0 Flash", 1048576, 8192, kChatMethods,
     false, 40, 0},
    {"gemini-2.0-flash-001", "2.0", "Gemini 2.0 Flash 001",
     "Stable version of Gemini 2.0 Flash, our fast and versatile multimodal model for scaling "
     "across diverse tasks, released in January of 2025.",
     1048576, 8192, kChatMethods, false, 40, 0},
    {"gemini-2.0-flash-lite-001", "2.0", "Gemini 2.0 Flash-Lite 001",
     "Stable version of Gemini 2.0 Flash-Lite", 1048576, 8192, kChatMethods, false, 40, 0},
    {"gemini-2.0-flash-lite", "2.0", "Gemini 2.0 Flash-Lite", "Gemini 2.0 Flash-Lite", 1048576,
     8192, kChatMethods, false, 40, 0},
    {"gemini-2.5-flash-preview-09-2025", "Gemini 2.5 Flash Preview 09-2025",
     "Gemini 2.5 Flash Preview Sep 2025", "Gemini 2.5 Flash Preview Sep 2025", 1048576, 65536,
     kChatMethods, true, 64, 0},
    {"gemini-2.5-flash-lite", "001", "Gemini 2.5 Flash-Lite",
     "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025", 1048576, 65536,
     kChatMethods, true, 64, 0},
    {"gemini-2.5-flash-lite-preview-09-2025", "2.5-preview-09-25",
     "Gemini 2.5 Flash-Lite Preview Sep 2025",
     "Preview release (September 25th, 2025) of Gemini 2.5 Flash-Lite", 1048576, 65536,
     kChatMethods, true, 64, 0},
    {"gemini-2.5-flash-image", "2.0", "Nano Banana", "Gemini 2.5 Flash Image", 32768, 32768,
     "generateContent,countTokens,batchGenerateContent", false, 64, 0},
    {"gemini-3-pro-preview", "3-pro-preview-11-2025", "Gemini 3 Pro Preview",
     "Gemini 3 Pro Preview", 1048576, 65536, kChatMethods, true, 64, 0},
    {"gemini-3-flash-preview", "3-flash-preview-12-2025", "Gemini 3 Flash Preview",
     "Gemini 3 Flash Preview", 1048576, 65536, kChatMethods, true, 64, 0},
    {"gemini-flash-latest", "Gemini Flash Latest", "Gemini Flash Latest",
     "Latest release of Gemini Flash", 1048576, 65536, kChatMethods, true, 64, 0},
    {"gemini-flash-lite-latest", "Gemini Flash-Lite Latest", "Gemini Flash-Lite Latest",
     "Latest release of Gemini Flash-Lite", 1048576, 65536, kChatMethods, true, 64, 0},
    {"gemini-pro-latest", "Gemini Pro Latest", "Gemini Pro Latest", "Latest release of Gemini Pro",
     1048576, 65536, kChatMethods, true, 64, 0},
    {"gemma-3-27b-it", "001", "Gemma 3 27B", "", 131072, 8192, "generateContent,countTokens", false,
     64, 0},
    {"gemma-3-12b-it", "001", "Gemma 3 12B", "", 32768, 8192, "generateContent,countTokens", false,
     64, 0},
    {"gemini-embedding-001", "001", "Gemini Embedding 001",
     "Obtain a distributed representation of a text.", 2048, 1,
     "embedContent,countTextTokens,countTokens,asyncBatchEmbedContent", false, 0, 3072},
    {"text-embedding-004", "004", "Text Embedding 004",
     "Obtain a distributed representation of a text.", 2048, 1, "embedContent", false, 0, 768},
};

void AppendBase64(std::string& out, std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t n = uint8_t(data[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
}

void AppendQuoted(std::string& out, std::string_view text) {
  out += '"';
  ringgate::AppendJsonEscaped(out, text);
  out += '"';
}

}  // namespace

ModelCatalog::ModelCatalog() {
  for (const Spec& spec : kSpecs) {
    ModelInfo model;
    model.id = spec.id;
    model.thinking = spec.thinking;
    model.embedding = spec.embedding_dims > 0;
    model.embedding_dims = spec.embedding_dims;
    std::string_view methods = spec.methods;
    while (!methods.empty()) {
      size_t comma = methods.find(',');
      model.methods.emplace_back(methods.substr(0, comma));
      methods = comma == std::string_view::npos ? std::string_view() : methods.substr(comma + 1);
    }
    std::string& j = model.json;
    j = "{\"name\":";
    AppendQuoted(j, "models/" + model.id);
    j += ",\"version\":";
    AppendQuoted(j, spec.version);
    j += ",\"displayName\":";
    AppendQuoted(j, spec.display);
    if (spec.description[0] != '\0') {
      j += ",\"description\":";
      AppendQuoted(j, spec.description);
    }
    j += ",\"inputTokenLimit\":" + std::to_string(spec.input_limit);
    j += ",\"outputTokenLimit\":" + std::to_string(spec.output_limit);
    j += ",\"supportedGenerationMethods\":[";
    for (size_t i = 0; i < model.methods.size(); ++i) {
      if (i > 0)
        j += ',';
      AppendQuoted(j, model.methods[i]);
    }
    j += ']';
    if (spec.top_k > 0) {
      j += ",\"temperature\":1,\"topP\":0.95,\"topK\":" + std::to_string(spec.top_k) +
           ",\"maxTemperature\":2";
    }
    if (spec.thinking)
      j += ",\"thinking\":true";
    j += '}';
    // Google's tokens are base64 protobuf; ours are base64 too, and just as opaque.
    std::string raw = "\x0a";
    raw += static_cast<char>(7 + model.id.size());
    raw += "models/" + model.id;
    AppendBase64(model.page_token, raw);
    models_.push_back(std::move(model));
  }
  full_list_ = "{\"models\":[";
  for (size_t i = 0; i < models_.size(); ++i) {
    if (i > 0)
      full_list_ += ',';
    full_list_ += models_[i].json;
  }
  full_list_ += "]}";

  // Deterministic pseudo-random values in (-0.1, 0.1), the magnitude real embeddings have.
  uint64_t x = 0x9E3779B97F4A7C15ull;
  char buffer[32];
  for (int i = 1; i < kMaxDims; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double v = (static_cast<double>(x % 2000001) / 1000000.0 - 1.0) * 0.1;
    int n = snprintf(buffer, sizeof(buffer), "%.9f", v);
    if (i > 1)
      embedding_values_ += ',';
    embedding_values_.append(buffer, static_cast<size_t>(n));
    value_ends_.push_back(embedding_values_.size());
  }
}

const ModelInfo* ModelCatalog::Find(std::string_view id) const {
  for (const ModelInfo& model : models_) {
    if (model.id == id)
      return &model;
  }
  return nullptr;
}

bool ModelCatalog::Supports(const ModelInfo& model, std::string_view method) {
  if (method == "streamGenerateContent")
    method = "generateContent";
  if (method == "batchEmbedContents")
    method = "embedContent";
  for (const std::string& m : model.methods) {
    if (m == method)
      return true;
  }
  return false;
}

bool ModelCatalog::AppendPage(std::string& out, int page_size, std::string_view page_token) const {
  size_t start = 0;
  if (!page_token.empty()) {
    bool found = false;
    for (size_t i = 0; i < models_.size(); ++i) {
      if (models_[i].page_token == page_token) {
        start = i;
        found = true;
        break;
      }
    }
    if (!found)
      return false;
  }
  size_t size = static_cast<size_t>(page_size);
  if (start == 0 && size >= models_.size()) {
    out += full_list_;
    return true;
  }
  size_t end = std::min(models_.size(), start + size);
  out += "{\"models\":[";
  for (size_t i = start; i < end; ++i) {
    if (i > start)
      out += ',';
    out += models_[i].json;
  }
  out += ']';
  if (end < models_.size()) {
    out += ",\"nextPageToken\":\"";
    out += models_[end].page_token;
    out += '"';
  }
  out += '}';
  return true;
}

void ModelCatalog::AppendEmbedding(std::string& out, int dims, uint64_t seed) const {
  if (dims < 1)
    dims = 1;
  if (dims > kMaxDims)
    dims = kMaxDims;
  char buffer[32];
  double first = (static_cast<double>(seed % 2000001) / 1000000.0 - 1.0) * 0.1;
  int n = snprintf(buffer, sizeof(buffer), "%.9f", first);
  out += "{\"values\":[";
  out.append(buffer, static_cast<size_t>(n));
  if (dims > 1) {
    out += ',';
    out.append(embedding_values_, 0, value_ends_[dims - 2]);
  }
  out += "]}";
}

}  // namespace fake_gemini
