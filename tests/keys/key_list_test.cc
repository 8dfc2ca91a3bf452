// Key extraction (HAJIMI's regex rule), list parsing and the dashboard's key operations.
#include "ringgate/keys/key_list.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace ringgate {
namespace {

// 39-character keys: "AIzaSy" + 33 key characters.
std::string MakeKey(char fill, char last = 'Z') {
  std::string k = "AIzaSy" + std::string(32, fill);
  k.push_back(last);
  return k;
}

EnvLookup MapEnv(std::map<std::string, std::string> env) {
  return [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end())
      return std::nullopt;
    return it->second;
  };
}

TEST(ExtractApiKeys, TakesEveryMatchWithAnySeparator) {
  std::string a = MakeKey('a'), b = MakeKey('b'), c = MakeKey('_', '-');
  auto keys = ExtractApiKeysFromText(a + "," + b + " ;\n" + c);
  EXPECT_EQ(keys, (std::vector<std::string>{a, b, c}));
  // Glued together: findall is non-overlapping and takes exactly 39 characters each.
  EXPECT_EQ(ExtractApiKeysFromText(a + b), (std::vector<std::string>{a, b}));
  // Extra key characters after a key are not part of it (the regex has no boundary).
  EXPECT_EQ(ExtractApiKeysFromText(a + "xyz"), (std::vector<std::string>{a}));
}

TEST(ExtractApiKeys, RejectsShortAndForeignCharacters) {
  std::string a = MakeKey('a');
  EXPECT_TRUE(ExtractApiKeysFromText(a.substr(0, 38)).empty());
  std::string bad = a;
  bad[20] = '.';
  EXPECT_TRUE(ExtractApiKeysFromText(bad).empty());
  EXPECT_TRUE(ExtractApiKeysFromText("AIzaSx" + std::string(33, 'a')).empty());
  // A failed candidate does not hide a real key starting inside it.
  EXPECT_EQ(ExtractApiKeysFromText("AIzaSy." + a), (std::vector<std::string>{a}));
  // Like re.findall, a candidate may swallow the start of the next key.
  EXPECT_EQ(ExtractApiKeysFromText("AIzaSy" + a),
            (std::vector<std::string>{"AIzaSy" + a.substr(0, 33)}));
  EXPECT_TRUE(ExtractApiKeysFromText("").empty());
}

TEST(ExtractApiKeys, ReadsNumberedVariablesUntilTheFirstGapAndDedupes) {
  std::string a = MakeKey('a'), b = MakeKey('b'), c = MakeKey('c'), d = MakeKey('d');
  auto keys = ExtractApiKeys(MapEnv({{"GEMINI_API_KEYS", a + "," + b},
                                     {"GEMINI_API_KEYS_1", b + "," + c},
                                     {"GEMINI_API_KEYS_2", a},
                                     {"GEMINI_API_KEYS_4", d}}));  // _3 missing: _4 unread
  EXPECT_EQ(keys, (std::vector<std::string>{a, b, c}));
  EXPECT_TRUE(ExtractApiKeys(MapEnv({})).empty());
  // _1 is read even if GEMINI_API_KEYS is unset; an empty _1 still counts as present.
  EXPECT_EQ(ExtractApiKeys(MapEnv({{"GEMINI_API_KEYS_1", ""}, {"GEMINI_API_KEYS_2", c}})),
            (std::vector<std::string>{c}));
}

TEST(ExtractApiKeys, ReadsUpTo98) {
  std::map<std::string, std::string> env;
  // Distinct keys per index: make the 33rd tail char depend on i.
  for (int i = 1; i <= 99; ++i) {
    std::string k = "AIzaSy" + std::string(31, 'q');
    k.push_back(static_cast<char>('A' + i / 26));
    k.push_back(static_cast<char>('a' + i % 26));
    env["GEMINI_API_KEYS_" + std::to_string(i)] = k;
  }
  EXPECT_EQ(ExtractApiKeys(MapEnv(env)).size(), 98u);
}

TEST(ParseKeyList, TrimsDropsEmptiesAndDuplicates) {
  EXPECT_EQ(ParseKeyList(" a , b,,a ,\tc "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(ParseKeyList("").empty());
  EXPECT_TRUE(ParseKeyList(" , ,").empty());
}

TEST(ParseKeyInput, SplitsOnCommaCrAndLf) {
  EXPECT_EQ(ParseKeyInput("a\r\nb\nc, d\re,a"),
            (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

TEST(MaskApiKeysInText, MasksKeysOnly) {
  std::string a = MakeKey('a');
  EXPECT_EQ(MaskApiKeysInText("key " + a + " bad"), "key AIzaSyaa... bad");
  EXPECT_EQ(MaskApiKeysInText("AIza short"), "AIza short");
  EXPECT_EQ(KeyLabel(a), "AIzaSyaa");
}

TEST(KeyLists, BuildExcludesInvalid) {
  KeyLists lists = BuildKeyLists({"a", "b", "c"}, {"b", "x"});
  EXPECT_EQ(lists.valid, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(lists.invalid, (std::vector<std::string>{"b", "x"}));
}

TEST(KeyLists, AddKeys) {
  KeyLists lists{{"a", "b"}, {"x"}};
  auto r = AddKeys("b, c\nc\r\nx\n d ", &lists);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 3u);
  EXPECT_EQ(r->new_keys, (std::vector<std::string>{"c", "x", "d"}));
  EXPECT_EQ(lists.valid, (std::vector<std::string>{"a", "b", "c", "x", "d"}));
  EXPECT_TRUE(lists.invalid.empty());

  auto again = AddKeys("a,b", &lists);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->added, 0u);

  auto empty = AddKeys(" ,\n ", &lists);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().message(), "未提供有效的API密钥");
}

TEST(KeyLists, ListValidKeys) {
  KeyLists lists{{"a", "b"}, {}};
  ValidKeysExport e = ListValidKeys(lists);
  EXPECT_EQ(e.keys, lists.valid);
  EXPECT_EQ(e.message, "成功获取 2 个有效API密钥");
  EXPECT_EQ(ListValidKeys(KeyLists{}).message, "当前没有有效的API密钥");
}

TEST(KeyLists, ClearInvalidKeysLeavesRotation) {
  KeyLists lists{{"a"}, {"x", "y"}};
  ClearInvalidResult r = ClearInvalidKeys(&lists);
  EXPECT_EQ(r.cleared, 2u);
  EXPECT_EQ(r.message, "已成功清除 2 个失效的API密钥");
  EXPECT_TRUE(lists.invalid.empty());
  EXPECT_EQ(lists.valid, (std::vector<std::string>{"a"}));
  EXPECT_EQ(ClearInvalidKeys(&lists).message, "没有失效的API密钥需要清除");
}

TEST(KeyLists, MoveKeyToInvalid) {
  KeyLists lists{{"a", "b"}, {}};
  EXPECT_TRUE(MoveKeyToInvalid("a", &lists));
  EXPECT_FALSE(MoveKeyToInvalid("a", &lists));
  EXPECT_EQ(lists.valid, (std::vector<std::string>{"b"}));
  EXPECT_EQ(lists.invalid, (std::vector<std::string>{"a"}));
}

TEST(KeyValidationPlan, ProgressAndFinalLists) {
  KeyValidationPlan plan;
  EXPECT_FALSE(plan.progress().is_running);
  EXPECT_FALSE(plan.progress().is_completed);

  KeyLists lists{{"a", "b", "c"}, {"x", "a"}};
  ASSERT_TRUE(plan.Start(lists).ok());
  EXPECT_EQ(plan.keys(), (std::vector<std::string>{"a", "b", "c", "x"}));
  EXPECT_EQ(plan.progress().total, 4u);
  EXPECT_TRUE(plan.progress().is_running);
  // A second start while running is refused with HAJIMI's 409 text.
  Status again = plan.Start(lists);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.message(), "已有API密钥检测正在进行中");

  EXPECT_TRUE(plan.RecordResult(1, false));  // b
  EXPECT_FALSE(plan.RecordResult(1, true));  // twice: ignored
  EXPECT_FALSE(plan.RecordResult(9, true));  // out of range
  EXPECT_TRUE(plan.RecordResult(3, true));   // x comes back
  EXPECT_EQ(plan.progress().completed, 2u);
  EXPECT_EQ(plan.progress().valid, 1u);
  EXPECT_EQ(plan.progress().invalid, 1u);
  EXPECT_FALSE(plan.progress().is_completed);
  // Untested keys keep their old standing until their result arrives.
  KeyLists partial = plan.FinalLists();
  EXPECT_EQ(partial.valid, (std::vector<std::string>{"a", "c", "x"}));

  EXPECT_TRUE(plan.RecordResult(0, true));
  EXPECT_TRUE(plan.RecordResult(2, false));
  EXPECT_FALSE(plan.progress().is_running);
  EXPECT_TRUE(plan.progress().is_completed);
  KeyLists done = plan.FinalLists();
  EXPECT_EQ(done.valid, (std::vector<std::string>{"a", "x"}));
  EXPECT_EQ(done.invalid, (std::vector<std::string>{"b", "c"}));
  EXPECT_FALSE(plan.RecordResult(0, false));  // not running

  // is_completed stays true until the next run starts.
  EXPECT_TRUE(plan.progress().is_completed);
  ASSERT_TRUE(plan.Start(done).ok());
  EXPECT_FALSE(plan.progress().is_completed);
  EXPECT_EQ(plan.progress().completed, 0u);
}

TEST(KeyValidationPlan, EmptySetCompletesAtOnce) {
  KeyValidationPlan plan;
  ASSERT_TRUE(plan.Start(KeyLists{}).ok());
  EXPECT_FALSE(plan.progress().is_running);
  EXPECT_TRUE(plan.progress().is_completed);
  EXPECT_EQ(plan.progress().total, 0u);
}

}  // namespace
}  // namespace ringgate
