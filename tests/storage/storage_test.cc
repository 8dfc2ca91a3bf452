// Storage (the facade main.cc and core 0 use): a corrupt or unreadable file is logged, kept
// aside and ignored (start from the environment); the leftover of an interrupted write is
// removed; saves are written with mode 0600 and only when the contents changed; the directory is
// created at start.
#include "ringgate/storage/storage.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "ringgate/keys/reset_time.h"
#include "storage_test_util.h"

namespace ringgate::testing {
namespace {

const int64_t kNoon = DaysFromCivil(2025, 7, 15) * kMillisPerDay + 12 * 3'600'000LL;

EnvLookup NoEnv() {
  return [](std::string_view) { return std::optional<std::string>(); };
}

auto NoFlags() {
  return [](std::string_view) { return false; };
}

std::vector<std::string> CorruptCopies(const TempDir& dir, const std::string& name) {
  std::vector<std::string> out;
  for (const std::string& file : dir.List()) {
    if (file.rfind(name + ".corrupt-", 0) == 0)
      out.push_back(file);
  }
  return out;
}

TEST(StorageTest, ACorruptSettingsFileIsKeptAsideAndTheEnvironmentUsed) {
  TempDir dir;
  WriteText(dir.File("settings.json"), "{\"MAX_RETRY_NUM\": 20,");
  Storage storage(dir.path());
  Config config;
  config.max_retry_num = 7;
  const AppliedSettings& applied = storage.LoadSettings(&config, NoEnv(), NoFlags(), kNoon);
  EXPECT_TRUE(applied.from_file.empty());
  EXPECT_EQ(config.max_retry_num, 7u);
  EXPECT_FALSE(Exists(dir.File("settings.json")));
  std::vector<std::string> aside = CorruptCopies(dir, "settings.json");
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_EQ(ReadText(dir.File(aside[0])), "{\"MAX_RETRY_NUM\": 20,") << "the bytes are kept";
}

TEST(StorageTest, AnUnreadableSettingsFileIsKeptAside) {
  TempDir dir;
  ASSERT_EQ(mkdir(dir.File("settings.json").c_str(), 0700), 0);  // read() fails: EISDIR
  Storage storage(dir.path());
  Config config;
  storage.LoadSettings(&config, NoEnv(), NoFlags(), kNoon);
  EXPECT_EQ(CorruptCopies(dir, "settings.json").size(), 1u);
  EXPECT_FALSE(Exists(dir.File("settings.json")));
}

TEST(StorageTest, ACorruptStateFileIsKeptAsideAndNothingRestored) {
  TempDir dir;
  WriteText(dir.File("ringgate-state.json"), "{\"version\": 9}");
  Storage storage(dir.path());
  const PersistedState& state = storage.LoadState(kNoon);
  EXPECT_TRUE(state.quarantined.empty());
  EXPECT_EQ(CorruptCopies(dir, "ringgate-state.json").size(), 1u);
}

TEST(StorageTest, AMissingFileIsNotAnError) {
  TempDir dir;
  Storage storage(dir.File("not-yet"));
  Config config;
  EXPECT_TRUE(storage.LoadSettings(&config, NoEnv(), NoFlags(), kNoon).from_file.empty());
  EXPECT_TRUE(storage.LoadState(kNoon).usage.empty());
  EXPECT_TRUE(dir.List().empty()) << "loading creates nothing";
}

TEST(StorageTest, TheLeftoverOfAnInterruptedWriteIsRemovedAndTheFileUsed) {
  TempDir dir;
  WriteText(dir.File("settings.json"), "{\"MAX_RETRY_NUM\": 21}");
  WriteText(dir.File("settings.json.tmp"), "{\"MAX_RETRY_NUM\": 2");  // half a write
  Storage storage(dir.path());
  Config config;
  storage.LoadSettings(&config, NoEnv(), NoFlags(), kNoon);
  EXPECT_EQ(config.max_retry_num, 21u);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"settings.json"});
}

TEST(StorageTest, SavesGoThroughTheWriterWithMode0600AndOnlyWhenChanged) {
  TempDir dir;
  std::string directory = dir.File("created/at/start");
  StorageWriterOptions fast;
  fast.first_delay_ms = 0;
  fast.min_interval_ms = 0;
  Storage storage(directory, fast);
  Config config;
  storage.LoadSettings(&config, NoEnv(), NoFlags(), kNoon);
  storage.Start();
  KeyLists keys{{"AIzaSyK1"}, {"AIzaSyBAD"}};
  storage.SaveSettings(SettingsFromConfig(config), keys);
  PersistedState state;
  state.quarantined = {"AIzaSyBAD"};
  storage.SaveState(state, kNoon);
  ASSERT_TRUE(storage.Flush().ok());
  EXPECT_EQ(storage.writer().writes(), 2u);
  for (const char* name : {"settings.json", "ringgate-state.json"}) {
    struct stat info;
    ASSERT_EQ(stat((directory + "/" + name).c_str(), &info), 0) << name;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << name;
  }
  std::string settings = ReadText(directory + "/settings.json");
  EXPECT_NE(settings.find("\"INVALID_API_KEYS\": \"AIzaSyBAD\""), std::string::npos) << settings;

  // The same contents again (a later saved_at_ms aside): nothing new to write.
  storage.SaveSettings(SettingsFromConfig(config), keys);
  storage.SaveState(state, kNoon + 5000);
  ASSERT_TRUE(storage.Flush().ok());
  EXPECT_EQ(storage.writer().writes(), 2u);
  state.quarantined.push_back("AIzaSyWORSE");
  storage.SaveState(state, kNoon + 6000);
  ASSERT_TRUE(storage.Flush().ok());
  EXPECT_EQ(storage.writer().writes(), 3u);
}

TEST(StorageTest, UnknownNamesOfTheLoadedFileAreWrittenBack) {
  TempDir dir;
  WriteText(dir.File("settings.json"), "{\"ENABLE_VERTEX\": true, \"MAX_RETRY_NUM\": 4}");
  Storage storage(dir.path());
  Config config;
  storage.LoadSettings(&config, NoEnv(), NoFlags(), kNoon);
  EXPECT_EQ(storage.settings_from_file(), std::vector<std::string>{"MAX_RETRY_NUM"});
  storage.Start();
  storage.SaveSettings(SettingsFromConfig(config), KeyLists{});
  ASSERT_TRUE(storage.Flush().ok());
  std::string text = ReadText(dir.File("settings.json"));
  EXPECT_EQ(text.rfind("{\n    \"ENABLE_VERTEX\": true,\n    \"MAX_RETRY_NUM\": 4,\n", 0), 0u)
      << text;
}

}  // namespace
}  // namespace ringgate::testing
