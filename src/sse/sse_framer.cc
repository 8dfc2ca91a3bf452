#include "ringgate/sse/sse_framer.h"

#include <algorithm>
#include <cstring>

namespace ringgate {
namespace {

constexpr char kBom[] = "\xef\xbb\xbf";

int64_t FindByte(std::string_view s, size_t from, char c) {
  const void* hit = std::memchr(s.data() + from, c, s.size() - from);
  if (hit == nullptr)
    return static_cast<int64_t>(s.size());
  return static_cast<const char*>(hit) - s.data();
}

}  // namespace

void SseFramer::Feed(std::string_view input, size_t slack_after) {
  input_ = input;
  pos_ = 0;
  slack_ = slack_after;
  next_lf_ = -1;
  next_cr_ = -1;
}

void SseFramer::Reset() {
  input_ = {};
  pos_ = 0;
  slack_ = 0;
  next_lf_ = next_cr_ = -1;
  line_buf_.clear();
  data_.clear();
  view_ = {};
  data_lines_ = 0;
  mode_ = Mode::kNone;
  release_data_ = false;
  skip_lf_ = false;
  bom_matched_ = 0;
  bom_done_ = false;
  overflowed_ = false;
}

size_t SseFramer::FindLineEnd(size_t from) {
  auto at = static_cast<int64_t>(from);
  if (next_lf_ < at)
    next_lf_ = FindByte(input_, from, '\n');
  if (next_cr_ < at)
    next_cr_ = FindByte(input_, from, '\r');
  return static_cast<size_t>(std::min(next_lf_, next_cr_));
}

bool SseFramer::CheckLimit() {
  if (line_buf_.size() + data_.size() + view_.size() > max_event_bytes_)
    overflowed_ = true;
  return !overflowed_;
}

bool SseFramer::Next(Event* event) {
  if (release_data_) {
    data_.clear();
    release_data_ = false;
  }
  if (overflowed_)
    return false;

  const size_t size = input_.size();
  while (!bom_done_ && pos_ < size) {
    if (input_[pos_] == kBom[bom_matched_]) {
      ++pos_;
      if (++bom_matched_ == 3)
        bom_done_ = true;
    } else {
      // Not a BOM after all: the bytes that matched so far start the first line.
      line_buf_.assign(kBom, bom_matched_);
      bom_done_ = true;
    }
  }

  while (pos_ < size) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (input_[pos_] == '\n') {
        ++pos_;
        continue;
      }
    }
    size_t end = FindLineEnd(pos_);
    if (end == size) {
      // An unfinished line: keep it for the next Feed.
      line_buf_.append(input_.data() + pos_, size - pos_);
      pos_ = size;
      if (!CheckLimit())
        return false;
      break;
    }
    std::string_view line;
    bool in_input = line_buf_.empty();
    if (in_input) {
      line = input_.substr(pos_, end - pos_);
    } else {
      line_buf_.append(input_.data() + pos_, end - pos_);
      line = line_buf_;
    }
    pos_ = end + 1;
    if (input_[end] == '\r') {
      if (pos_ < size) {
        if (input_[pos_] == '\n')
          ++pos_;
      } else {
        skip_lf_ = true;
      }
    }
    bool dispatched = ProcessLine(line, in_input, event);
    if (!in_input)
      line_buf_.clear();
    if (dispatched)
      return true;
    if (!CheckLimit())
      return false;
  }

  // The input is used up: an open event must not keep pointing into it.
  if (mode_ == Mode::kView) {
    data_.assign(view_);
    view_ = {};
    mode_ = Mode::kBuffer;
  }
  return false;
}

bool SseFramer::ProcessLine(std::string_view line, bool in_input, Event* event) {
  if (line.empty()) {
    if (data_lines_ == 0)
      return false;
    if (mode_ == Mode::kView) {
      event->data = view_;
      event->readable = static_cast<size_t>(input_.data() + input_.size() - view_.data()) + slack_;
      view_ = {};
    } else {
      data_.reserve(data_.size() + kJsonPadding);
      event->data = data_;
      event->readable = data_.capacity();
      release_data_ = true;
    }
    data_lines_ = 0;
    mode_ = Mode::kNone;
    return true;
  }
  if (line[0] == ':')
    return false;  // comment
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  if (field != "data")
    return false;  // event, id, retry and unknown fields: not needed here
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ')
      value.remove_prefix(1);
  }
  AppendData(value, in_input);
  return false;
}

void SseFramer::AppendData(std::string_view value, bool in_input) {
  if (data_lines_ == 0 && in_input) {
    view_ = value;
    mode_ = Mode::kView;
  } else {
    if (mode_ == Mode::kView) {
      data_.assign(view_);
      view_ = {};
    }
    if (data_lines_ > 0)
      data_.push_back('\n');
    data_.append(value);
    mode_ = Mode::kBuffer;
  }
  ++data_lines_;
}

}  // namespace ringgate
