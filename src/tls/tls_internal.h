// Private to src/tls/: helpers shared by the context and the stream.
#pragma once

#include <openssl/base.h>

#include <string>

namespace ringgate::tls_internal {

// Empties this thread's BoringSSL error queue into "REASON (lib); REASON (lib)". Returns
// `fallback` when the queue was empty.
std::string TakeErrors(const char* fallback);

// SSL_CTX new-session callback for client contexts: hands the session to the cache of the
// TlsStream that owns `ssl`. Defined in tls_stream.cc.
int OnNewClientSession(SSL* ssl, SSL_SESSION* session);

}  // namespace ringgate::tls_internal
