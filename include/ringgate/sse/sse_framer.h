// SseFramer: incremental server-sent-events parser (WHATWG "event stream interpretation").
//
//   SseFramer framer;
//   framer.Feed(bytes_from_upstream, /*slack_after=*/0);
//   SseFramer::Event event;
//   while (framer.Next(&event)) Handle(event.data, event.readable);
//
// Lines may end with LF, CRLF or CR (a CR at the end of one Feed and an LF at the start of the
// next are one line end); an empty line dispatches the event; lines starting with ':' are
// comments; `data:x` and `data: x` both give `x`; several data lines join with '\n'; `event`,
// `id`, `retry` and unknown fields are ignored; one leading UTF-8 BOM is skipped; an unfinished
// event at the end of the stream is never dispatched.
//
// Zero copy: an event whose single data line lies whole inside the current Feed is returned as a
// view into that input. Otherwise (data split across Feeds, several data lines, an event still
// open when the input runs out) its bytes are assembled in an internal buffer that is reused, so
// steady state allocates nothing.
//
// Padding: every event says how many bytes are readable from `data.data()` (`readable >=
// data.size()`), counting the rest of the input, the caller's promised `slack_after` and, for
// assembled events, the buffer's capacity (assembled events always get kJsonPadding spare bytes).
// A JSON parser that needs padding (simdjson On-Demand) can parse in place when `readable >=
// data.size() + its padding`, and copy otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringgate {

class SseFramer {
 public:
  // Spare bytes kept readable after assembled events (simdjson's SIMDJSON_PADDING is 64).
  static constexpr size_t kJsonPadding = 64;
  static constexpr size_t kDefaultMaxEventBytes = size_t{64} << 20;

  struct Event {
    std::string_view data;  // the joined `data` field values, without the trailing '\n'
    size_t readable = 0;    // bytes readable from data.data(); always >= data.size()
  };

  explicit SseFramer(size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  SseFramer(const SseFramer&) = delete;
  SseFramer& operator=(const SseFramer&) = delete;

  // Hands the framer the next bytes of the stream. The framer reads them during the following
  // Next() calls; they must stay valid and unchanged until Next() returns false (or the next
  // Feed). `slack_after` promises that many readable bytes after the end of `input`. Feeding
  // before Next() has returned false drops the unread rest of the previous input.
  void Feed(std::string_view input, size_t slack_after = 0);

  // Finds the next complete event. Its view stays valid until the next call to Next() or Feed().
  // Returns false when the input is used up (a partial event is kept for the next Feed) or when
  // the stream went over the event size limit (see overflowed()).
  bool Next(Event* event);

  // An unfinished event or line exceeded max_event_bytes; the framer stops until Reset().
  bool overflowed() const { return overflowed_; }
  // Bytes of an unfinished line or event are held (e.g. to detect a stream cut mid-event).
  bool has_partial() const { return !line_buf_.empty() || data_lines_ > 0; }

  // Forgets all state (keeps buffer capacity), ready for a new stream.
  void Reset();

 private:
  enum class Mode : uint8_t { kNone, kView, kBuffer };

  size_t FindLineEnd(size_t from);
  // Handles one complete line; returns true and fills *event when it dispatches an event.
  bool ProcessLine(std::string_view line, bool in_input, Event* event);
  void AppendData(std::string_view value, bool in_input);
  bool CheckLimit();

  std::string_view input_;
  size_t pos_ = 0;
  size_t slack_ = 0;
  // Cached positions of the next '\n' and '\r' at or after the scan position (input_.size() if
  // none), so CR-only and LF-only streams both scan each byte once. -1: not computed yet.
  int64_t next_lf_ = -1;
  int64_t next_cr_ = -1;

  std::string line_buf_;   // an unfinished line carried over from the previous Feed
  std::string data_;       // the assembled data of the current event (Mode::kBuffer)
  std::string_view view_;  // the data of the current event (Mode::kView)
  size_t data_lines_ = 0;
  Mode mode_ = Mode::kNone;
  bool release_data_ = false;  // data_ was handed out as an event; clear it on the next call
  bool skip_lf_ = false;       // the last line ended with CR at the end of an input
  uint8_t bom_matched_ = 0;    // leading BOM bytes seen so far
  bool bom_done_ = false;
  bool overflowed_ = false;
  size_t max_event_bytes_;
};

// Appends one SSE event carrying `payload` on a single data line: "data: <payload>\n\n".
// The payload must not contain line breaks (compact JSON never does).
inline void AppendSseData(std::string& out, std::string_view payload) {
  out.append("data: ");
  out.append(payload);
  out.append("\n\n");
}

// Appends an SSE comment ": <text>\n\n" (a heartbeat clients ignore).
inline void AppendSseComment(std::string& out, std::string_view text) {
  out.append(": ");
  out.append(text);
  out.append("\n\n");
}

}  // namespace ringgate
