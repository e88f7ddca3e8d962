// transport internals: frame flag bits and helpers shared by the codec and the connections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace sessiond::transport {

inline constexpr uint32_t kFrameMagic = 0x53534E44;  // "SSND"
inline constexpr uint8_t kFrameVersion = 1;

inline constexpr uint8_t kFlagEncrypted = 0x01;
inline constexpr uint8_t kFlagAckRequested = 0x02;  // the handler's Reply answers it
inline constexpr uint8_t kFlagReply = 0x04;
inline constexpr uint8_t kFlagAuthenticated = 0x08;
inline constexpr uint8_t kFlagReceiptAck = 0x10;    // the receiving transport acks on receipt
inline constexpr uint8_t kFlagError = 0x20;         // a reply whose body is u8 code + message
inline constexpr uint8_t kKnownFlags = 0x3F;

inline constexpr uint16_t kHelloType = 0x0001;

inline constexpr size_t kGcmNonceBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

/// The whole size of the frame that starts `bytes` once its header is complete (nullopt when
/// fewer than kFrameHeaderBytes are there or the length is over the limit) — lets a reader size
/// its buffer for a large frame in one step.
std::optional<size_t> FrameTotalSize(std::string_view bytes);

}  // namespace sessiond::transport
