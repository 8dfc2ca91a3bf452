#include "ringgate/tls/tls_stream.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "ringgate/tls/tls_context.h"
#include "ringgate/tls/tls_session_cache.h"
#include "tls_internal.h"

namespace ringgate {

// The BIO callbacks and the session callback reach the stream's buffers through this.
struct TlsStreamAccess {
  static int BioRead(BIO* bio, char* data, int len) {
    BIO_clear_retry_flags(bio);
    auto* s = static_cast<TlsStream*>(BIO_get_data(bio));
    const size_t avail = s->in_end_ - s->in_begin_;
    if (avail == 0) {
      if (s->socket_eof_)
        return 0;  // EOF: BoringSSL reports truncation or close.
      BIO_set_retry_read(bio);
      return -1;
    }
    const size_t n = std::min(avail, static_cast<size_t>(len < 0 ? 0 : len));
    std::memcpy(data, s->in_.get() + s->in_begin_, n);
    s->in_begin_ += n;
    if (s->in_begin_ == s->in_end_)
      s->in_begin_ = s->in_end_ = 0;
    return static_cast<int>(n);
  }

  static int BioWrite(BIO* bio, const char* data, int len) {
    BIO_clear_retry_flags(bio);
    if (len <= 0)
      return 0;
    auto* s = static_cast<TlsStream*>(BIO_get_data(bio));
    s->out_.append(data, static_cast<size_t>(len));
    return len;
  }

  static long BioCtrl(BIO* bio, int cmd, long /*larg*/, void* /*parg*/) {
    auto* s = static_cast<TlsStream*>(BIO_get_data(bio));
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        return 1;  // The owner flushes; nothing is held back here.
      case BIO_CTRL_PENDING:
        return static_cast<long>(s->in_end_ - s->in_begin_);
      case BIO_CTRL_WPENDING:
        return static_cast<long>(s->out_.size() - s->out_offset_);
      default:
        return 0;
    }
  }

  static int OnNewSession(SSL* ssl, SSL_SESSION* session);
};

namespace {

constexpr size_t kReadChunk = 16384;  // The largest TLS record plaintext.
constexpr size_t kMinInputCapacity = 16384 + 512;

const BIO_METHOD* StreamBioMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringgate-tls");
    if (m == nullptr)
      return static_cast<BIO_METHOD*>(nullptr);
    BIO_meth_set_read(m, TlsStreamAccess::BioRead);
    BIO_meth_set_write(m, TlsStreamAccess::BioWrite);
    BIO_meth_set_ctrl(m, TlsStreamAccess::BioCtrl);
    return m;
  }();
  return method;
}

int StreamIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

int TlsStreamAccess::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* s = static_cast<TlsStream*>(SSL_get_ex_data(ssl, StreamIndex()));
  if (s == nullptr || s->cache_ == nullptr)
    return 0;
  s->cache_->Put(s->cache_key_, SslSessionPtr(session));
  return 1;  // The cache owns the reference now.
}

namespace tls_internal {
int OnNewClientSession(SSL* ssl, SSL_SESSION* session) {
  return TlsStreamAccess::OnNewSession(ssl, session);
}
}  // namespace tls_internal

const char* TlsErrorName(TlsError error) {
  switch (error) {
    case TlsError::kNone:
      return "none";
    case TlsError::kCertificateVerify:
      return "certificate verify";
    case TlsError::kHostnameMismatch:
      return "hostname mismatch";
    case TlsError::kHandshake:
      return "handshake";
    case TlsError::kProtocol:
      return "protocol";
    case TlsError::kUnexpectedEof:
      return "unexpected eof";
    case TlsError::kClosed:
      return "closed";
    case TlsError::kInternal:
      return "internal";
  }
  return "unknown";
}

TlsStream::TlsStream(SSL* ssl, bool is_server) : ssl_(ssl), is_server_(is_server) {}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
}

namespace {

// Creates the SSL object with our BIO attached; `make` builds the TlsStream around it.
template <typename Make>
Result<std::unique_ptr<TlsStream>> NewStream(TlsContext& ctx, Make make) {
  const BIO_METHOD* method = StreamBioMethod();
  if (method == nullptr || StreamIndex() < 0)
    return Status::Error("TLS: BIO setup failed");
  SSL* ssl = SSL_new(ctx.native());
  if (ssl == nullptr) {
    return Status::Error("TLS: SSL_new failed: " + tls_internal::TakeErrors("out of memory"));
  }
  std::unique_ptr<TlsStream> stream = make(ssl);  // Owns `ssl` from here on.
  BIO* bio = BIO_new(method);
  if (bio == nullptr)
    return Status::Error("TLS: BIO_new failed");
  BIO_set_data(bio, stream.get());
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // One reference, used for both directions.
  SSL_set_ex_data(ssl, StreamIndex(), stream.get());
  return stream;
}

}  // namespace

Result<std::unique_ptr<TlsStream>> TlsStream::Client(TlsContext& ctx, std::string_view host,
                                                     TlsSessionCache* cache, uint16_t port) {
  if (ctx.is_server())
    return Status::Error("TLS: a client stream needs a client context");
  if (host.empty())
    return Status::Error("TLS: a client stream needs a host name");
  ERR_clear_error();
  Result<std::unique_ptr<TlsStream>> made = NewStream(
      ctx, [](SSL* ssl) { return std::unique_ptr<TlsStream>(new TlsStream(ssl, false)); });
  if (!made.ok())
    return made;
  TlsStream& s = **made;
  SSL* ssl = s.ssl_;
  SSL_set_connect_state(ssl);

  std::string name(host);
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  if (IsIpLiteral(name)) {
    // No SNI for addresses (RFC 6066); the certificate must name the IP.
    if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str())) {
      return Status::Error("TLS: bad IP address '" + name + "'");
    }
  } else if (!SSL_set_tlsext_host_name(ssl, name.c_str()) || !SSL_set1_host(ssl, name.c_str())) {
    return Status::Error("TLS: cannot set host name '" + name +
                         "': " + tls_internal::TakeErrors("invalid"));
  }
  // Free the handshake configuration once connected (renegotiation is off by default).
  SSL_set_shed_handshake_config(ssl, 1);

  if (cache != nullptr) {
    s.cache_ = cache;
    s.cache_key_ = TlsSessionCache::Key(name, port);
    if (SslSessionPtr session = cache->Take(s.cache_key_)) {
      SSL_set_session(ssl, session.get());  // Takes its own reference.
    }
  }
  return made;
}

Result<std::unique_ptr<TlsStream>> TlsStream::Server(TlsContext& ctx) {
  if (!ctx.is_server())
    return Status::Error("TLS: a server stream needs a server context");
  ERR_clear_error();
  Result<std::unique_ptr<TlsStream>> made =
      NewStream(ctx, [](SSL* ssl) { return std::unique_ptr<TlsStream>(new TlsStream(ssl, true)); });
  if (!made.ok())
    return made;
  SSL_set_accept_state((*made)->ssl_);
  SSL_set_shed_handshake_config((*made)->ssl_, 1);
  return made;
}

// ---- Input ----

void TlsStream::ReserveInput(size_t n) {
  if (in_capacity_ - in_end_ >= n)
    return;
  const size_t used = in_end_ - in_begin_;
  if (in_begin_ > 0 && in_capacity_ - used >= n) {
    std::memmove(in_.get(), in_.get() + in_begin_, used);
  } else {
    const size_t capacity = std::max({kMinInputCapacity, used + n, in_capacity_ * 2});
    std::unique_ptr<char[]> bigger(new char[capacity]);
    if (used > 0)
      std::memcpy(bigger.get(), in_.get() + in_begin_, used);
    in_ = std::move(bigger);
    in_capacity_ = capacity;
  }
  in_begin_ = 0;
  in_end_ = used;
}

void TlsStream::FeedCiphertext(std::string_view bytes) {
  if (bytes.empty())
    return;
  ReserveInput(bytes.size());
  std::memcpy(in_.get() + in_end_, bytes.data(), bytes.size());
  in_end_ += bytes.size();
}

std::span<char> TlsStream::PrepareInput(size_t n) {
  ReserveInput(n);
  return std::span<char>(in_.get() + in_end_, in_capacity_ - in_end_);
}

void TlsStream::CommitInput(size_t received) {
  in_end_ = std::min(in_end_ + received, in_capacity_);
}

void TlsStream::OnSocketEof() {
  socket_eof_ = true;
}

// ---- Output ----

void TlsStream::DrainCiphertextTo(std::string& out) {
  if (out_offset_ >= out_.size()) {
    out_.clear();
    out_offset_ = 0;
    return;
  }
  if (out.empty() && out_offset_ == 0) {
    out.swap(out_);  // Hand over the whole buffer; keep the owner's spare capacity.
  } else {
    out.append(out_, out_offset_, std::string::npos);
  }
  out_.clear();
  out_offset_ = 0;
}

void TlsStream::ConsumeCiphertext(size_t n) {
  out_offset_ = std::min(out_offset_ + n, out_.size());
  if (out_offset_ == out_.size()) {
    out_.clear();
    out_offset_ = 0;
  }
}

// ---- TLS ----

TlsError TlsStream::Fail(int ssl_error, bool in_handshake) {
  TlsError kind = in_handshake ? TlsError::kHandshake : TlsError::kProtocol;
  std::string message;
  if (ssl_error == SSL_ERROR_SSL) {
    const uint32_t err = ERR_peek_error();
    if (ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      const long verify = SSL_get_verify_result(ssl_);
      kind = (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH)
                 ? TlsError::kHostnameMismatch
                 : TlsError::kCertificateVerify;
      message = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
      ERR_clear_error();
    } else {
      message = (in_handshake ? "handshake failed: " : "") + tls_internal::TakeErrors("TLS error");
    }
  } else if (ssl_error == SSL_ERROR_SYSCALL && socket_eof_) {
    kind = TlsError::kUnexpectedEof;
    message = in_handshake ? "connection closed during the handshake"
                           : "connection closed without close_notify (truncated)";
    ERR_clear_error();
  } else if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    kind = TlsError::kHandshake;
    message = "peer sent close_notify during the handshake";
    ERR_clear_error();
  } else {
    kind = TlsError::kInternal;
    message = "unexpected SSL_get_error " + std::to_string(ssl_error) + ": " +
              tls_internal::TakeErrors("no details");
  }
  error_ = kind;
  error_message_ = std::move(message);
  return kind;
}

TlsStream::HandshakeStatus TlsStream::Handshake() {
  if (handshake_done_)
    return HandshakeStatus::kDone;
  if (error_ != TlsError::kNone)
    return HandshakeStatus::kError;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_done_ = true;
    return HandshakeStatus::kDone;
  }
  const int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    return HandshakeStatus::kWantIO;
  }
  Fail(err, /*in_handshake=*/true);
  return HandshakeStatus::kError;
}

TlsStream::ReadStatus TlsStream::ReadPlaintext(std::string& out) {
  if (error_ == TlsError::kUnexpectedEof)
    return ReadStatus::kAbruptEof;
  // kClosed (a write after our close_notify) does not stop the read side.
  if (error_ != TlsError::kNone && error_ != TlsError::kClosed)
    return ReadStatus::kError;
  if (peer_closed_)
    return ReadStatus::kClosed;
  if (!handshake_done_) {
    switch (Handshake()) {
      case HandshakeStatus::kDone:
        break;
      case HandshakeStatus::kWantIO:
        return ReadStatus::kWantRead;
      case HandshakeStatus::kError:
        return error_ == TlsError::kUnexpectedEof ? ReadStatus::kAbruptEof : ReadStatus::kError;
    }
  }
  bool got = false;
  for (;;) {
    const size_t old = out.size();
    out.resize(old + kReadChunk);
    ERR_clear_error();
    const int n = SSL_read(ssl_, out.data() + old, static_cast<int>(kReadChunk));
    if (n > 0) {
      out.resize(old + static_cast<size_t>(n));
      got = true;
      continue;
    }
    out.resize(old);
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      return got ? ReadStatus::kData : ReadStatus::kWantRead;
    }
    ReadStatus end;
    if (err == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      end = ReadStatus::kClosed;
    } else {
      end = Fail(err, /*in_handshake=*/false) == TlsError::kUnexpectedEof ? ReadStatus::kAbruptEof
                                                                          : ReadStatus::kError;
    }
    // The end is remembered (peer_closed_ / error_) and reported by the next call.
    return got ? ReadStatus::kData : end;
  }
}

bool TlsStream::WritePlaintext(std::string_view plaintext) {
  if (error_ != TlsError::kNone && error_ != TlsError::kClosed)
    return false;
  if (shutdown_sent_) {
    error_ = TlsError::kClosed;
    error_message_ = "write after close_notify was sent";
    return false;
  }
  if (!handshake_done_) {
    error_ = TlsError::kInternal;
    error_message_ = "write before the handshake finished";
    return false;
  }
  while (!plaintext.empty()) {
    const int len = static_cast<int>(std::min<size_t>(plaintext.size(), INT_MAX / 2));
    ERR_clear_error();
    const int n = SSL_write(ssl_, plaintext.data(), len);
    if (n <= 0) {
      Fail(SSL_get_error(ssl_, n), /*in_handshake=*/false);
      return false;
    }
    plaintext.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void TlsStream::Shutdown() {
  if (shutdown_sent_)
    return;
  shutdown_sent_ = true;
  // Before the handshake there is nothing to close; after a fatal error the alert is out already.
  if (!handshake_done_ || error_ != TlsError::kNone)
    return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // Sends close_notify; we do not wait for the peer's.
  ERR_clear_error();
}

// ---- State ----

bool TlsStream::session_reused() const {
  return SSL_session_reused(ssl_) == 1;
}

std::string_view TlsStream::alpn() const {
  const uint8_t* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return data == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(data), len);
}

long TlsStream::verify_result() const {
  return SSL_get_verify_result(ssl_);
}

Status TlsStream::status() const {
  if (error_ == TlsError::kNone)
    return Status::Ok();
  return Status::Error(std::string("TLS ") + TlsErrorName(error_) + ": " + error_message_);
}

}  // namespace ringgate
