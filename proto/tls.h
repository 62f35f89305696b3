// TLS for every gRPC listener and channel of the v2p processes, from PEM
// files: a server's certificate and key (and, for mutual TLS, the CA its
// clients' certificates must be signed by), a channel's trusted CA (and,
// for mutual TLS, its own certificate and key). Empty files: plaintext.
#ifndef V2P_PROTO_TLS_H_
#define V2P_PROTO_TLS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace v2p {

struct TlsFiles {
  std::string cert;  // PEM certificate chain (a server's, or a client's for mTLS)
  std::string key;   // its PEM private key
  std::string ca;    // PEM CA: a server requires client certificates signed
                     // by it; a channel trusts servers signed by it
};

// Plaintext when files.cert is empty (then key and ca must be too); TLS
// with cert and key; mutual TLS (a client without a certificate signed by
// ca is refused at the handshake) when ca is given as well.
// INVALID_ARGUMENT for a half-given pair, NOT_FOUND naming an unreadable
// file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const TlsFiles& files);

// Plaintext when files.ca is empty (then cert and key must be too); TLS
// trusting servers signed by ca; presenting cert and key when given.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(const TlsFiles& files);

}  // namespace v2p

#endif  // V2P_PROTO_TLS_H_
