// File primitives for persistence: whole-file atomic replacement, whole-file reads, moving a bad
// file aside. Blocking system calls: call them from the storage writer's thread or at start-up,
// never from a reactor thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "ringgate/common/result.h"

namespace ringgate {

// Suffix of the temporary file a write goes through ("settings.json.tmp"). A process killed
// mid-write leaves one behind; RemoveStaleTemporary deletes it at the next start.
inline constexpr std::string_view kTemporarySuffix = ".tmp";

// Creates `directory` and its missing parents (mode 0700 for the ones it creates).
Status MakeDirectories(const std::string& directory);

// Replaces directory/name with `contents` so that a reader, or the next start after a crash or a
// power cut, sees either the old file or the new one, whole: write directory/name.tmp (mode
// `mode`), fsync it, rename it over directory/name, fsync the directory. On error the target is
// untouched and the temporary file removed; the Status says which step failed (with errno).
Status WriteFileAtomically(const std::string& directory, const std::string& name,
                           std::string_view contents, mode_t mode = 0600);

// The whole file. A missing file is an error with sys_errno() == ENOENT.
Result<std::string> ReadWholeFile(const std::string& path);

// Renames path to path + ".corrupt-<UTC time>" (e.g. settings.json.corrupt-20250101T120000Z,
// with a counter when that name is taken) and returns the new path.
Result<std::string> MoveAside(const std::string& path, int64_t now_ms);

// Deletes directory/name.tmp, the leftover of an interrupted write, if there is one; true if it
// was there.
bool RemoveStaleTemporary(const std::string& directory, const std::string& name);

// directory + "/" + name, without doubling a trailing slash.
std::string JoinPath(const std::string& directory, const std::string& name);

}  // namespace ringgate
