#include "ringgate/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "tls_internal.h"

namespace ringgate {

namespace tls_internal {

std::string TakeErrors(const char* fallback) {
  std::string out;
  while (uint32_t err = ERR_get_error()) {
    if (!out.empty())
      out += "; ";
    const char* reason = ERR_reason_error_string(err);
    const char* lib = ERR_lib_error_string(err);
    out += reason != nullptr ? reason : "unknown reason";
    if (lib != nullptr) {
      out += " (";
      out += lib;
      out += ")";
    }
  }
  return out.empty() ? std::string(fallback) : out;
}

}  // namespace tls_internal

namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// "cannot read CA file '/x': No such file or directory" when the file is not readable.
Status CheckReadable(const std::string& path, const char* what) {
  if (path.empty())
    return Status::Error(std::string(what) + " file: no path given");
  if (::access(path.c_str(), R_OK) != 0) {
    int err = errno;
    return Status::Error(
        "cannot read " + std::string(what) + " file '" + path + "': " + std::strerror(err), err);
  }
  return Status::Ok();
}

Result<std::string> AlpnWire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) {
      return Status::Error("ALPN protocol names must be 1 to 255 bytes: '" + p + "'");
    }
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

Status SetVersions(SSL_CTX* ctx, TlsVersion min, TlsVersion max) {
  if (static_cast<uint16_t>(min) > static_cast<uint16_t>(max)) {
    return Status::Error("TLS minimum version is above the maximum");
  }
  if (!SSL_CTX_set_min_proto_version(ctx, static_cast<uint16_t>(min)) ||
      !SSL_CTX_set_max_proto_version(ctx, static_cast<uint16_t>(max))) {
    return Status::Error("cannot set TLS versions: " + tls_internal::TakeErrors("unsupported"));
  }
  return Status::Ok();
}

Status LoadCaFile(SSL_CTX* ctx, const std::string& path, const char* what) {
  if (Status s = CheckReadable(path, what); !s.ok())
    return s;
  ERR_clear_error();
  if (!SSL_CTX_load_verify_locations(ctx, path.c_str(), nullptr)) {
    return Status::Error("bad PEM in " + std::string(what) + " file '" + path +
                         "': " + tls_internal::TakeErrors("no certificates loaded"));
  }
  return Status::Ok();
}

// The server's ALPN preference list (wire format) hangs off the SSL_CTX as ex_data, so it lives
// exactly as long as the SSL_CTX, which the SSL objects keep alive past the TlsContext.
void FreeAlpnList(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*index*/, long /*argl*/,
                  void* /*argp*/) {
  delete static_cast<std::string*>(ptr);
}

int AlpnListIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeAlpnList);
  return index;
}

// Server ALPN: the first protocol of ours (in our order of preference) that the client offers.
int SelectAlpn(SSL* ssl, const uint8_t** out, uint8_t* out_len, const uint8_t* in, unsigned in_len,
               void* /*arg*/) {
  const auto* list =
      static_cast<const std::string*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), AlpnListIndex()));
  if (list == nullptr)
    return SSL_TLSEXT_ERR_NOACK;
  const std::string& ours = *list;
  for (size_t i = 0; i < ours.size(); i += 1 + static_cast<uint8_t>(ours[i])) {
    const auto len = static_cast<uint8_t>(ours[i]);
    const char* name = ours.data() + i + 1;
    for (unsigned j = 0; j < in_len; j += 1u + in[j]) {
      if (in[j] == len && j + 1 + len <= in_len && std::memcmp(in + j + 1, name, len) == 0) {
        *out = in + j + 1;
        *out_len = len;
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  // No common protocol: carry on without ALPN (HTTP/1.1 is the default anyway).
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

Result<std::unique_ptr<TlsContext>> TlsContext::NewClient(const TlsClientOptions& options) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (ctx == nullptr)
    return Status::Error("SSL_CTX_new failed");
  if (Status s = SetVersions(ctx.get(), options.min_version, options.max_version); !s.ok()) {
    return s;
  }
  if (options.ca_bundle_file.empty() && options.extra_ca_file.empty()) {
    return Status::Error("TLS client needs trusted roots: no CA bundle and no extra CA file");
  }
  if (!options.ca_bundle_file.empty()) {
    if (Status s = LoadCaFile(ctx.get(), options.ca_bundle_file, "CA bundle"); !s.ok())
      return s;
  }
  if (!options.extra_ca_file.empty()) {
    if (Status s = LoadCaFile(ctx.get(), options.extra_ca_file, "extra CA"); !s.ok())
      return s;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);

  Result<std::string> alpn = AlpnWire(options.alpn);
  if (!alpn.ok())
    return alpn.status();
  // SSL_CTX_set_alpn_protos returns 0 on success.
  if (!alpn->empty() &&
      SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const uint8_t*>(alpn->data()),
                              alpn->size()) != 0) {
    return Status::Error("cannot set ALPN: " + tls_internal::TakeErrors("failed"));
  }

  // BoringSSL has no internal client cache: this only turns on the new-session callback.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
  SSL_CTX_sess_set_new_cb(ctx.get(), tls_internal::OnNewClientSession);

  std::unique_ptr<TlsContext> out(new TlsContext(ctx.release(), /*is_server=*/false));
  out->alpn_wire_ = std::move(*alpn);
  return out;
}

Result<std::unique_ptr<TlsContext>> TlsContext::NewServer(const TlsServerOptions& options) {
  ERR_clear_error();
  if (Status s = CheckReadable(options.cert_chain_file, "certificate chain"); !s.ok())
    return s;
  if (Status s = CheckReadable(options.key_file, "private key"); !s.ok())
    return s;
  SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (ctx == nullptr)
    return Status::Error("SSL_CTX_new failed");
  if (Status s = SetVersions(ctx.get(), options.min_version, options.max_version); !s.ok()) {
    return s;
  }
  if (!SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_chain_file.c_str())) {
    return Status::Error("bad PEM in certificate chain file '" + options.cert_chain_file +
                         "': " + tls_internal::TakeErrors("no certificate"));
  }
  if (!SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM)) {
    const uint32_t err = ERR_peek_last_error();
    if (ERR_GET_LIB(err) == ERR_LIB_X509 && ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return Status::Error("private key '" + options.key_file +
                           "' does not match the certificate in '" + options.cert_chain_file + "'");
    }
    return Status::Error("bad PEM in private key file '" + options.key_file +
                         "': " + tls_internal::TakeErrors("no key"));
  }
  if (!SSL_CTX_check_private_key(ctx.get())) {
    ERR_clear_error();
    return Status::Error("private key '" + options.key_file +
                         "' does not match the certificate in '" + options.cert_chain_file + "'");
  }
  if (options.num_tickets >= 0 &&
      !SSL_CTX_set_num_tickets(ctx.get(), static_cast<size_t>(options.num_tickets))) {
    return Status::Error("cannot set the number of TLS 1.3 tickets");
  }

  Result<std::string> alpn = AlpnWire(options.alpn);
  if (!alpn.ok())
    return alpn.status();
  if (!alpn->empty()) {
    auto* list = new std::string(*alpn);
    if (AlpnListIndex() < 0 || !SSL_CTX_set_ex_data(ctx.get(), AlpnListIndex(), list)) {
      delete list;
      return Status::Error("cannot attach the ALPN list to the TLS context");
    }
    SSL_CTX_set_alpn_select_cb(ctx.get(), SelectAlpn, nullptr);
  }

  std::unique_ptr<TlsContext> out(new TlsContext(ctx.release(), /*is_server=*/true));
  out->alpn_wire_ = std::move(*alpn);
  return out;
}

}  // namespace ringgate
