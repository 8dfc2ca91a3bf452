#include "ringgate/keys/reset_time.h"

namespace ringgate {
namespace {

constexpr int64_t kMillisPerHour = 3'600'000;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Howard Hinnant's civil_from_days: year of a day number.
void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int64_t>(yoe) + era * 400 + (*month <= 2 ? 1 : 0);
}

// Day number of the n-th Sunday (n >= 1) of a month.
int64_t NthSunday(int64_t year, unsigned month, int n) {
  int64_t first = DaysFromCivil(year, month, 1);
  // 1970-01-01 was a Thursday; weekday 0 = Sunday.
  int64_t weekday = ((first + 4) % 7 + 7) % 7;
  int64_t first_sunday = first + (7 - weekday) % 7;
  return first_sunday + 7 * (n - 1);
}

// Is local midnight of the Pacific calendar date `day` in daylight time? The switches happen at
// 02:00 local, so the switch day's midnight still has the old offset.
bool PacificMidnightIsDaylight(int64_t day) {
  int64_t year;
  unsigned month, dom;
  CivilFromDays(day, &year, &month, &dom);
  return day > NthSunday(year, 3, 2) && day <= NthSunday(year, 11, 1);
}

}  // namespace

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t DailyResetAfter(int64_t now_ms) {
  constexpr int64_t kOffset = 7 * kMillisPerHour;
  return (FloorDiv(now_ms - kOffset, kMillisPerDay) + 1) * kMillisPerDay + kOffset;
}

int64_t QuotaDayResetAfter(int64_t now_ms) {
  int64_t today = FloorDiv(now_ms, kMillisPerDay);
  for (int64_t day = today - 1; day <= today + 2; ++day) {
    int64_t offset = (PacificMidnightIsDaylight(day) ? 7 : 8) * kMillisPerHour;
    int64_t midnight = day * kMillisPerDay + offset;
    if (midnight > now_ms)
      return midnight;
  }
  return DailyResetAfter(now_ms);  // not reached
}

}  // namespace ringgate
