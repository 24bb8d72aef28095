// AES-128-GCM and AES-128-CCM-8 record sealing for src/dtls/cipher/native-aead.ts: one native call
// per record through the OpenSSL inside Node, with the key scheduled once per epoch. node:crypto
// costs a cipher object and five calls per record; the TypeScript engine (NodeAead) stays the
// reference, and test/dtls/native-aead.test.ts holds both to the same bytes.
#include <napi.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>
#include <string>

namespace {

constexpr int kNonceLength = 12;
constexpr size_t kKeyLength = 16;

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

// new AesAead(kind: 'aes-128-gcm' | 'aes-128-ccm-8', key: Uint8Array)
//   seal(nonce, aad, plaintext, out): writes ciphertext then tag at the start of `out` (which may
//     be the plaintext itself); throws only if OpenSSL fails, which a valid key never makes it do.
//   open(nonce, aad, sealed, out) -> plaintext length, or -1 when the tag does not verify.
class AesAead : public Napi::ObjectWrap<AesAead> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "AesAead", {InstanceMethod<&AesAead::Seal>("seal"), InstanceMethod<&AesAead::Open>("open")});
  }

  explicit AesAead(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AesAead>(info) {
    Napi::Env env = info.Env();
    std::string kind = info[0].As<Napi::String>().Utf8Value();
    Napi::Uint8Array key = info[1].As<Napi::Uint8Array>();
    if (kind != "aes-128-gcm" && kind != "aes-128-ccm-8") {
      Napi::TypeError::New(env, "unknown AEAD " + kind + ": use aes-128-gcm or aes-128-ccm-8").ThrowAsJavaScriptException();
      return;
    }
    if (key.ByteLength() != kKeyLength) {
      Napi::RangeError::New(env, kind + " needs a 16-byte key").ThrowAsJavaScriptException();
      return;
    }
    ccm_ = kind == "aes-128-ccm-8";
    tagLength_ = ccm_ ? 8 : 16;
    memcpy(key_, key.Data(), kKeyLength);
    encrypt_.reset(EVP_CIPHER_CTX_new());
    decrypt_.reset(EVP_CIPHER_CTX_new());
    // GCM schedules the key here once; each record then sets only its nonce. CCM binds the tag
    // length and message length to each init, so it re-keys per record (see Begin).
    if (!encrypt_ || !decrypt_ || (!ccm_ && (!Init(encrypt_.get(), 1, key_, nullptr) || !Init(decrypt_.get(), 0, key_, nullptr)))) {
      Napi::Error::New(env, "OpenSSL could not set up " + kind).ThrowAsJavaScriptException();
    }
  }

  ~AesAead() override { OPENSSL_cleanse(key_, sizeof(key_)); }

 private:
  bool Init(EVP_CIPHER_CTX* ctx, int encrypt, const uint8_t* key, const uint8_t* nonce) {
    const EVP_CIPHER* cipher = ccm_ ? EVP_aes_128_ccm() : EVP_aes_128_gcm();
    if (EVP_CipherInit_ex(ctx, cipher, nullptr, nullptr, nullptr, encrypt) != 1) return false;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, kNonceLength, nullptr) != 1) return false;
    return EVP_CipherInit_ex(ctx, nullptr, nullptr, key, nonce, encrypt) == 1;
  }

  // Readies `ctx` for one record: its nonce, for CCM its tag (expected, when opening) and length,
  // then the additional data.
  bool Begin(EVP_CIPHER_CTX* ctx, int encrypt, const uint8_t* nonce, const Napi::Uint8Array& aad, size_t length, uint8_t* tag) {
    int out = 0;
    if (ccm_) {
      const EVP_CIPHER* cipher = EVP_aes_128_ccm();
      if (EVP_CipherInit_ex(ctx, cipher, nullptr, nullptr, nullptr, encrypt) != 1) return false;
      if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, kNonceLength, nullptr) != 1) return false;
      if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tagLength_, encrypt ? nullptr : tag) != 1) return false;
      if (EVP_CipherInit_ex(ctx, nullptr, nullptr, key_, nonce, encrypt) != 1) return false;
      if (EVP_CipherUpdate(ctx, nullptr, &out, nullptr, static_cast<int>(length)) != 1) return false;
    } else if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, nonce, encrypt) != 1) {
      return false;
    }
    return aad.ByteLength() == 0 || EVP_CipherUpdate(ctx, nullptr, &out, aad.Data(), static_cast<int>(aad.ByteLength())) == 1;
  }

  void Seal(const Napi::CallbackInfo& info) {
    Napi::Uint8Array nonce = info[0].As<Napi::Uint8Array>();
    Napi::Uint8Array aad = info[1].As<Napi::Uint8Array>();
    Napi::Uint8Array plaintext = info[2].As<Napi::Uint8Array>();
    Napi::Uint8Array out = info[3].As<Napi::Uint8Array>();
    size_t length = plaintext.ByteLength();
    EVP_CIPHER_CTX* ctx = encrypt_.get();
    int written = 0;
    int finished = 0;
    // CCM computes its tag in the update, so an empty record needs one too, with real pointers.
    uint8_t empty = 0;
    const uint8_t* input = length == 0 ? &empty : plaintext.Data();
    uint8_t* output = length == 0 ? &empty : out.Data();
    bool ok = nonce.ByteLength() == kNonceLength && out.ByteLength() >= length + tagLength_ &&
              Begin(ctx, 1, nonce.Data(), aad, length, nullptr) &&
              EVP_EncryptUpdate(ctx, output, &written, input, static_cast<int>(length)) == 1 &&
              EVP_EncryptFinal_ex(ctx, out.Data() + written, &finished) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, tagLength_, out.Data() + length) == 1;
    if (!ok) Napi::Error::New(info.Env(), "sealing a record failed inside OpenSSL").ThrowAsJavaScriptException();
    (void)finished;
  }

  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Uint8Array nonce = info[0].As<Napi::Uint8Array>();
    Napi::Uint8Array aad = info[1].As<Napi::Uint8Array>();
    Napi::Uint8Array sealed = info[2].As<Napi::Uint8Array>();
    Napi::Uint8Array out = info[3].As<Napi::Uint8Array>();
    if (sealed.ByteLength() < static_cast<size_t>(tagLength_) || nonce.ByteLength() != kNonceLength) return Napi::Number::New(env, -1);
    size_t length = sealed.ByteLength() - tagLength_;
    if (out.ByteLength() < length) return Napi::Number::New(env, -1);
    // Copied first: when opening in place, the plaintext overwrites nothing past the ciphertext,
    // but OpenSSL must hold the expected tag before CCM's single pass.
    uint8_t tag[16];
    memcpy(tag, sealed.Data() + length, tagLength_);
    EVP_CIPHER_CTX* ctx = decrypt_.get();
    int written = 0;
    int finished = 0;
    bool ok = Begin(ctx, 0, nonce.Data(), aad, length, tag);
    if (ok && !ccm_) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, tagLength_, tag) == 1;
    // CCM checks the tag inside its one update, GCM in final; either way a mismatch is -1.
    uint8_t empty = 0;
    uint8_t* output = length == 0 ? &empty : out.Data();
    if (ok) ok = EVP_DecryptUpdate(ctx, output, &written, length == 0 ? &empty : sealed.Data(), static_cast<int>(length)) == 1;
    if (ok && !ccm_) ok = EVP_DecryptFinal_ex(ctx, output + written, &finished) == 1;
    (void)finished;
    if (!ok) {
      // No unauthenticated plaintext is left behind.
      memset(output, 0, length);
      return Napi::Number::New(env, -1);
    }
    return Napi::Number::New(env, static_cast<double>(length));
  }

  bool ccm_ = false;
  int tagLength_ = 16;
  uint8_t key_[kKeyLength] = {};
  Ctx encrypt_;
  Ctx decrypt_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("AesAead", AesAead::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(meshboi_aead, Init)
