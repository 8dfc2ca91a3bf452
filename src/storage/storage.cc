#include "ringgate/storage/storage.h"

#include <cerrno>
#include <optional>

#include "ringgate/common/log.h"
#include "ringgate/storage/atomic_file.h"

namespace ringgate {

Storage::Storage(std::string directory, StorageWriterOptions writer_options)
    : directory_(std::move(directory)), writer_([&] {
        writer_options.directory = directory_;
        return writer_options;
      }()) {}

Storage::~Storage() {
  writer_.Stop();
}

template <typename Parsed, typename Parse>
std::optional<Parsed> Storage::ReadFile(const char* name, int64_t now_ms, Parse&& parse) {
  if (RemoveStaleTemporary(directory_, name)) {
    RG_LOG(kInfo, "storage: removed %s%s left by an interrupted write", name,
           std::string(kTemporarySuffix).c_str());
  }
  std::string path = JoinPath(directory_, name);
  Result<std::string> text = ReadWholeFile(path);
  std::string problem;
  if (!text) {
    if (text.status().sys_errno() == ENOENT)
      return std::nullopt;
    problem = "cannot be read: " + text.status().message();
  } else {
    Result<Parsed> parsed = parse(*text);
    if (parsed)
      return std::move(*parsed);
    problem = "is corrupt: " + parsed.status().message();
  }
  Result<std::string> aside = MoveAside(path, now_ms);
  if (aside) {
    RG_LOG(kError, "storage: %s %s; kept as %s, starting from the environment", path.c_str(),
           problem.c_str(), aside->c_str());
  } else {
    RG_LOG(kError, "storage: %s %s; cannot move it aside (%s); starting from the environment",
           path.c_str(), problem.c_str(), aside.status().message().c_str());
  }
  return std::nullopt;
}

const AppliedSettings& Storage::LoadSettings(
    Config* config, const EnvLookup& getenv,
    const std::function<bool(std::string_view)>& flag_given, int64_t now_ms) {
  std::optional<SettingsFile> file = ReadFile<SettingsFile>(
      kSettingsFileName, now_ms, [](const std::string& text) { return ParseSettingsFile(text); });
  if (!file)
    return applied_;
  loaded_settings_ = std::move(*file);
  applied_ = ApplySettingsFile(loaded_settings_, config, getenv, flag_given);
  for (const std::string& problem : applied_.problems)
    RG_LOG(kWarning, "storage: %s", problem.c_str());
  std::string names;
  for (const std::string& name : applied_.from_file)
    names += (names.empty() ? "" : ", ") + name;
  RG_LOG(kInfo, "storage: %zu settings from %s%s%s", applied_.from_file.size(), kSettingsFileName,
         names.empty() ? "" : ": ", names.c_str());
  return applied_;
}

const PersistedState& Storage::LoadState(int64_t now_ms) {
  std::optional<PersistedState> state = ReadFile<PersistedState>(
      kStateFileName, now_ms,
      [now_ms](const std::string& text) { return ParseStateFile(text, now_ms); });
  if (!state)
    return loaded_state_;
  loaded_state_ = std::move(*state);
  RG_LOG(kInfo,
         "storage: %s: %zu quarantined keys, %zu resting (key, model) pairs, usage of %zu "
         "(key, model) pairs today%s",
         kStateFileName, loaded_state_.quarantined.size(), loaded_state_.rests.size(),
         loaded_state_.usage.size(), loaded_state_.stats.empty() ? "" : ", statistics");
  return loaded_state_;
}

void Storage::Start() {
  Status made = MakeDirectories(directory_);
  if (!made.ok()) {
    RG_LOG(kError, "storage: %s; settings and key state will not be saved until it exists",
           made.message().c_str());
  }
  writer_.Start();
}

void Storage::SaveSettings(const SettingsList& settings, const KeyLists& keys) {
  std::string text = RenderSettingsFile(settings, keys, loaded_settings_.entries);
  if (text == last_settings_)
    return;
  last_settings_ = text;
  writer_.Submit(kSettingsFileName, std::move(text));
}

void Storage::SaveState(const PersistedState& state, int64_t now_ms) {
  if (last_state_ && *last_state_ == state)
    return;
  last_state_ = state;
  writer_.Submit(kStateFileName, RenderStateFile(state, now_ms));
}

}  // namespace ringgate
