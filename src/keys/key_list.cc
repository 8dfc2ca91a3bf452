#include "ringgate/keys/key_list.h"
#include "ringgate/common/mask.h"

#include <string>
#include <unordered_set>
#include <utility>

namespace ringgate {
namespace {

constexpr std::string_view kKeyPrefix = "AIzaSy";
constexpr size_t kKeyTail = 33;

bool IsKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

// Splits on any character in separators, trims, drops empties and duplicates.
std::vector<std::string> SplitUnique(std::string_view text, std::string_view separators) {
  std::vector<std::string> out;
  std::unordered_set<std::string_view> seen;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of(separators, start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view item = Trim(text.substr(start, end - start));
    if (!item.empty() && seen.insert(item).second)
      out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

bool Contains(const std::vector<std::string>& list, std::string_view key) {
  for (const std::string& k : list) {
    if (k == key)
      return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> ExtractApiKeysFromText(std::string_view text) {
  std::vector<std::string> keys;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t at = text.find(kKeyPrefix, pos);
    if (at == std::string_view::npos || text.size() - at < kKeyPrefix.size() + kKeyTail)
      break;
    size_t tail = at + kKeyPrefix.size();
    size_t n = 0;
    while (n < kKeyTail && IsKeyChar(text[tail + n]))
      ++n;
    if (n == kKeyTail) {
      keys.emplace_back(text.substr(at, kKeyPrefix.size() + kKeyTail));
      pos = tail + kKeyTail;
    } else {
      pos = at + 1;
    }
  }
  return keys;
}

std::vector<std::string> ExtractApiKeys(const EnvLookup& getenv) {
  std::vector<std::string> keys;
  std::unordered_set<std::string> seen;
  auto add_from = [&](const std::optional<std::string>& value) {
    if (!value)
      return;
    for (std::string& key : ExtractApiKeysFromText(*value)) {
      if (seen.insert(key).second)
        keys.push_back(std::move(key));
    }
  };
  add_from(getenv("GEMINI_API_KEYS"));
  for (int i = 1; i <= 98; ++i) {
    std::optional<std::string> value = getenv("GEMINI_API_KEYS_" + std::to_string(i));
    if (!value)
      break;
    add_from(value);
  }
  return keys;
}

std::vector<std::string> ParseKeyList(std::string_view value) {
  return SplitUnique(value, ",");
}

std::vector<std::string> ParseKeyInput(std::string_view input) {
  return SplitUnique(input, ",\r\n");
}

std::string_view KeyLabel(std::string_view key) {
  return key.substr(0, 8);
}

std::string MaskApiKeysInText(std::string_view text) {
  return MaskApiKeys(text);
}

KeyLists BuildKeyLists(std::vector<std::string> extracted, std::vector<std::string> invalid) {
  KeyLists lists;
  std::unordered_set<std::string_view> bad(invalid.begin(), invalid.end());
  for (std::string& key : extracted) {
    if (!bad.count(key))
      lists.valid.push_back(std::move(key));
  }
  lists.invalid = std::move(invalid);
  return lists;
}

Result<AddKeysResult> AddKeys(std::string_view input, KeyLists* lists) {
  std::vector<std::string> parsed = ParseKeyInput(input);
  if (parsed.empty())
    return Status::Error("未提供有效的API密钥");
  AddKeysResult result;
  std::unordered_set<std::string> present(lists->valid.begin(), lists->valid.end());
  for (std::string& key : parsed) {
    if (present.count(key))
      continue;
    for (auto it = lists->invalid.begin(); it != lists->invalid.end(); ++it) {
      if (*it == key) {
        lists->invalid.erase(it);
        break;
      }
    }
    present.insert(key);
    lists->valid.push_back(key);
    result.new_keys.push_back(std::move(key));
  }
  result.added = result.new_keys.size();
  return result;
}

ValidKeysExport ListValidKeys(const KeyLists& lists) {
  ValidKeysExport out;
  out.keys = lists.valid;
  if (out.keys.empty()) {
    out.message = "当前没有有效的API密钥";
  } else {
    out.message = "成功获取 " + std::to_string(out.keys.size()) + " 个有效API密钥";
  }
  return out;
}

ClearInvalidResult ClearInvalidKeys(KeyLists* lists) {
  ClearInvalidResult out;
  out.cleared = lists->invalid.size();
  lists->invalid.clear();
  if (out.cleared == 0) {
    out.message = "没有失效的API密钥需要清除";
  } else {
    out.message = "已成功清除 " + std::to_string(out.cleared) + " 个失效的API密钥";
  }
  return out;
}

bool MoveKeyToInvalid(std::string_view key, KeyLists* lists) {
  for (auto it = lists->valid.begin(); it != lists->valid.end(); ++it) {
    if (*it == key) {
      lists->valid.erase(it);
      if (!Contains(lists->invalid, key))
        lists->invalid.emplace_back(key);
      return true;
    }
  }
  return false;
}

Status KeyValidationPlan::Start(const KeyLists& lists) {
  if (progress_.is_running)
    return Status::Error("已有API密钥检测正在进行中");
  keys_.clear();
  was_valid_.clear();
  std::unordered_set<std::string_view> seen;
  for (const std::string& key : lists.valid) {
    if (seen.insert(key).second) {
      keys_.push_back(key);
      was_valid_.push_back(1);
    }
  }
  for (const std::string& key : lists.invalid) {
    if (seen.insert(key).second) {
      keys_.push_back(key);
      was_valid_.push_back(0);
    }
  }
  state_.assign(keys_.size(), 0);
  progress_ = KeyValidationProgress{};
  progress_.total = keys_.size();
  progress_.is_running = !keys_.empty();
  progress_.is_completed = keys_.empty();
  return Status::Ok();
}

bool KeyValidationPlan::RecordResult(size_t index, bool valid) {
  if (!progress_.is_running || index >= keys_.size() || state_[index] != 0)
    return false;
  state_[index] = valid ? 1 : 2;
  ++progress_.completed;
  ++(valid ? progress_.valid : progress_.invalid);
  if (progress_.completed == progress_.total) {
    progress_.is_running = false;
    progress_.is_completed = true;
  }
  return true;
}

KeyLists KeyValidationPlan::FinalLists() const {
  KeyLists out;
  for (size_t i = 0; i < keys_.size(); ++i) {
    bool valid = state_[i] == 0 ? was_valid_[i] != 0 : state_[i] == 1;
    (valid ? out.valid : out.invalid).push_back(keys_[i]);
  }
  return out;
}

void KeyValidationPlan::Cancel() {
  progress_.is_running = false;
  progress_.is_completed = false;
}

}  // namespace ringgate
