#include "ringgate/translate/models.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <unordered_set>
#include <utility>

#include "ringgate/json/json_writer.h"

namespace ringgate {
namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kModelsPrefix = "models/";
constexpr std::string_view kSearchSuffix = "-search";
constexpr std::string_view kOwnedBy = "organization-owner";     // HAJIMI's owned_by
constexpr std::string_view kInvalidModelDetail = "无效的模型";  // HAJIMI's 400 detail

std::string_view StripModelsPrefix(std::string_view name) {
  if (name.substr(0, kModelsPrefix.size()) == kModelsPrefix)
    name.remove_prefix(kModelsPrefix.size());
  return name;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

// HAJIMI's list rule (3.1). Same as ParseHajimiList in policy/, which translate/ must not include.
std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = value.find(',');
    std::string_view item = Trim(value.substr(0, comma));
    if (!item.empty())
      out.emplace_back(item);
    if (comma == std::string_view::npos)
      break;
    value.remove_prefix(comma + 1);
  }
  return out;
}

bool EqualsLowerAscii(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size())
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i])
      return false;
  }
  return true;
}

// Whether `name` is on `list`, whose entries may carry the "models/" prefix.
bool OnList(const std::vector<std::string>& list, std::string_view name) {
  for (const std::string& entry : list) {
    if (StripModelsPrefix(Trim(entry)) == name)
      return true;
  }
  return false;
}

// The allow/block decision for one listed or requested name.
ModelRefusal ListRefusal(std::string_view name, const ModelListSettings& settings) {
  if (!settings.whitelist_models.empty())
    return OnList(settings.whitelist_models, name) ? ModelRefusal::kNone
                                                   : ModelRefusal::kNotWhitelisted;
  if (OnList(settings.blocked_models, name))
    return ModelRefusal::kBlocked;
  if (settings.search_mode && EndsWith(name, kSearchSuffix) &&
      OnList(settings.blocked_models, name.substr(0, name.size() - kSearchSuffix.size())))
    return ModelRefusal::kBlocked;
  return ModelRefusal::kNone;
}

// int32 fields are numbers; int64 fields are strings in proto3 JSON. Accept both.
bool ReadInt(od::value value, int64_t* out) {
  od::json_type type;
  if (value.type().get(type))
    return false;
  if (type == od::json_type::number)
    return !value.get_int64().get(*out);
  if (type == od::json_type::string) {
    std::string_view s;
    if (value.get_string().get(s))
      return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && end == s.data() + s.size();
  }
  return true;  // another type: leave the default
}

simdjson::error_code ReadModel(od::object object, GeminiModelInfo* model) {
  for (auto field : object) {
    std::string_view key;
    if (auto error = field.unescaped_key().get(key))
      return error;
    od::value value;
    if (auto error = field.value().get(value))
      return error;
    od::json_type type;
    if (auto error = value.type().get(type))
      return error;
    if (key == "name" && type == od::json_type::string) {
      std::string_view name;
      if (auto error = value.get_string().get(name))
        return error;
      model->id = std::string(StripModelsPrefix(name));
    } else if (key == "displayName" && type == od::json_type::string) {
      std::string_view name;
      if (auto error = value.get_string().get(name))
        return error;
      model->display_name = std::string(name);
    } else if (key == "inputTokenLimit") {
      if (!ReadInt(value, &model->input_token_limit))
        return simdjson::INCORRECT_TYPE;
    } else if (key == "outputTokenLimit") {
      if (!ReadInt(value, &model->output_token_limit))
        return simdjson::INCORRECT_TYPE;
    } else if (key == "supportedGenerationMethods" && type == od::json_type::array) {
      od::array methods;
      if (auto error = value.get_array().get(methods))
        return error;
      for (auto element : methods) {
        std::string_view method;
        if (auto error = element.get_string().get(method))
          return error;
        model->supported_generation_methods.emplace_back(method);
      }
    } else if (key == "thinking" && type == od::json_type::boolean) {
      if (auto error = value.get_bool().get(model->thinking))
        return error;
    }
    // Anything else is skipped by the iterator.
  }
  return simdjson::SUCCESS;
}

std::string UpstreamErrorMessage(od::value value) {
  std::string message = "the model list answer is an error";
  od::object object;
  if (value.get_object().get(object))
    return message;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key))
      break;
    std::string_view text;
    if (key == "message" && !field.value().get_string().get(text)) {
      message += ": ";
      message += text;
      break;
    }
  }
  return message;
}

}  // namespace

bool GeminiModelInfo::Supports(std::string_view method) const {
  for (const std::string& m : supported_generation_methods) {
    if (m == method)
      return true;
  }
  return false;
}

Result<GeminiModelPage> ParseGeminiModelPage(std::string_view json) {
  simdjson::padded_string padded(json);
  od::parser parser;
  od::document doc;
  od::object root;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root))
    return Status::Error("the model list is not a JSON object");
  GeminiModelPage page;
  for (auto field : root) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value))
      return Status::Error("the model list is not valid JSON");
    if (key == "models") {
      od::array models;
      if (value.get_array().get(models))
        return Status::Error("the model list's \"models\" is not an array");
      for (auto element : models) {
        od::object object;
        if (element.get_object().get(object))
          return Status::Error("a model list entry is not an object");
        GeminiModelInfo model;
        if (simdjson::error_code error = ReadModel(object, &model)) {
          return Status::Error(std::string("bad model list entry: ") +
                               simdjson::error_message(error));
        }
        if (!model.id.empty())
          page.models.push_back(std::move(model));
      }
    } else if (key == "nextPageToken") {
      std::string_view token;
      if (value.get_string().get(token))
        return Status::Error("the model list's nextPageToken is not a string");
      page.next_page_token = std::string(token);
    } else if (key == "error") {
      return Status::Error(UpstreamErrorMessage(value));
    }
  }
  return page;
}

Status ModelCatalog::AddPage(std::string_view json) {
  Result<GeminiModelPage> page = ParseGeminiModelPage(json);
  if (!page.ok())
    return page.status();
  AddPage(std::move(page).value());
  return Status::Ok();
}

void ModelCatalog::AddPage(GeminiModelPage page) {
  loaded_ = true;
  next_page_token_ = std::move(page.next_page_token);
  for (GeminiModelInfo& model : page.models) {
    auto less = [this](uint32_t index, std::string_view id) { return models_[index].id < id; };
    auto at = std::lower_bound(sorted_.begin(), sorted_.end(), std::string_view(model.id), less);
    if (at != sorted_.end() && models_[*at].id == model.id)
      continue;  // seen on an earlier page: keep the first
    uint32_t index = static_cast<uint32_t>(models_.size());
    sorted_.insert(at, index);
    if (model.SupportsGenerateContent())
      chat_.push_back(index);
    models_.push_back(std::move(model));
  }
}

void ModelCatalog::Clear() {
  *this = ModelCatalog();
}

std::vector<const GeminiModelInfo*> ModelCatalog::ChatModels() const {
  std::vector<const GeminiModelInfo*> out;
  out.reserve(chat_.size());
  for (uint32_t index : chat_)
    out.push_back(&models_[index]);
  return out;
}

const GeminiModelInfo* ModelCatalog::Find(std::string_view id) const {
  id = StripModelsPrefix(id);
  if (last_found_ < models_.size() && models_[last_found_].id == id)
    return &models_[last_found_];
  auto less = [this](uint32_t index, std::string_view key) { return models_[index].id < key; };
  auto at = std::lower_bound(sorted_.begin(), sorted_.end(), id, less);
  if (at == sorted_.end() || models_[*at].id != id)
    return nullptr;
  last_found_ = *at;
  return &models_[*at];
}

bool ModelCatalog::Exists(std::string_view model) const {
  const GeminiModelInfo* info = Find(model);
  return info != nullptr && info->SupportsGenerateContent();
}

bool ModelCatalog::SupportsThinking(std::string_view model) const {
  const GeminiModelInfo* info = Find(model);
  if (info == nullptr && EndsWith(model, kSearchSuffix))
    info = Find(model.substr(0, model.size() - kSearchSuffix.size()));
  return info != nullptr && info->thinking;
}

ModelListSettings ModelListSettingsFromEnv(std::optional<std::string_view> search_mode,
                                           std::optional<std::string_view> extra_models,
                                           std::optional<std::string_view> blocked_models,
                                           std::optional<std::string_view> whitelist_models) {
  ModelListSettings settings;
  if (search_mode.has_value()) {
    std::string_view v = Trim(*search_mode);
    settings.search_mode =
        EqualsLowerAscii(v, "true") || EqualsLowerAscii(v, "1") || EqualsLowerAscii(v, "yes");
  }
  if (extra_models.has_value())
    settings.extra_models = SplitList(*extra_models);
  if (blocked_models.has_value())
    settings.blocked_models = SplitList(*blocked_models);
  if (whitelist_models.has_value())
    settings.whitelist_models = SplitList(*whitelist_models);
  return settings;
}

bool HasSearchVariant(std::string_view model_id) {
  constexpr std::string_view kGemini = "gemini-";
  if (model_id.substr(0, kGemini.size()) != kGemini)
    return false;
  std::string_view rest = model_id.substr(kGemini.size());
  int major = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), major);
  return ec == std::errc() && end != rest.data() && major >= 2;
}

std::vector<std::string> AvailableModels(const ModelCatalog& catalog,
                                         const ModelListSettings& settings) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  auto add = [&](std::string name) {
    if (!name.empty() && seen.insert(name).second)
      out.push_back(std::move(name));
  };
  for (const GeminiModelInfo* model : catalog.ChatModels()) {
    add(model->id);
    if (settings.search_mode && HasSearchVariant(model->id))
      add(model->id + std::string(kSearchSuffix));
  }
  for (const std::string& extra : settings.extra_models)
    add(std::string(StripModelsPrefix(Trim(extra))));
  return out;
}

std::vector<std::string> ListedModels(const ModelCatalog& catalog,
                                      const ModelListSettings& settings) {
  std::vector<std::string> out = AvailableModels(catalog, settings);
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](const std::string& name) {
                             return ListRefusal(name, settings) != ModelRefusal::kNone;
                           }),
            out.end());
  return out;
}

std::string OpenAIModelList(const ModelCatalog& catalog, const ModelListSettings& settings,
                            int64_t created) {
  std::vector<std::string> models = ListedModels(catalog, settings);
  std::string out;
  out.reserve(32 + models.size() * 96);
  JsonWriter w(out);
  w.BeginObject();
  w.Field("object", "list");
  w.Key("data");
  w.BeginArray();
  for (const std::string& id : models) {
    w.BeginObject();
    w.Field("id", id);
    w.Field("object", "model");
    w.FieldInt("created", created);
    w.Field("owned_by", kOwnedBy);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

std::string ModelAccess::ErrorBody() const {
  if (allowed)
    return {};
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.Field("message", message);
  w.Field("type", "invalid_request_error");
  w.Key("param");
  w.Null();
  w.Field("code", "model_not_found");
  w.EndObject();
  w.Field("detail", kInvalidModelDetail);
  w.EndObject();
  return out;
}

ModelAccess CheckModel(std::string_view requested, const ModelCatalog& catalog,
                       const ModelListSettings& settings) {
  ModelAccess access;
  std::string_view name = StripModelsPrefix(Trim(requested));
  auto refuse = [&](ModelRefusal refusal) {
    access.refusal = refusal;
    if (name.empty()) {
      access.message = "you must provide a model parameter";
    } else {
      access.message = "The model `";
      access.message += requested;
      access.message += "` does not exist or you do not have access to it.";
    }
    return access;
  };
  if (name.empty())
    return refuse(ModelRefusal::kUnknown);

  bool search = settings.search_mode && EndsWith(name, kSearchSuffix);
  std::string_view base = search ? name.substr(0, name.size() - kSearchSuffix.size()) : name;
  bool known;
  if (!catalog.loaded() || OnList(settings.extra_models, name)) {
    known = true;
  } else if (search) {
    known = catalog.Exists(base) && HasSearchVariant(base);
  } else {
    known = catalog.Exists(name);
  }
  if (!known)
    return refuse(ModelRefusal::kUnknown);
  if (ModelRefusal refusal = ListRefusal(name, settings); refusal != ModelRefusal::kNone)
    return refuse(refusal);

  access.allowed = true;
  access.search = search;
  access.upstream_model = base;
  return access;
}

}  // namespace ringgate
