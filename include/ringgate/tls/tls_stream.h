// TlsStream: one TLS connection as a pure byte transformer. No sockets, no reactor: the owner
// moves ciphertext between the socket and the stream, and plaintext between the stream and its
// protocol code.
//
//   socket --recv--> FeedCiphertext / PrepareInput+CommitInput --> [SSL] --> ReadPlaintext(out)
//   socket <--send-- DrainCiphertextTo(out) / PendingCiphertext  <-- [SSL] <-- WritePlaintext(in)
//
// BoringSSL talks to a custom BIO: its reads drain our input buffer and its writes append to our
// output buffer, so there is no BIO-pair copy.
//
// Rules for the owner:
//  - After every call (Handshake, ReadPlaintext, WritePlaintext, Shutdown) flush the pending
//    ciphertext to the socket before waiting for input; otherwise handshakes deadlock. Reads may
//    produce output too (TLS 1.3 key updates, alerts).
//  - kWantIO / kWantRead mean "flush, then feed more ciphertext". Writes never block: the output
//    buffer takes everything.
//  - When the socket reports EOF call OnSocketEof(); a stream that ends without close_notify is
//    then reported as kAbruptEof (truncation), one with close_notify as kClosed.
//  - Call WritePlaintext once per batch (coalesce), not once per small piece: each call ends in at
//    least one record (22 bytes of overhead for TLS 1.3 plus one AEAD call).
//
// Not thread-safe; one stream belongs to one core. Not movable (BoringSSL holds its address).
#pragma once

#include <openssl/base.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ringgate/common/result.h"

namespace ringgate {

class TlsContext;
class TlsSessionCache;

enum class TlsError : uint8_t {
  kNone,
  kCertificateVerify,  // the peer's chain did not verify (unknown CA, expired, bad signature...)
  kHostnameMismatch,   // the chain verified but the certificate is not for the host we asked
  kHandshake,          // any other handshake failure (peer alert, no shared version/cipher/ALPN)
  kProtocol,           // a failure after the handshake (bad record, peer alert)
  kUnexpectedEof,      // the socket ended without close_notify (truncation)
  kClosed,             // WritePlaintext after Shutdown (the read side keeps working)
  kInternal,           // allocation failure or misuse
};

// "certificate verify", "hostname mismatch", ...: stable names for logs and metrics.
const char* TlsErrorName(TlsError error);

class TlsStream {
 public:
  enum class HandshakeStatus { kDone, kWantIO, kError };
  enum class ReadStatus {
    kData,       // bytes were appended; process them and call again
    kWantRead,   // nothing more decryptable: flush output, then feed more ciphertext
    kClosed,     // the peer sent close_notify (clean end of stream)
    kAbruptEof,  // OnSocketEof() and the stream ended without close_notify (truncation)
    kError,      // see error() / error_message()
  };

  // A client for `host` (SNI + certificate name check; an IP literal is checked as an IP and sent
  // without SNI). With a cache, it offers a cached session for "host:port" and stores the sessions
  // the server issues. The cache must outlive the stream.
  static Result<std::unique_ptr<TlsStream>> Client(TlsContext& ctx, std::string_view host,
                                                   TlsSessionCache* cache, uint16_t port = 443);
  static Result<std::unique_ptr<TlsStream>> Server(TlsContext& ctx);

  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // ---- Ciphertext from the socket ----
  // Copies bytes read from the socket into the input buffer.
  void FeedCiphertext(std::string_view bytes);
  // Zero-copy alternative: receive straight into the input buffer. PrepareInput returns at least
  // `n` writable bytes that stay put until CommitInput(received) (0 to cancel); call nothing else
  // on the stream in between.
  std::span<char> PrepareInput(size_t n);
  void CommitInput(size_t received);
  // The socket reached EOF (recv returned 0 or the connection was reset).
  void OnSocketEof();
  size_t buffered_ciphertext() const { return in_end_ - in_begin_; }

  // ---- Ciphertext for the socket ----
  // Appends all pending ciphertext to `out` and clears it (swaps buffers when `out` is empty).
  // The preferred way out, straight into an OutputQueue's pending buffer:
  //   queue.AppendWith([&](std::string& s) { tls.DrainCiphertextTo(s); });
  void DrainCiphertextTo(std::string& out);
  // A view of the pending ciphertext. It is invalidated by the next call that may produce output
  // (Handshake, ReadPlaintext, WritePlaintext, Shutdown): an owner that keeps a send in flight
  // across such calls must copy, or use DrainCiphertextTo. ConsumeCiphertext(n) drops the first
  // n bytes once the socket took them and does not move the rest.
  std::string_view PendingCiphertext() const { return std::string_view(out_).substr(out_offset_); }
  void ConsumeCiphertext(size_t n);
  bool has_pending_ciphertext() const { return out_offset_ < out_.size(); }

  // ---- TLS ----
  // Advances the handshake with the buffered input. kWantIO: flush output, feed more input.
  HandshakeStatus Handshake();
  // Appends every decryptable byte to `out`. Runs the handshake first if it is not done.
  ReadStatus ReadPlaintext(std::string& out);
  // Encrypts all of `plaintext` into the output buffer. False on error (see error()); requires
  // a finished handshake.
  bool WritePlaintext(std::string_view plaintext);
  // Queues close_notify (once). The owner flushes it and may then close the socket.
  void Shutdown();

  // ---- State ----
  bool is_server() const { return is_server_; }
  bool handshake_done() const { return handshake_done_; }
  bool session_reused() const;
  // The negotiated ALPN protocol, empty if none.
  std::string_view alpn() const;
  // The X509_V_* result of verifying the peer (0 = X509_V_OK); meaningful on clients.
  long verify_result() const;
  bool peer_closed() const { return peer_closed_; }
  bool shutdown_sent() const { return shutdown_sent_; }
  TlsError error() const { return error_; }
  // "certificate verify failed: unable to get local issuer certificate", ...
  const std::string& error_message() const { return error_message_; }
  // The error as a Status: "TLS <name>: <message>" (OK when there is none).
  Status status() const;
  SSL* native() const { return ssl_; }

 private:
  friend struct TlsStreamAccess;

  TlsStream(SSL* ssl, bool is_server);
  // Sets error_/error_message_ from SSL_get_error and the error queue. Returns the category.
  TlsError Fail(int ssl_error, bool in_handshake);
  void ReserveInput(size_t n);

  SSL* ssl_;
  bool is_server_;
  bool handshake_done_ = false;
  bool socket_eof_ = false;
  bool peer_closed_ = false;
  bool shutdown_sent_ = false;
  TlsError error_ = TlsError::kNone;
  std::string error_message_;

  // Input: [in_begin_, in_end_) of in_ holds unread ciphertext.
  std::unique_ptr<char[]> in_;
  size_t in_capacity_ = 0;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;

  // Output: out_[out_offset_, size) is pending ciphertext.
  std::string out_;
  size_t out_offset_ = 0;

  TlsSessionCache* cache_ = nullptr;
  std::string cache_key_;
};

}  // namespace ringgate
