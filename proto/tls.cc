#include "proto/tls.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"

namespace v2p {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  if (in) bytes << in.rdbuf();
  if (!in || bytes.str().empty())
    return absl::NotFoundError(absl::StrCat("cannot read the ", what, " ", path));
  return bytes.str();
}

// The certificate chain and private key files.
absl::StatusOr<std::pair<std::string, std::string>> ReadPair(const TlsFiles& files) {
  absl::StatusOr<std::string> cert = ReadPem(files.cert, "certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(files.key, "private key");
  if (!key.ok()) return key.status();
  return std::make_pair(*std::move(cert), *std::move(key));
}

absl::Status CheckPair(const TlsFiles& files) {
  if (files.cert.empty() != files.key.empty())
    return absl::InvalidArgumentError("TLS: give both the certificate and its key, or neither");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsFiles& files) {
  if (absl::Status s = CheckPair(files); !s.ok()) return s;
  if (files.cert.empty()) {
    if (!files.ca.empty())
      return absl::InvalidArgumentError("TLS: a client CA needs the server's certificate and key");
    return grpc::InsecureServerCredentials();
  }
  grpc::SslServerCredentialsOptions options;
  auto pem = ReadPair(files);
  if (!pem.ok()) return pem.status();
  options.pem_key_cert_pairs.push_back({pem->second, pem->first});  // {private_key, cert_chain}
  if (!files.ca.empty()) {
    absl::StatusOr<std::string> ca = ReadPem(files.ca, "client CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *std::move(ca);
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsFiles& files) {
  if (absl::Status s = CheckPair(files); !s.ok()) return s;
  if (files.ca.empty()) {
    if (!files.cert.empty())
      return absl::InvalidArgumentError("TLS: a client certificate needs the CA to trust");
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions options;
  absl::StatusOr<std::string> ca = ReadPem(files.ca, "CA");
  if (!ca.ok()) return ca.status();
  options.pem_root_certs = *std::move(ca);
  if (!files.cert.empty()) {
    auto pem = ReadPair(files);
    if (!pem.ok()) return pem.status();
    options.pem_cert_chain = pem->first;
    options.pem_private_key = pem->second;
  }
  return grpc::SslCredentials(options);
}

}  // namespace v2p
