// When daily counters and per-day quotas start over. All times are Unix epoch milliseconds (UTC,
// CLOCK_REALTIME), passed in by the caller; nothing here reads a clock.
#pragma once

#include <cstdint>

namespace ringgate {

inline constexpr int64_t kMillisPerDay = 86'400'000;

// HAJIMI's daily stats reset: 15:00 Asia/Shanghai = 07:00 UTC (China has no DST). The first
// 07:00 UTC strictly after now_ms.
int64_t DailyResetAfter(int64_t now_ms);

// Google's per-day quota reset: midnight America/Los_Angeles (07:00 UTC while US daylight time is
// in force, 08:00 UTC in winter; US rules since 2007: second Sunday of March to first Sunday of
// November). The first such midnight strictly after now_ms. Per-day rests use this, not
// DailyResetAfter: in winter a key released at 07:00 UTC would hit the same exhausted quota and
// then rest for a whole day.
int64_t QuotaDayResetAfter(int64_t now_ms);

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace ringgate
