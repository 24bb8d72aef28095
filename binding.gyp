# Builds the TUN/TAP addon (native/tun.cc) that src/tun/linux.ts loads, the batched UDP addon
# (native/udp.cc, with the receive path of native/fast-receive.h) that src/net/udp-transport.ts
# loads, and the AES record AEAD (native/aead.cc, against the OpenSSL Node carries) that
# src/dtls/cipher/native-aead.ts loads; `npm install` runs it
# through node-gyp against the local Node headers, offline.
{
  "targets": [
    {
      "target_name": "meshboi_tun",
      "sources": ["native/tun.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "conditions": [["OS!='linux'", {"type": "none", "sources!": ["native/tun.cc"]}]]
    },
    {
      "target_name": "meshboi_udp",
      "sources": ["native/udp.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"],
      "conditions": [["OS!='linux'", {"type": "none", "sources!": ["native/udp.cc"]}]]
    },
    {
      "target_name": "meshboi_aead",
      "sources": ["native/aead.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
