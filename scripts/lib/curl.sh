# shellcheck shell=bash
# Sourced by the build scripts: the one feature set of the static libcurl every archive links
# (HTTP(S), HTTP/2 through nghttp2, OpenSSL, zlib; nothing else), as ./configure arguments.
# release.sh (linux/amd64) and scripts/platform/linux_arm64.sh add only --prefix and --host.
# shellcheck disable=SC2034
KP_CURL_CONFIGURE=(--disable-shared --enable-static --with-openssl --with-nghttp2 --with-zlib
  --without-libpsl --without-brotli --without-zstd --without-libidn2 --without-librtmp
  --without-libssh2 --without-gssapi --disable-ldap --disable-ldaps --disable-rtsp --disable-dict
  --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp
  --disable-gopher --disable-mqtt --disable-ftp --disable-manual --disable-ntlm
  --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs)
