// Masking of secrets in text that leaves the process (logs, error bodies, the dashboard).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringgate {

// Replaces anything shaped like a Google API key ("AIza" followed by key characters, 30 or more in
// all; real keys have 39) with its first 8 characters and "...", so that no whole key is ever
// written out. Shorter "AIza" runs are left alone: they cannot be a usable key.
std::string MaskApiKeys(std::string_view text);

// Whether MaskApiKeys could change `text` at all (long enough and holding "AIza"): nearly no
// text does, and a caller can then skip copying it.
bool MayHoldApiKey(std::string_view text);

// The same, in place: the result never grows (a masked key is 11 characters, a key at least 30).
// Returns the new length. Allocates nothing: the logger masks every line with it.
size_t MaskApiKeysInPlace(char* text, size_t size);

}  // namespace ringgate
