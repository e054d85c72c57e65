// Internals shared by the x509 files of core/net (x509.cpp, pem.cpp, hostname.cpp, verify.cpp):
// RAII holders for OpenSSL objects and the certificate-reading helpers more than one of them
// uses. Not a public header: only those files include it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "core/util/owned.h"

namespace kp::core::detail {

// ---- RAII holders for the OpenSSL objects the x509 files create ----

using BioDeleter = core::FreeWith<BIO_free>;
using X509Deleter = core::FreeWith<X509_free>;
using PkeyDeleter = core::FreeWith<EVP_PKEY_free>;
using StoreDeleter = core::FreeWith<X509_STORE_free>;
using StoreCtxDeleter = core::FreeWith<X509_STORE_CTX_free>;
// Frees the stack only: the certificates in it belong to Certificate objects.
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * stack) const noexcept { sk_X509_free(stack); }
};
using GeneralNamesDeleter = core::FreeWith<GENERAL_NAMES_free>;
using EkuDeleter = core::FreeWith<EXTENDED_KEY_USAGE_free>;
using BasicConstraintsDeleter = core::FreeWith<BASIC_CONSTRAINTS_free>;
using BignumDeleter = core::FreeWith<BN_free>;
struct OpensslFree {  // OPENSSL_free is a macro
  void operator()(void* p) const noexcept { OPENSSL_free(p); }
};

using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using StorePtr = std::unique_ptr<X509_STORE, StoreDeleter>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, StoreCtxDeleter>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesDeleter>;
using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, EkuDeleter>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, BasicConstraintsDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;
template <class T>
using OpensslPtr = std::unique_ptr<T, OpensslFree>;

// ---- helpers defined in x509.cpp ----

// The earliest (most specific) reason on OpenSSL's error queue, then an empty queue, so a stale
// error never leaks into the next caller on this thread (libcurl shares the queue).
std::string openssl_reason();
// IA5String SANs are ASCII by definition; take the bytes as they are.
std::string asn1_string_bytes(const ASN1_STRING* value);
// RFC 2253, UTF-8 printed as is.
std::string name_oneline(const X509_NAME* name);
// Every value of attribute `nid` in `name`, in order, as UTF-8.
std::vector<std::string> name_entries(const X509_NAME* name, int nid);
// Seconds since the epoch; 0 for a missing or unreadable time.
std::int64_t asn1_time_unix(const ASN1_TIME* time);
// Go's net.IP.String(): dotted quad for IPv4 (also IPv4-mapped IPv6), RFC 5952 for IPv6 (the
// first longest run of two or more zero groups becomes "::").
std::string format_ip(const unsigned char* bytes, std::size_t size);
// The digest of the certificate's signature algorithm ("SHA256"), "" when it has none.
std::string signature_hash(const X509* cert);
// extKeyUsage short names ("serverAuth"), dotted OIDs for unknown ones.
std::vector<std::string> ext_key_usage(const X509* cert);

}  // namespace kp::core::detail
