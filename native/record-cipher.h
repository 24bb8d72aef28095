// One direction of one epoch of a DTLS 1.2 session, in native code: ChaCha20-Poly1305 (RFC 7905)
// or AES-128-GCM (RFC 5288) records sealed and opened in place through the OpenSSL inside Node,
// with the keys the TypeScript DTLS engine hands over. src/dtls/record/protection.ts is the
// reference; test/net/native-receive.test.ts and test/tun/native-send.test.ts hold both to the same bytes.
#pragma once

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include <cstdint>
#include <memory>
#include <string>

namespace record {

constexpr size_t kHeader = 13;
constexpr size_t kTag = 16;
constexpr size_t kMaxPlaintext = 16384;
constexpr uint64_t kMaxSequence = (uint64_t{1} << 48) - 1;
constexpr uint8_t kApplicationData = 23;

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

class Cipher {
 public:
  ~Cipher() { OPENSSL_cleanse(iv_, sizeof(iv_)); }

  // kind: "chacha20-poly1305" (32-byte key, 12-byte IV) or "aes-128-gcm" (16-byte key, 4-byte
  // salt); false for anything else.
  bool Init(const std::string& kind, bool encrypt, const uint8_t* key, size_t keyLength, const uint8_t* iv, size_t ivLength) {
    bool chacha = kind == "chacha20-poly1305";
    if ((!chacha && kind != "aes-128-gcm") || keyLength != (chacha ? 32u : 16u) || ivLength != (chacha ? 12u : 4u)) return false;
    ctx_.reset(EVP_CIPHER_CTX_new());
    encrypt_ = encrypt ? 1 : 0;
    EVP_CIPHER_CTX* ctx = ctx_.get();
    if (ctx == nullptr || EVP_CipherInit_ex(ctx, chacha ? EVP_chacha20_poly1305() : EVP_aes_128_gcm(), nullptr, nullptr, nullptr, encrypt_) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, 12, nullptr) != 1 ||
        EVP_CipherInit_ex(ctx, nullptr, nullptr, key, nullptr, encrypt_) != 1) {
      return false;
    }
    explicitNonce_ = !chacha;
    memcpy(iv_, iv, ivLength);
    return true;
  }

  // Bytes a record adds to its plaintext after the header: the explicit nonce and the tag.
  size_t Expansion() const { return (explicitNonce_ ? 8 : 0) + kTag; }

  // Writes a whole application_data record for `plaintext` at `out` (room for kHeader +
  // Expansion() + length; `plaintext` may not overlap it) and returns its length, or 0 if OpenSSL failed.
  size_t Seal(uint16_t epoch, uint64_t sequence, const uint8_t* plaintext, size_t length, uint8_t* out) {
    size_t fragment = length + Expansion();
    out[0] = kApplicationData;
    out[1] = 0xfe;
    out[2] = 0xfd;
    out[3] = static_cast<uint8_t>(epoch >> 8);
    out[4] = static_cast<uint8_t>(epoch);
    for (int i = 0; i < 6; i++) out[5 + i] = static_cast<uint8_t>(sequence >> (8 * (5 - i)));
    out[11] = static_cast<uint8_t>(fragment >> 8);
    out[12] = static_cast<uint8_t>(fragment);
    // The header's epoch+sequence is the 8-byte explicit nonce AES-GCM carries.
    if (explicitNonce_) memcpy(out + kHeader, out + 3, 8);
    uint8_t* text = out + kHeader + (explicitNonce_ ? 8 : 0);
    EVP_CIPHER_CTX* ctx = ctx_.get();
    int written = 0;
    int finished = 0;
    uint8_t empty = 0;
    bool ok = Begin(out, length) &&
              (length == 0 || EVP_EncryptUpdate(ctx, text, &written, plaintext, static_cast<int>(length)) == 1) &&
              EVP_EncryptFinal_ex(ctx, length == 0 ? &empty : text + written, &finished) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTag, text + length) == 1;
    return ok ? kHeader + fragment : 0;
  }

  // Opens the record at `record` (a checked header, `fragment` bytes after it) in place. Returns the
  // plaintext's length, with *plaintext pointing at it, or -1 when the tag does not verify (the
  // ciphertext is then zeroed, so no unauthenticated plaintext is left behind).
  long Open(uint8_t* record, size_t fragment, uint8_t** plaintext) {
    size_t length = fragment - Expansion();
    uint8_t* text = record + kHeader + (explicitNonce_ ? 8 : 0);
    uint8_t tag[kTag];
    memcpy(tag, text + length, kTag);
    EVP_CIPHER_CTX* ctx = ctx_.get();
    int written = 0;
    int finished = 0;
    uint8_t empty = 0;
    bool ok = Begin(record, length) &&
              (length == 0 || EVP_DecryptUpdate(ctx, text, &written, text, static_cast<int>(length)) == 1) &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTag, tag) == 1 &&
              EVP_DecryptFinal_ex(ctx, length == 0 ? &empty : text + written, &finished) == 1;
    if (!ok) {
      memset(text, 0, length);
      return -1;
    }
    *plaintext = text;
    return static_cast<long>(length);
  }

 private:
  // Starts sealing or opening the record at `header`, whose plaintext is `length` bytes: sets its
  // nonce (AES: salt + the record's explicit 8 bytes; ChaCha20: IV XOR epoch+sequence) and feeds its
  // additional data (epoch+sequence, type, version, plaintext length).
  bool Begin(const uint8_t* header, size_t length) {
    uint8_t nonce[12];
    uint8_t aad[13];
    if (explicitNonce_) {
      memcpy(nonce, iv_, 4);
      memcpy(nonce + 4, header + kHeader, 8);
    } else {
      memcpy(nonce, iv_, 12);
      for (int i = 0; i < 8; i++) nonce[4 + i] ^= header[3 + i];
    }
    memcpy(aad, header + 3, 8);
    memcpy(aad + 8, header, 3);
    aad[11] = static_cast<uint8_t>(length >> 8);
    aad[12] = static_cast<uint8_t>(length);
    EVP_CIPHER_CTX* ctx = ctx_.get();
    int written = 0;
    return EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce, encrypt_) == 1 &&
           EVP_CipherUpdate(ctx, nullptr, &written, aad, sizeof(aad)) == 1;
  }

  std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter> ctx_;
  int encrypt_ = 0;
  bool explicitNonce_ = false;
  uint8_t iv_[12] = {};
};

}  // namespace record
